"""Applies sql/ in order, after finding out what the database offers, and says what it did."""

from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import Connection, sql

from .energy import RECOMPUTE_ALL, USABLE_ROW

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
VIEWS = ("sungrow_monthly", "sungrow_daily", "sungrow_hourly")  # drop order
# Bumped whenever sql/003 changes what the views hold, so init-db rebuilds them.
ROLLUP_VERSION = "2"

NOT_PRELOADED = (
    "WARNING: TimescaleDB is installed on this PostgreSQL server but not loaded "
    "(it is missing from shared_preload_libraries), so it cannot be used: "
    "sungrow_samples stays a plain PostgreSQL table and /v1/series computes rollups "
    "from raw samples. To enable it, add  shared_preload_libraries = 'timescaledb'  to "
    "postgresql.conf, restart PostgreSQL, then run init-db again: the table becomes a "
    "hypertable in place, with its data."
)
NO_TIMESCALEDB = (
    "TimescaleDB is not installed: sungrow_samples is a plain PostgreSQL table indexed "
    "on (device_id, ts); /v1/series computes rollups from raw samples with "
    "date_bin/date_trunc (same answers, slower over long ranges)."
)
APACHE = (
    "Continuous aggregates skipped: this TimescaleDB is the Apache-2 edition "
    "(timescaledb.license = {license}), which has no continuous aggregates. /v1/series "
    "computes rollups from sungrow_samples with time-bucketed queries instead (same "
    "answers, slower over long ranges). Install TimescaleDB's community (TSL) edition "
    "and run init-db again to add them."
)


@dataclass(frozen=True)
class Capabilities:
    """What the database offers the schema."""

    timescaledb_available: bool
    timescaledb_preloaded: bool
    license: str | None = None

    @property
    def timescaledb(self) -> bool:
        """TimescaleDB can be used (installed and loaded)."""
        return self.timescaledb_available and self.timescaledb_preloaded

    @property
    def continuous_aggregates(self) -> bool:
        """The licensed edition, which has continuous aggregates and policies."""
        return self.timescaledb and self.license == "timescale"


def preloaded_libraries(setting: str) -> set[str]:
    """Library names listed in shared_preload_libraries (quotes and paths removed)."""
    names = set()
    for item in setting.split(","):
        name = item.strip().strip('"').rsplit("/", 1)[-1]
        names.add(name.removesuffix(".so"))
    return names


def detect(conn: Connection) -> Capabilities:
    """Find out, without loading it, whether TimescaleDB can be used; load it if so.

    `CREATE EXTENSION timescaledb` ends the session with FATAL where the library is not
    preloaded, so the preload is checked first.
    """
    available = (
        conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
        is not None
    )
    setting = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()[0]
    preloaded = "timescaledb" in preloaded_libraries(setting)
    if not (available and preloaded):
        return Capabilities(available, preloaded)
    conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    license_ = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()[0]
    return Capabilities(True, True, license_)


def sql_files() -> list[Path]:
    """The schema files in the order they apply."""
    return sorted(SQL_DIR.glob("[0-9][0-9][0-9]_*.sql"))


def header(path: Path) -> dict[str, str]:
    """The `-- key: value` lines that open a file (requires, autocommit)."""
    tags = {}
    for line in path.read_text().splitlines():
        if not line.startswith("--"):
            break
        key, _, value = line[2:].strip().partition(":")
        tags[key.strip()] = value.strip()
    return tags


def render(path: Path, timezone: str) -> sql.Composed:
    """A file with its placeholders ({timezone}, {origin}, {usable}) filled; no other braces."""
    return sql.SQL(path.read_text()).format(
        usable=sql.SQL(USABLE_ROW),
        timezone=sql.Literal(timezone),
        origin=sql.SQL("('2000-01-01 00:00'::timestamp AT TIME ZONE {})").format(
            sql.Literal(timezone)
        ),
    )


def state(conn: Connection, key: str) -> str | None:
    """A value init-db recorded earlier."""
    row = conn.execute("SELECT value FROM sungrow_schema_state WHERE key = %s", (key,)).fetchone()
    return row[0] if row else None


def record(conn: Connection, key: str, value: str) -> None:
    """Remember a value for the next init-db."""
    conn.execute(
        "INSERT INTO sungrow_schema_state (key, value) VALUES (%s, %s) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (key, value),
    )


def views_present(conn: Connection) -> list[str]:
    """The rollup views that exist."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c WHERE c.relname = ANY(%s) "
        "AND c.relnamespace = current_schema()::regnamespace",
        (list(VIEWS),),
    ).fetchall()
    return [row[0] for row in rows]


POLICY_END_OFFSETS = """
SELECT ca.view_name, (j.config ->> 'end_offset')::interval
FROM timescaledb_information.continuous_aggregates ca
JOIN timescaledb_information.jobs j
  ON j.hypertable_schema = ca.materialization_hypertable_schema
 AND j.hypertable_name = ca.materialization_hypertable_name
WHERE j.proc_name = 'policy_refresh_continuous_aggregate'
"""


def refresh_aggregates(conn: Connection, start=None, end=None) -> None:
    """Materialise the rollups over [start, end), lowest level first, as the policies do.

    None means unbounded, but a level is never materialised closer to now than its
    policy's end_offset: the newest buckets stay with real-time aggregation, which also
    sees samples that arrive for them later.
    """
    offsets = dict(conn.execute(POLICY_END_OFFSETS).fetchall())
    for view in reversed(VIEWS):
        conn.execute(
            "CALL refresh_continuous_aggregate(%s::regclass, %s::timestamptz, "
            "LEAST(%s::timestamptz, now() - %s::interval))",
            (view, start, end, offsets.get(view, "0")),
        )


def apply_schema(database_url: str, timezone: str, say) -> Capabilities:
    """Create or upgrade the schema in place; `say(line)` reports each step."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        caps = detect(conn)
        files = [p for p in sql_files() if _offered(caps, p)]
        for path in files:
            if header(path).get("requires") == "continuous_aggregates":
                continue
            _apply(conn, path, timezone)
            say(f"applied {path.name}")
        _derive(conn, timezone, say)
        for path in files:
            if header(path).get("requires") != "continuous_aggregates":
                continue
            _rebuild_if_changed(conn, timezone, say)
            fresh = not views_present(conn)
            _apply(conn, path, timezone)
            say(f"applied {path.name}")
            record(conn, "rollup_timezone", timezone)
            record(conn, "rollup_version", ROLLUP_VERSION)
            if fresh:
                refresh_aggregates(conn)
                say(f"continuous aggregates built and materialised in time zone {timezone}")
        _report(caps, timezone, say)
    return caps


def _offered(caps: Capabilities, path: Path) -> bool:
    requires = header(path).get("requires")
    return not requires or getattr(caps, requires)


def _apply(conn: Connection, path: Path, timezone: str) -> None:
    statement = render(path, timezone)
    if "autocommit" in header(path):
        conn.execute(statement)
    else:
        with conn.transaction():
            conn.execute(statement)


def _derive(conn: Connection, timezone: str, say) -> None:
    """Fill each sample's interval and PV energy where new, or where the zone changed."""
    if state(conn, "derived_timezone") == timezone:
        return
    with conn.transaction():
        rows = conn.execute(RECOMPUTE_ALL, {"timezone": timezone}).rowcount
        record(conn, "derived_timezone", timezone)
    say(f"derived interval and PV energy of {rows} stored samples (time zone {timezone})")


def _rebuild_if_changed(conn: Connection, timezone: str, say) -> None:
    built = (state(conn, "rollup_timezone"), state(conn, "rollup_version"))
    if built == (timezone, ROLLUP_VERSION) or not views_present(conn):
        return
    for view in VIEWS:
        conn.execute(
            sql.SQL("DROP MATERIALIZED VIEW IF EXISTS {} CASCADE").format(sql.Identifier(view))
        )
    if built[0] != timezone:
        say(f"TIMEZONE changed from {built[0]} to {timezone}: dropped the rollups to rebuild them")
    else:
        say("The rollups' definition changed: dropped them to rebuild them")


def _report(caps: Capabilities, timezone: str, say) -> None:
    if caps.continuous_aggregates:
        say(
            "TimescaleDB with continuous aggregates: sungrow_samples is a hypertable; "
            f"sungrow_hourly, sungrow_daily and sungrow_monthly (time zone {timezone}) "
            "are refreshed by policies."
        )
    elif caps.timescaledb:
        say("TimescaleDB: sungrow_samples is a hypertable.")
        say(APACHE.format(license=caps.license))
    elif caps.timescaledb_available:
        say(NOT_PRELOADED)
    else:
        say(NO_TIMESCALEDB)
