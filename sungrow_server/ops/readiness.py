"""Readiness: PostgreSQL answers within a second; Redis and the rollups only degrade."""

from psycopg_pool import ConnectionPool

from ..db import rollup_health
from ..db.aggregates import views_present
from ..errors import DatabaseUnavailable
from ..realtime.cache import RealtimeCache

TIMEOUT_S = 1.0
EDITION = """
SELECT (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),
       current_setting('timescaledb.license', true)
"""


EDITIONS = ("postgresql", "timescaledb-apache", "timescaledb-tsl")


def edition(version: str | None, license_: str | None) -> str:
    """What the database is: one of EDITIONS."""
    if version is None:
        return "postgresql"
    return "timescaledb-tsl" if license_ == "timescale" else "timescaledb-apache"


def readiness(pool: ConnectionPool, cache: RealtimeCache) -> dict:
    """The answer of GET /health/ready while PostgreSQL answers within a second; else
    DatabaseUnavailable (503, with the reason for the log).

    `status` is `ok`, or `degraded` when Redis does not answer or the rollups are not kept
    materialised; `reasons` holds one sentence per cause.
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
        reason = f"PostgreSQL did not answer within {TIMEOUT_S:g} s ({type(exc).__name__})"
        raise DatabaseUnavailable(reason) from exc
    if body["reasons"]:
        body["status"] = "degraded"
    return body
