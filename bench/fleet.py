"""Workloads 4 and 5: a fleet of edge devices and dashboards, and the workers' peak RSS."""

import asyncio
import json
import os
import random
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.loadclient import Connection, CpuClock, Timings, ingest_request, request, samples_at
from bench.plan import DASHBOARDS, Context, fleet_devices, token
from bench.watch import machine_ticks, process_table

POST_EVERY_S = 10.0
SAMPLES_PER_POST = 30
POLL_S = 1.0
SERIES_S = 10.0
P99_LIMIT_S = 0.250
MIN_SIZE = 30
KINDS = ("ingest", "realtime", "series")


def job(port: int, size: int, duration: float) -> dict:
    """Load process: `size` devices posting every 10 s, 50 dashboards polling, for `duration`."""
    return asyncio.run(_fleet(port, size, duration))


async def _fleet(port: int, size: int, duration: float) -> dict:
    kinds = {kind: Timings() for kind in KINDS}
    lags: list[float] = []
    # Seeded, so that every run of a size has the same phases (not a secret).
    rng = random.Random(size)  # noqa: S311
    start, wall_start = time.perf_counter() + 0.5, time.time() + 0.5
    end = start + duration

    def post(device: str):
        def build(due: float) -> bytes:
            # The 30 samples of the 10 s before the post, so every post brings new rows.
            first = datetime.fromtimestamp(wall_start + due - start - POST_EVERY_S, UTC)
            samples = samples_at(first, SAMPLES_PER_POST, POST_EVERY_S / SAMPLES_PER_POST)
            return ingest_request(token(device), device, samples)

        return build

    def fixed(path: str, device: str):
        data = request("GET", path, token(device))
        return lambda due: data

    def all_new(body: bytes) -> bool:
        return json.loads(body) == {"inserted": SAMPLES_PER_POST}

    async def every(period: float, kind: str, build, expect=None) -> None:
        conn, due = Connection(port), start + rng.uniform(0, period)
        while due < end:
            if due > time.perf_counter():  # else the previous answer came late: not our lag
                await asyncio.sleep(due - time.perf_counter())
                lags.append(time.perf_counter() - due)
            await kinds[kind].timed(conn, build(due), expect)
            due += period
        conn.close()

    devices = fleet_devices(size)
    tasks = [every(POST_EVERY_S, "ingest", post(device), all_new) for device in devices]
    for number in range(DASHBOARDS):
        device = devices[number % size]
        realtime = fixed(f"/v1/realtime?device_id={device}", device)
        series = fixed(f"/v1/series?device_id={device}&frame=day", device)
        tasks += [every(POLL_S, "realtime", realtime), every(SERIES_S, "series", series)]
    with CpuClock() as clock:
        await asyncio.gather(*tasks)
    overall = Timings()
    for timings in kinds.values():
        overall.merge(timings)
    lags.sort()
    return {
        "size": size,
        "kinds": {kind: timings.summary() for kind, timings in kinds.items()},
        **overall.summary(),
        "rate": overall.summary()["count"] / clock.wall,
        "lag_p99": lags[int(0.99 * (len(lags) - 1))],
        "lag_max": lags[-1],
        "cpu": clock.share,
    }


def status_kb(pid: int, field: str) -> int:
    """A `VmXXX:` value of /proc/<pid>/status, in kB (0 once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_ticks(pids: list[int]) -> int:
    """utime + stime of processes, in clock ticks."""
    table = process_table()
    return sum(table[pid][1] for pid in pids if pid in table)


def reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (needs root); whether that worked."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def step(ctx: Context, size: int) -> dict:
    """One fleet size; the main process watches the workers' memory and CPU meanwhile."""
    workers = ctx.server.workers()
    reset = all([reset_peak(pid) for pid in workers])
    rss = dict.fromkeys(workers, 0)
    ticks, busy = cpu_ticks(workers), machine_ticks()
    started = time.perf_counter()
    future = ctx.load.submit(job, ctx.server.port, size, ctx.plan.fleet_s)
    while not future.done():
        for pid in ctx.server.workers():
            rss[pid] = max(rss.get(pid, 0), status_kb(pid, "VmRSS"))
        time.sleep(0.5)
    result = future.result()
    wall = time.perf_counter() - started
    after = machine_ticks()
    result["server_cpu"] = (cpu_ticks(workers) - ticks) / os.sysconf("SC_CLK_TCK") / wall
    result["machine_busy"] = (after[0] - busy[0]) / (after[1] - busy[1])
    peaks = {pid: max(rss[pid], status_kb(pid, "VmHWM") if reset else 0) for pid in rss}
    result["peak_rss_kb"] = peaks
    result["peak_method"] = "VmHWM reset at start" if reset else "VmRSS sampled every 0.5 s"
    result["ok"] = not result["errors"] and result["p99"] < P99_LIMIT_S
    return result


def measure(ctx: Context) -> list[dict]:
    """The ladder of fleet sizes, stopping at the first that fails.

    When even the first size fails, sizes are halved until one passes (down to 30
    devices), so that the table still says what the server sustains.
    """
    steps = []
    sizes = list(ctx.plan.fleet_sizes)
    while sizes:
        size = sizes.pop(0)
        steps.append(step(ctx, size))
        progress(steps[-1])
        if not steps[-1]["ok"]:
            passed = any(s["ok"] for s in steps)
            sizes = [] if passed or size // 2 < MIN_SIZE else [size // 2]
        time.sleep(2)
    return steps


def progress(result: dict) -> None:
    """One line of progress."""
    kinds = result["kinds"]
    print(
        f"  fleet N={result['size']}: p99 {result['p99'] * 1000:.0f} ms "
        f"(ingest {kinds['ingest']['p99'] * 1000:.0f}, realtime "
        f"{kinds['realtime']['p99'] * 1000:.0f}, series {kinds['series']['p99'] * 1000:.0f}), "
        f"errors {sum(result['errors'].values())}, load CPU {result['cpu']:.0%}",
        flush=True,
    )
