"""Applies sql/ in order, after finding out what the database offers, and says what it did."""

from pathlib import Path

import psycopg
from psycopg import Connection, sql

from ..model.energy import RECOMPUTE_ALL
from .aggregates import DROP_ORDER, refresh_aggregates, views_present
from .capabilities import Capabilities, detect
from .original import move_in
from .reader_role import STATE_KEY, grant_reader, role_exists
from .schema_files import header, render, sql_files
from .schema_state import record, state

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


def apply_schema(
    database_url: str, timezone: str, say, reader_role: str | None = None
) -> Capabilities:
    """Create or upgrade the schema in place; `say(line)` reports each step. A
    `reader_role` (or the one a previous run was given) gets read access again."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        caps = detect(conn)
        files = [p for p in sql_files() if _offered(caps, p)]
        move_in(conn, files, timezone, say)  # the original FastAPI server's database
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
        _grant_reader(conn, reader_role, say)
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
    for view in DROP_ORDER:
        conn.execute(
            sql.SQL("DROP MATERIALIZED VIEW IF EXISTS {} CASCADE").format(sql.Identifier(view))
        )
    if built[0] != timezone:
        say(f"TIMEZONE changed from {built[0]} to {timezone}: dropped the rollups to rebuild them")
    else:
        say("The rollups' definition changed: dropped them to rebuild them")


def _grant_reader(conn: Connection, asked: str | None, say) -> None:
    role = asked or state(conn, STATE_KEY)
    if role is None:
        return
    if not asked and not role_exists(conn, role):
        say(f"role {role} no longer exists: init-db stops granting it reads")
        conn.execute("DELETE FROM sungrow_schema_state WHERE key = %s", (STATE_KEY,))
        return
    grant_reader(conn, role, say)
    record(conn, STATE_KEY, role)


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
