"""Workload 2: realtime requests/s and latency for cache hits and misses, against bare Flask."""

import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg
import redis.asyncio

from bench.loadclient import Connection, CpuClock, Timings, request, samples_at, total_errors
from bench.plan import Context, realtime_devices, token
from bench.write_path import COPY_MAIN, copy_rows
from sungrow_server.testing import Gunicorn

MODES = ("bare", "bare+redis", "hit", "miss", "silent")
WARMUP_S = 1.0
SILENCE = timedelta(days=7)


def seed(database_url: str, devices: list[str], age: timedelta = timedelta(0)) -> None:
    """One stored sample per device, `age` old, so that every realtime read finds one."""
    start = datetime.now(UTC).replace(microsecond=0) - age
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        for device in devices:
            copy_rows(conn, COPY_MAIN, device, samples_at(start, 1))


def path(device: str, mode: str = "hit") -> str:
    """The realtime URL of a device (for `bare+redis`, the bare app's Redis route)."""
    route = "/v1/realtime/redis" if mode == "bare+redis" else "/v1/realtime"
    return f"{route}?device_id={device}"


def bare_body(server: Gunicorn) -> str:
    """The JSON the real server answers for the first realtime device, for the bare app."""
    device = realtime_devices()[0]
    status, body = server.get(path(device), token(device))
    if status != 200:
        raise RuntimeError(f"realtime answered {status}: {body[:200]!r}")
    return body.decode()


def newer_rows(database_url: str) -> int:
    """How many stored rows are newer than the silent devices' last sample."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        query = "SELECT count(*) FROM sungrow_samples WHERE ts > %s"
        return conn.execute(query, (datetime.now(UTC) - SILENCE,)).fetchone()[0]


def job(port: int, devices: list[str], redis_url: str | None, duration: float, mode: str) -> dict:
    """Load process: one closed loop per device; with `redis_url`, its key goes before each GET."""
    return asyncio.run(_hammer(port, devices, redis_url, duration, mode))


async def _hammer(
    port: int, devices: list[str], redis_url: str | None, duration: float, mode: str
) -> dict:
    client = redis.asyncio.from_url(redis_url) if redis_url else None
    measured, finished = Timings(), []
    warm_until = time.perf_counter() + WARMUP_S
    end = warm_until + duration

    async def loop(device: str) -> None:
        conn, warmup = Connection(port), Timings()
        data = request("GET", path(device, mode), token(device))
        while (now := time.perf_counter()) < end:
            if client is not None:
                await client.delete(f"realtime:{device}")
            await (measured if now >= warm_until else warmup).timed(conn, data)
        finished.append(time.perf_counter())
        conn.close()

    with CpuClock() as clock:
        await asyncio.gather(*(loop(device) for device in devices))
    if client is not None:
        await client.aclose()
    rate = len(measured.latencies) / (max(finished) - warm_until)
    return {"rate": rate, "cpu": clock.share, **measured.summary()}


def measure(ctx: Context) -> dict[str, dict]:
    """Per mode: requests/s, p50 and p99 (medians of the runs), and the ratio to bare."""
    newer = newer_rows(ctx.backends.database_url)
    found: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for run in range(ctx.plan.runs):
        for mode in MODES[run % len(MODES) :] + MODES[: run % len(MODES)]:
            port = ctx.bare.port if mode.startswith("bare") else ctx.server.port
            devices = realtime_devices(silent=mode == "silent")
            redis_url = ctx.backends.redis_url if mode in ("miss", "silent") else None
            future = ctx.load.submit(job, port, devices, redis_url, ctx.plan.realtime_s, mode)
            found[mode].append(future.result())
        bare = found["bare"][-1]["rate"]
        for mode in MODES:
            found[mode][-1]["ratio"] = found[mode][-1]["rate"] / bare
        print(
            f"  realtime run {run + 1}: "
            + ", ".join(f"{mode} {found[mode][-1]['rate']:,.0f} req/s" for mode in MODES),
            flush=True,
        )
    summaries = {mode: summarise(results) for mode, results in found.items()}
    summaries["silent"]["newer_rows"] = newer
    return summaries


def summarise(results: list[dict]) -> dict:
    """Medians over the runs of one mode."""
    medians = {
        key: statistics.median(result[key] for result in results)
        for key in ("rate", "p50", "p99", "ratio", "cpu")
    }
    return {
        **medians,
        "requests": sum(r["count"] for r in results),
        "errors": total_errors(results),
    }
