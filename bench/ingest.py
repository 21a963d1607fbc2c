"""Workload 1: samples/s over HTTP, against a binary COPY of the same rows in the same run."""

import asyncio
import json
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg

from bench.loadclient import (
    Connection,
    CpuClock,
    Timings,
    ingest_request,
    samples_at,
    total_errors,
)
from bench.plan import Context, ingest_devices, token
from bench.write_path import COPY_MAIN, copy_rows

BLOCK = timedelta(hours=6)  # time span of one measurement's samples per device
SIZES = (30, 1000)


def http_job(port: int, size: int, batches: int, start: datetime) -> dict:
    """Load process: each connection posts its device's batches back to back."""
    return asyncio.run(_post_all(port, size, batches, start))


async def _post_all(port: int, size: int, batches: int, start: datetime) -> dict:
    requests = []
    for device in ingest_devices():
        samples = samples_at(start, size * batches)
        chunks = [samples[i : i + size] for i in range(0, len(samples), size)]
        requests.append([ingest_request(token(device), device, chunk) for chunk in chunks])
    timings = Timings()

    def all_new(body: bytes) -> bool:
        return json.loads(body) == {"inserted": size}

    async def client(payloads: list[bytes]) -> None:
        conn = Connection(port)
        for data in payloads:
            await timings.timed(conn, data, all_new)
        conn.close()

    with CpuClock() as clock:
        await asyncio.gather(*(client(payloads) for payloads in requests))
    stored = len(timings.latencies) * size
    return {"rate": stored / clock.wall, "cpu": clock.share, **timings.summary()}


def copy_rate(database_url: str, size: int, batches: int, start: datetime) -> float:
    """The same rows (device ids suffixed -copy) by binary COPY, one transaction per batch."""
    plan = []
    for device in ingest_devices():
        samples = samples_at(start, size * batches)
        plan += [(f"{device}-copy", samples[i : i + size]) for i in range(0, len(samples), size)]
    with psycopg.connect(database_url, autocommit=True) as conn:
        started = time.perf_counter()
        for device, batch in plan:
            with conn.transaction():
                copy_rows(conn, COPY_MAIN, device, batch)
        elapsed = time.perf_counter() - started
    return sum(len(batch) for _, batch in plan) / elapsed


def measure(ctx: Context) -> list[dict]:
    """Per batch size: HTTP and COPY rates and their ratio, medians of the runs."""
    runs = ctx.plan.runs
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    base = now - (2 * runs + 2) * BLOCK
    port, url = ctx.server.port, ctx.backends.database_url
    for size in SIZES:  # warm-up in block 0: both workers' pools, prepared statements
        ctx.load.submit(http_job, port, size, 2, base).result()
    found: dict[int, list[tuple[dict, float]]] = {size: [] for size in SIZES}
    for run in range(runs):
        for index, size in enumerate(SIZES):
            start = base + (1 + 2 * run + index) * BLOCK
            batches = ctx.plan.ingest_batches[size]
            if run % 2:  # alternate which goes first, so drift does not favour either
                copy = copy_rate(url, size, batches, start)
                http = ctx.load.submit(http_job, port, size, batches, start).result()
            else:
                http = ctx.load.submit(http_job, port, size, batches, start).result()
                copy = copy_rate(url, size, batches, start)
            found[size].append((http, copy))
            print(
                f"  ingest run {run + 1} batch {size}: HTTP {http['rate']:,.0f}/s, "
                f"COPY {copy:,.0f}/s, errors {sum(http['errors'].values())}",
                flush=True,
            )
    return [summarise(size, found[size]) for size in SIZES]


def summarise(size: int, runs: list[tuple[dict, float]]) -> dict:
    """Medians over the runs of one batch size."""
    return {
        "size": size,
        "rate": statistics.median(http["rate"] for http, _ in runs),
        "copy": statistics.median(copy for _, copy in runs),
        "ratio": statistics.median(http["rate"] / copy for http, copy in runs),
        "p50": statistics.median(http["p50"] for http, _ in runs),
        "p99": statistics.median(http["p99"] for http, _ in runs),
        "requests": sum(http["count"] for http, _ in runs),
        "errors": total_errors([http for http, _ in runs]),
        "cpu": statistics.median(http["cpu"] for http, _ in runs),
    }
