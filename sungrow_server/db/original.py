"""Moving in from the original FastAPI server of this API: init-db recognises its database
and converts it in place, before anything else is applied.

That server's Alembic migrations make the same `sungrow_samples` (the same measurement
columns and primary key, a hypertable with 7-day chunks) without the derived columns,
and continuous aggregates of the same names as this server's that hold averages over UTC
buckets. They cannot serve this server's answers (no energies, no coverage, no local
days), so they are dropped and init-db builds this server's in TIMEZONE.
"""

from dataclasses import dataclass
from pathlib import Path

import click
from psycopg import Connection, sql

from ..model.columns import COLUMNS, DERIVED
from ..model.energy import INTERVAL, PV_ENERGY
from ..model.rollups import VIEWS
from .schema_files import header, render
from .schema_state import record

OLD = "sungrow_samples_original"

# Every stored row, in the new table, with its interval and PV energy derived in one pass
# (model/energy.py). Measured on a year of one device (6.3 M rows, 2 cores): 86 s and
# 1.3 GB, where adding the columns and updating every row in place took 214 s and left
# the table at 2.2 GB (each row's old version stays in its chunk, and no later insert
# lands in an old chunk to reuse the space).
COPY_DERIVED = f"""
INSERT INTO sungrow_samples ({", ".join((*COLUMNS, *DERIVED))})
SELECT {", ".join(COLUMNS)}, {INTERVAL}, {PV_ENERGY}
FROM (
    SELECT *, lag(ts) OVER w AS prev_ts, lag(pv_daily_kwh) OVER w AS prev_kwh
    FROM {OLD}
    WINDOW w AS (PARTITION BY device_id ORDER BY ts)
) m
"""


@dataclass(frozen=True)
class Original:
    """What init-db found of the original server's database."""

    revision: str | None
    views: list[str]
    extra_columns: list[str]


def find_original(conn: Connection) -> Original | None:
    """The original server's database: `sungrow_samples` without this server's derived
    columns, in a database init-db never ran on; else None."""
    tables = {
        row[0]
        for row in conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
            "AND relname IN ('sungrow_samples', 'sungrow_schema_state', 'alembic_version')"
        )
    }
    if "sungrow_samples" not in tables or "sungrow_schema_state" in tables:
        return None
    columns = _columns(conn, "sungrow_samples")
    if set(DERIVED) & set(columns):
        return None
    revision = None
    if "alembic_version" in tables:
        row = conn.execute("SELECT max(version_num) FROM alembic_version").fetchone()
        revision = row[0]
    views = [v for v in VIEWS.values() if (found := _columns(conn, v)) and "n_rows" not in found]
    extra = [name for name in columns if name not in COLUMNS]
    return Original(revision, views, extra)


def move_in(conn: Connection, files: list[Path], timezone: str, say) -> None:
    """Convert the original server's database, if this is one, in one transaction: its
    rollups dropped, every sample copied into this server's table with its derived
    columns, its table dropped. `files` are the schema files init-db applies here."""
    original = find_original(conn)
    if original is None:
        return
    names = ", ".join(original.views) or "none"
    revision = f" (Alembic revision {original.revision})" if original.revision else ""
    say(
        f"Found the original FastAPI server's database{revision}: sungrow_samples without "
        f"derived columns; its rollups: {names} (averages over UTC buckets)."
    )
    if original.extra_columns:
        raise MoveInError(
            "sungrow_samples has columns this server does not keep: "
            f"{', '.join(original.extra_columns)}. Nothing was changed; drop them (or "
            "export what you need) and run init-db again."
        )
    with conn.transaction():
        # Writes wait until the conversion commits (or fails): none can land in the old
        # table after it was copied.
        conn.execute("LOCK TABLE sungrow_samples IN SHARE MODE")
        for view in original.views:
            conn.execute(sql.SQL("DROP MATERIALIZED VIEW {}").format(sql.Identifier(view)))
        _rename_old(conn)
        for path in files:
            if header(path).get("requires") != "continuous_aggregates":
                conn.execute(render(path, timezone))
        copied = conn.execute(COPY_DERIVED, {"timezone": timezone}).rowcount
        stored = conn.execute(f"SELECT count(*) FROM {OLD}").fetchone()[0]
        if copied != stored:
            raise MoveInError(f"copied {copied} of {stored} samples; nothing was changed")
        conn.execute(f"DROP TABLE {OLD}")
        record(conn, "derived_timezone", timezone)
    dropped = f"; dropped its rollups {names}" if original.views else ""
    say(
        f"Converted it in place: all {copied} samples kept, with their interval and PV "
        f"energy derived (time zone {timezone}){dropped}. Its alembic_version table is "
        "left as it was."
    )


class MoveInError(click.ClickException):
    """The original server's database cannot be converted as it is (one line, exit 1)."""


def _columns(conn: Connection, relation: str) -> list[str]:
    rows = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attnum > 0 AND NOT attisdropped "
        "AND attrelid = (SELECT oid FROM pg_class WHERE relname = %s "
        "AND relnamespace = current_schema()::regnamespace) ORDER BY attnum",
        (relation,),
    ).fetchall()
    return [row[0] for row in rows]


def _rename_old(conn: Connection) -> None:
    """Move the old table and its index names aside, for the new one to take them."""
    conn.execute(f"ALTER TABLE sungrow_samples RENAME TO {OLD}")
    indexes = conn.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = %s::regclass",
        (OLD,),
    ).fetchall()
    for (index,) in indexes:
        renamed = OLD + index.removeprefix("sungrow_samples")
        conn.execute(
            sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                sql.Identifier(index), sql.Identifier(renamed)
            )
        )
