"""Readiness: PostgreSQL answers within a second; Redis and the rollups only degrade."""

from psycopg_pool import ConnectionPool

from ..db import rollup_health
from ..db.aggregates import views_present
from ..realtime.cache import RealtimeCache

TIMEOUT_S = 1.0
EDITION = """
SELECT (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),
       current_setting('timescaledb.license', true)
"""


def edition(version: str | None, license_: str | None) -> str:
    """What the database is: postgresql, timescaledb-apache or timescaledb-tsl."""
    if version is None:
        return "postgresql"
    return "timescaledb-tsl" if license_ == "timescale" else "timescaledb-apache"


def readiness(pool: ConnectionPool, cache: RealtimeCache) -> tuple[bool, dict]:
    """Whether the server can serve (PostgreSQL answers), and the answer's body.

    `status` is `ok`, `degraded` (Redis down, or the rollups not kept materialised:
    `reasons` says which) or `unavailable` (PostgreSQL did not answer within a second).
    """
    body = {"status": "ok", "database": "ok", "redis": "ok", "edition": None, "reasons": []}
    if not cache.ping():
        body["redis"] = "unavailable"
        body["reasons"].append("Redis does not answer: realtime reads come from PostgreSQL.")
    try:
        with pool.connection(timeout=TIMEOUT_S) as conn, conn.transaction():
            conn.execute(f"SET LOCAL statement_timeout = {int(TIMEOUT_S * 1000)}")
            body["edition"] = edition(*conn.execute(EDITION).fetchone())
            if body["edition"] == "timescaledb-tsl" and views_present(conn):
                problem = rollup_health.health(conn).problem()
                if problem:
                    body["reasons"].append(problem)
    except Exception as exc:
        body.update(status="unavailable", database="unavailable")
        body["reasons"].insert(0, f"PostgreSQL did not answer within 1 s ({type(exc).__name__}).")
        return False, body
    if body["reasons"]:
        body["status"] = "degraded"
    return True, body
