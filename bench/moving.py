"""`python -m bench.moving`: how long moving data takes, on a year of one device.

In a throwaway cluster (licensed TimescaleDB where installed, else Apache-2), a database
as the original FastAPI server leaves it, with a year of 5-second samples (6.3 M rows)
and its continuous aggregates materialised; then, each timed as a user runs it:
`init-db` converting it in place, `export` of the year to JSON Lines, `import` of that
file into a new database, `backup` of the converted database and `restore` into
another. Prints a markdown table, with the share of the machine's CPU that other
processes used meanwhile (the machine may be shared).
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from bench.document import database_versions
from bench.series import GENERATE, PIECE, STEP
from bench.stack import tsl_installed
from bench.watch import CpuWatch
from sungrow_server.testing import REPO, PgCluster, RedisServer, original_server

BIN = Path(sys.executable).parent
DEVICE = "inverter-01"
ZONE = "Europe/Berlin"


def generate(url: str, days: float) -> int:
    """`days` of 5-second samples up to the start of this month, in the original table."""
    end = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start, pieces = end - timedelta(days=days), []
    while start < end:
        pieces.append((start, min(start + PIECE, end)))
        start += PIECE

    def insert(piece):
        first, last = piece
        params = {
            "device": DEVICE,
            "start": first,
            "count": int((last - first) / STEP),
            "epoch": int(first.timestamp()),
        }
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(GENERATE, params)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(insert, pieces))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        return conn.execute("SELECT count(*) FROM sungrow_samples").fetchone()[0]


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and of its children, reaped or running (the postmaster:
    every backend and background process of the cluster)."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = sum(int(value) for value in fields[11:15])
    for child in Path("/proc").glob("[0-9]*/stat"):
        try:
            values = child.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(values[1]) == pid:
            total += int(values[11]) + int(values[12])
    return total / ticks


def children_cpu() -> float:
    """CPU time of this process's finished children (the flask commands)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def flask(env: dict[str, str], *args: str, stdout=None) -> tuple[float, str]:
    """Seconds a `flask --app sungrow_server` command took, and what it printed."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "sungrow_server", *args],
        cwd=REPO,
        env=env,
        stdout=stdout or subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return seconds, (done.stdout or "") + done.stderr


def database_size(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.moving", description=__doc__)
    parser.add_argument("--days", type=float, default=365, help="days of samples (default 365)")
    args = parser.parse_args()
    license_ = "timescale" if tsl_installed() else "apache"
    settings = {
        "shared_preload_libraries": "timescaledb",
        "timescaledb.license": license_,
        "timescaledb.max_background_workers": "0",
    }
    cluster, redis, work = PgCluster(settings).start(), RedisServer().start(), None
    watch = CpuWatch()
    postmaster = int((cluster.datadir / "postmaster.pid").read_text().split()[0])
    watch.roots.add(postmaster)
    watch.start()
    rows, results = 0, []
    try:
        work = Path(tempfile.mkdtemp(prefix="sungrow-moving-"))
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            for name in ("original", "imported", "restored"):
                conn.execute(f'CREATE DATABASE "{name}"')
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("FLASK_")},
            "REDIS_URL": redis.url,
            "DEVICE_TOKENS": f"bench-token:{DEVICE}",
            "TIMEZONE": ZONE,
            "PYTHONPATH": str(REPO),
        }
        original = {**env, "DATABASE_URL": cluster.url("original")}
        imported = {**env, "DATABASE_URL": cluster.url("imported")}
        restored = {**env, "DATABASE_URL": cluster.url("restored")}
        aggregates = license_ == "timescale"

        spent = [children_cpu(), cpu_seconds(postmaster)]

        def step(name: str, seconds: float, note: str = "") -> None:
            """Record a step: its wall time, and the CPU the command and PostgreSQL used."""
            now = [children_cpu(), cpu_seconds(postmaster)]
            command, server = now[0] - spent[0], now[1] - spent[1]
            spent[:] = now
            per_s = f"{rows / seconds:,.0f} samples/s"
            cpu = f"{command:,.0f} s + {server:,.0f} s"
            results.append((name, seconds, per_s, cpu, note))
            print(f"{name}: {seconds:.1f} s, {per_s}, CPU {cpu} {note}".rstrip(), flush=True)

        watch.phase = "generate"
        original_server.create_schema(original["DATABASE_URL"], True, aggregates)
        rows = generate(original["DATABASE_URL"], args.days)
        if aggregates:
            original_server.refresh(original["DATABASE_URL"])
        size = database_size(original["DATABASE_URL"])
        print(f"original database: {rows:,} samples, {size / 2**30:.2f} GiB", flush=True)

        watch.phase = "convert"
        spent[:] = [children_cpu(), cpu_seconds(postmaster)]
        seconds, _ = flask(original, "init-db")
        after = database_size(original["DATABASE_URL"])
        step(
            "init-db converting the original database",
            seconds,
            note=f"{after / 2**30:.2f} GiB after",
        )

        watch.phase = "export"
        path = work / "year.jsonl"
        with path.open("w") as out:
            seconds, _ = flask(original, "export", "--device", DEVICE, stdout=out)
        step("export to JSON Lines", seconds, f"{path.stat().st_size / 2**30:.2f} GiB file")

        watch.phase = "import"
        flask(imported, "init-db")
        spent[:] = [children_cpu(), cpu_seconds(postmaster)]
        seconds, said = flask(imported, "import", str(path))
        assert f"{rows:,} new" in said, said
        step(
            "import of that file into an empty database",
            seconds,
            note="rollups refreshed" if aggregates else "",
        )

        watch.phase = "backup"
        dump = work / "sungrow.dump"
        seconds, _ = flask(original, "backup", str(dump))
        step("backup", seconds, f"{dump.stat().st_size / 2**30:.2f} GiB file")
        watch.phase = "restore"
        seconds, _ = flask(restored, "restore", str(dump))
        step("restore into an empty database", seconds)
    finally:
        shares = watch.stop()
        postgres, timescaledb = database_versions(cluster.url("original"))
        cluster.destroy()
        redis.stop()
        if work:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(
        f"{rows:,} samples of one device ({args.days:g} days), TIMEZONE={ZONE}; "
        f"PostgreSQL {postgres}, TimescaleDB {timescaledb}; {os.cpu_count()} cores; "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )
    print()
    print("| step | time | rate | CPU: command + PostgreSQL | |")
    print("|---|---:|---:|---:|---|")
    for name, seconds, per_s, cpu, note in results:
        print(f"| {name} | {seconds:,.0f} s | {per_s} | {cpu} | {note} |")
    busy = ", ".join(f"{phase} {share:.0%}" for phase, share in shares.items())
    print(f"\nCPU used by other processes, as a share of the machine: {busy}")


if __name__ == "__main__":
    main()
