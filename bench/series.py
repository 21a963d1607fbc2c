"""Workload 3: series latency per frame and for a 30-day hourly range, on the continuous
aggregates and on the fallback."""

import asyncio
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg

from bench.loadclient import Connection, Timings, request, total_errors
from bench.plan import SERIES_CASES, Context, series_device, series_query, span, token
from bench.stack import flask_command
from sungrow_server.db.aggregates import DROP_ORDER, views_present

STEP = timedelta(seconds=5)
PIECE = timedelta(days=30)
# Plausible, deterministic values computed from the timestamp, in bigint and float8 only
# (numeric arithmetic would take most of the time): fast to generate in SQL.
GENERATE = """
INSERT INTO sungrow_samples (device_id, ts, pv_power_w, pv_daily_kwh, battery_power_w,
    battery_soc_pct, battery_temp_c, load_power_w, export_power_w, sample_count)
SELECT %(device)s, %(start)s::timestamptz + i * INTERVAL '5 seconds',
       (e %% 86400)::float8 / 14.4, (e %% 86400)::float8 / 3600,
       (e * 7 %% 10000)::float8 - 5000, (e %% 1000)::float8 / 10, 20 + (e %% 100)::float8 / 10,
       (300 + e %% 3000)::float8, (e * 13 %% 12000)::float8 - 6000, 1
FROM generate_series(0, %(count)s - 1) AS i,
     LATERAL (SELECT %(epoch)s::bigint + 5 * i AS e) AS epoch
"""


def _insert(database_url: str, device: str, start: datetime, end: datetime) -> None:
    params = {
        "device": device,
        "start": start,
        "count": int((end - start) / STEP),
        "epoch": int(start.timestamp()),
    }
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(GENERATE, params)


def load(ctx: Context, env: dict[str, str]) -> dict:
    """Per data set, 5-second samples of its device over its days up to now; then one
    refresh of the aggregates and a vacuum."""
    url = ctx.backends.database_url
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    timings, sets = {}, []
    for days in ctx.plan.series_days:
        device, start, pieces = series_device(days), end - timedelta(days=days), []
        while start < end:
            pieces.append((start, min(start + PIECE, end)))
            start += PIECE
        started = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:  # two connections: one per core
            list(pool.map(lambda piece, device=device: _insert(url, device, *piece), pieces))
        timings[f"generate {span(days)}"] = time.perf_counter() - started
        sets.append({"days": days, "device": device})
    with psycopg.connect(url, autocommit=True) as conn:
        aggregates = bool(views_present(conn))
        for item in sets:
            item["rows"] = conn.execute(
                "SELECT count(*) FROM sungrow_samples WHERE device_id = %s", (item["device"],)
            ).fetchone()[0]
        started = time.perf_counter()
        if aggregates:
            flask_command(env, "refresh-aggregates")
        timings["refresh"] = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        timings["vacuum"] = time.perf_counter() - started
    return {"sets": sets, "aggregates": aggregates, "seconds": timings}


def drop_views(database_url: str) -> None:
    """Drop the three continuous aggregates, so that /v1/series takes its fallback."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for view in DROP_ORDER:
            conn.execute(f"DROP MATERIALIZED VIEW IF EXISTS {view} CASCADE")


def job(port: int, device: str, count: int, max_s: float, skip: set[str]) -> dict[str, dict]:
    """Load process: every case in turn from one keep-alive connection, one request at a time."""
    return asyncio.run(_frames(port, device, count, max_s, skip))


async def _frames(
    port: int, device: str, count: int, max_s: float, skip: set[str]
) -> dict[str, dict]:
    conn, found = Connection(port), {}
    today = datetime.now(UTC).date()
    for frame in SERIES_CASES:
        if frame in skip:
            continue
        query = series_query(frame, today, device)
        data = request("GET", f"/v1/series?{query}", token(device))
        timings, done = Timings(), 0
        started = time.perf_counter()
        body = await timings.timed(conn, data)  # the warm-up, counted only if it is slow
        slow = time.perf_counter() - started > max_s / 2
        if not slow:
            timings = Timings()
        while not slow and done < count and (not done or time.perf_counter() - started < max_s):
            body = await timings.timed(conn, data)
            done += 1
        buckets = len(json.loads(body)["series"]) if body else 0
        found[frame] = {**timings.summary(), "buckets": buckets, "slow": slow}
    conn.close()
    return found


def measure(ctx: Context, label: str) -> dict[int, dict[str, dict]]:
    """Per data set (by days) and case: p50 and p99 (medians of the runs), requests, errors."""
    return {days: measure_set(ctx, label, days) for days in ctx.plan.series_days}


def measure_set(ctx: Context, label: str, days: int) -> dict[str, dict]:
    """One data set's cases.

    A case whose first request takes more than half the plan's budget is measured by
    that one request, in the first run only: a minute of fallback scans would tell no more.
    """
    runs, slow, plan = [], set(), ctx.plan
    for run in range(plan.runs):
        device = series_device(days)
        runs.append(
            ctx.load.submit(
                job, ctx.server.port, device, plan.series_requests, plan.series_max_s, slow
            ).result()
        )
        slow |= {frame for frame, result in runs[-1].items() if result["slow"]}
        print(
            f"  series {label} {span(days)} run {run + 1}: "
            + ", ".join(
                f"{f} p50 {r['p50'] * 1000:.1f} ms" if r["count"] else f"{f} failed"
                for f, r in runs[-1].items()
            ),
            flush=True,
        )
    found = {}
    for frame in SERIES_CASES:
        results = [run[frame] for run in runs if frame in run]
        found[frame] = {
            "p50": statistics.median(r["p50"] for r in results),
            "p99": statistics.median(r["p99"] for r in results),
            "requests": sum(r["count"] + sum(r["errors"].values()) for r in results),
            "buckets": results[-1]["buckets"],
            "errors": total_errors(results),
            "failed_after": max((r["failed_after"] for r in results if r["errors"]), default=0),
            "slow": frame in slow,
        }
    return found
