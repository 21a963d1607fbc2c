"""The machine description and docs/BENCHMARKS.md, filled from bench/benchmarks.md.tmpl."""

import os
import platform
import string
import subprocess
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import psycopg
import redis

from bench import report
from bench.plan import Plan, span
from bench.stack import REPO, Backends

TEMPLATE = Path(__file__).resolve().parent / "benchmarks.md.tmpl"


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory_gib() -> float:
    """Total RAM in GiB."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


def database_versions(database_url: str) -> tuple[str, str]:
    """PostgreSQL's version, and TimescaleDB's with its license (or `not in use`)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
        found = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        license_ = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()[0]
    return server, f"{found[0]} (license `{license_}`)" if found else "not in use"


def commit() -> str:
    """The repository's commit, marked `-dirty` when the work tree has changes."""
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def machine(backends: Backends) -> list[tuple[str, str]]:
    """What the figures were measured on."""
    postgres, timescaledb = database_versions(backends.database_url)
    client = redis.Redis.from_url(backends.redis_url)
    redis_version = client.info("server")["redis_version"]
    client.close()
    where = "throwaway cluster started by the bench" if backends.owned else "given URL"
    return [
        ("Date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", cpu_model()),
        ("Cores", str(os.cpu_count())),
        ("RAM", f"{memory_gib():.1f} GiB"),
        ("Kernel", platform.release()),
        ("PostgreSQL", f"{postgres} ({where})"),
        ("TimescaleDB", timescaledb),
        ("Redis", redis_version),
        ("Python", platform.python_version()),
        (
            "Server stack",
            ", ".join(f"{name} {version(name)}" for name in ("gunicorn", "Flask", "psycopg")),
        ),
        ("Commit", commit()),
    ]


def fields(plan: Plan, results: dict, machine: list[tuple[str, str]], minutes: float) -> dict:
    """The template's fields from the plan, the results and the machine."""
    data = results["series_data"]
    ingest = " and ".join(f"{n} batches of {size}" for size, n in plan.ingest_batches.items())
    return {
        "command": "python -m bench" + (" --quick" if plan.quick else ""),
        "mode": "quick" if plan.quick else "default",
        "runs": str(plan.runs),
        "minutes": f"{minutes:.1f}",
        "machine": "\n".join(f"- **{name}:** {value}" for name, value in machine),
        "foreign_cpu": report.foreign_cpu(results["foreign_cpu"]),
        "table": report.table(results),
        "ladder": report.ladder(results["fleet"]),
        "series_sets": " and ".join(
            f"{item['rows']:,} rows for `{item['device']}` ({span(item['days'])})"
            for item in data["sets"]
        ),
        "load_s": ", ".join(f"{step} {seconds:.0f} s" for step, seconds in data["seconds"].items()),
        "fleet_s": f"{plan.fleet_s:g}",
        "realtime_s": f"{plan.realtime_s:g}",
        "ingest_plan": ingest,
        "series_plan": f"up to {plan.series_requests} requests or {plan.series_max_s:g} s "
        "per case and run, warm-up included (at least one timed request)",
        "slow_s": f"{plan.series_max_s / 2:g}",
    }


def render(fields: dict[str, str]) -> str:
    """The template with its `$name` fields filled."""
    return string.Template(TEMPLATE.read_text()).substitute(fields)
