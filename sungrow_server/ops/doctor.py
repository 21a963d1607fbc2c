"""`flask doctor`: a deployment checked piece by piece, each problem with its fix."""

import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from ..config import Settings
from ..db import rollup_health
from ..db.aggregates import views_present
from ..db.capabilities import preloaded_libraries
from ..db.initdb import state
from ..db.redis_client import build_redis

CLOCK_SKEW_S = 2.0
TIMER = "sungrow-refresh-aggregates.timer"
ENABLE_TIMER = f"systemctl enable --now {TIMER}"
SIZE = re.compile(r"^\s*client_max_body_size\s+(\d+)([kKmMgG]?)\s*;", re.MULTILINE)
UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


@dataclass
class Report:
    """What the checks found: lines that are fine, and problems with their fixes."""

    ok: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    policies_fail: bool = False

    def good(self, line: str) -> None:
        self.ok.append(line)

    def bad(self, problem: str, fix: str) -> None:
        self.problems.append((problem, fix))


def check_database(settings: Settings, report: Report) -> None:
    """Reachable, TimescaleDB and its edition, the rollups and their policies, TIMEZONE, clock."""
    try:
        conn = psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        report.bad(
            f"PostgreSQL is not reachable ({type(exc).__name__})",
            "check DATABASE_URL and that PostgreSQL runs (systemctl status postgresql)",
        )
        return
    with conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        report.good(f"PostgreSQL {version} reachable")
        _timescaledb(conn, report)
        _timezone(conn, settings.timezone, report)
        _clock(conn, report)


def _timescaledb(conn, report: Report) -> None:
    available = conn.execute(
        "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    if available is None:
        report.good("TimescaleDB is not installed: rollups are computed from raw samples")
        return
    setting = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()[0]
    if "timescaledb" not in preloaded_libraries(setting):
        report.bad(
            "TimescaleDB is installed but not preloaded (shared_preload_libraries), so it "
            "is not used",
            "add  shared_preload_libraries = 'timescaledb'  to postgresql.conf, restart "
            "PostgreSQL, then run  flask --app sungrow_server init-db",
        )
        return
    license_ = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()[0]
    installed = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()
    if installed is None:
        report.bad(
            "TimescaleDB is preloaded but not created in this database",
            "run  flask --app sungrow_server init-db",
        )
        return
    edition = "licensed (TSL)" if license_ == "timescale" else f"Apache-2 ({license_})"
    report.good(f"TimescaleDB {installed[0]}, {edition} edition, preloaded")
    if license_ == "timescale":
        _rollups(conn, report)


def _rollups(conn, report: Report) -> None:
    if len(views_present(conn)) < 3:
        report.bad(
            "the continuous aggregates are missing", "run  flask --app sungrow_server init-db"
        )
        return
    health = rollup_health.health(conn)
    if len(health.policies) < 3:
        report.bad("refresh policies are missing", "run  flask --app sungrow_server init-db")
        return
    failing = health.failing
    if not failing:
        report.good("continuous aggregates present; their refresh policies run successfully")
        return
    report.policies_fail = True
    names = ", ".join(f"{p.view} (job {p.job_id})" for p in failing)
    error = next((p.last_error for p in failing if p.last_error), None)
    why = f"last error: {error}" if error else "they have not run (is the scheduler off?)"
    if health.ok:
        report.good(
            f"refresh policies of {names} fail ({why}), but refresh-aggregates ran at "
            f"{health.refreshed_at:%Y-%m-%d %H:%M:%S} UTC ({TIMER}): rollups heal"
        )
        return
    report.bad(
        f"refresh policies of {names} fail ({why}): late samples stay out of the "
        "materialised rollups",
        f"install deploy/sungrow-refresh-aggregates.* and run  {ENABLE_TIMER}  "
        "(or: flask --app sungrow_server doctor --fix)",
    )


def _timezone(conn, timezone: str, report: Report) -> None:
    try:
        recorded = {key: state(conn, key) for key in ("derived_timezone", "rollup_timezone")}
    except psycopg.errors.UndefinedTable:
        report.bad("the schema is missing", "run  flask --app sungrow_server init-db")
        return
    different = {zone for zone in recorded.values() if zone and zone != timezone}
    if different:
        report.bad(
            f"TIMEZONE is {timezone} but init-db last ran with {', '.join(sorted(different))}",
            "run  flask --app sungrow_server init-db  (it recomputes daily counters and "
            "rebuilds the rollups in the new zone)",
        )
    else:
        report.good(f"TIMEZONE {timezone} is the zone init-db used")


def _clock(conn, report: Report) -> None:
    before = time.time()
    db_now = conn.execute("SELECT now()").fetchone()[0]
    after = time.time()
    skew = db_now.timestamp() - (before + after) / 2
    if abs(skew) > CLOCK_SKEW_S:
        report.bad(
            f"this host's clock is {abs(skew):.1f} s {'behind' if skew > 0 else 'ahead of'} "
            "PostgreSQL's",
            "synchronise both clocks (timedatectl set-ntp true)",
        )
    else:
        report.good(f"clock within {CLOCK_SKEW_S:g} s of PostgreSQL's ({skew:+.3f} s)")


def check_redis(settings: Settings, report: Report) -> None:
    client = build_redis(settings.redis_url, max(settings.redis_timeout_ms, 1000))
    try:
        client.ping()
        report.good("Redis reachable")
    except Exception as exc:
        report.bad(
            f"Redis is not reachable ({type(exc).__name__}): realtime reads fall back to "
            "PostgreSQL",
            "check REDIS_URL and that Redis runs (systemctl status redis-server)",
        )
    finally:
        client.close()


def check_nginx(path: Path, limit: int, report: Report) -> None:
    """client_max_body_size in an nginx file against MAX_REQUEST_BYTES."""
    try:
        text = path.read_text()
    except OSError as exc:
        report.bad(f"cannot read {path} ({exc.strerror})", "give the path of the site's file")
        return
    sizes = [int(n) * UNITS[unit.lower()] for n, unit in SIZE.findall(text)]
    size = min(sizes) if sizes else UNITS["m"]  # nginx's default is 1m
    if size < limit:
        report.bad(
            f"{path}: client_max_body_size is {size} bytes, below MAX_REQUEST_BYTES "
            f"({limit}): nginx refuses batches the server would take, and edges retry them "
            "forever",
            f"set  client_max_body_size {_nginx_size(limit)};  in {path} (or lower "
            "MAX_REQUEST_BYTES), then  systemctl reload nginx",
        )
    else:
        report.good(f"{path}: client_max_body_size {size} bytes >= MAX_REQUEST_BYTES ({limit})")


def _nginx_size(limit: int) -> str:
    for unit in ("m", "k"):
        if limit % UNITS[unit] == 0:
            return f"{limit // UNITS[unit]}{unit}"
    return str(limit)


def enable_timer(say) -> bool:
    """Turn the refresh timer on, or say the exact command when this cannot."""
    systemctl = shutil.which("systemctl")
    if systemctl is None or not Path("/run/systemd/system").is_dir():
        say(
            "no systemd here: run  flask --app sungrow_server refresh-aggregates "
            f"--invalidated  every minute, or {ENABLE_TIMER}"
        )
        return False
    done = subprocess.run([systemctl, "enable", "--now", TIMER], capture_output=True, text=True)
    if done.returncode != 0:
        say(f"could not enable {TIMER} ({done.stderr.strip()}): run  {ENABLE_TIMER}  as root")
        return False
    say(f"enabled {TIMER}")
    return True
