"""The continuous aggregates once built: which exist, and materialising them on demand."""

from psycopg import Connection

from ..model.rollups import VIEWS

# Coarsest first: the order they are dropped in (each is built on the one below).
DROP_ORDER = tuple(reversed(VIEWS.values()))

POLICY_END_OFFSETS = """
SELECT ca.view_name, (j.config ->> 'end_offset')::interval
FROM timescaledb_information.continuous_aggregates ca
JOIN timescaledb_information.jobs j
  ON j.hypertable_schema = ca.materialization_hypertable_schema
 AND j.hypertable_name = ca.materialization_hypertable_name
WHERE j.proc_name = 'policy_refresh_continuous_aggregate'
"""


def views_present(conn: Connection) -> list[str]:
    """The rollup views that exist."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c WHERE c.relname = ANY(%s) "
        "AND c.relnamespace = current_schema()::regnamespace",
        (list(DROP_ORDER),),
    ).fetchall()
    return [row[0] for row in rows]


def refresh_aggregates(conn: Connection, start=None, end=None) -> None:
    """Materialise the rollups over [start, end), lowest level first, as the policies do.

    None means unbounded, but a level is never materialised closer to now than its
    policy's end_offset: the newest buckets stay with real-time aggregation, which also
    sees samples that arrive for them later.
    """
    offsets = dict(conn.execute(POLICY_END_OFFSETS).fetchall())
    for view in VIEWS.values():
        conn.execute(
            "CALL refresh_continuous_aggregate(%s::regclass, %s::timestamptz, "
            "LEAST(%s::timestamptz, now() - %s::interval))",
            (view, start, end, offsets.get(view, "0")),
        )
