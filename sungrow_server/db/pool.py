"""The PostgreSQL connection pool: built in the factory, opened per worker, closed at exit."""

import atexit
import logging
from collections.abc import Callable, Iterable

from flask import Flask, current_app
from psycopg import Connection
from psycopg_pool import ConnectionPool

from ..config import Settings

EXTENSION = "sungrow.pool"


class RedactingFilter(logging.Filter):
    """psycopg_pool logs why a connection failed in libpq's words, and libpq quotes the
    part of a URL it cannot read, password and all: its records go out redacted with the
    settings of every app that made a pool in this process (one in a gunicorn worker)."""

    def __init__(self):
        super().__init__()
        self.settings: dict[str, Settings] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message = clean = record.getMessage()
        for settings in self.settings.values():
            clean = settings.redact(clean)
        if clean != message:
            record.msg, record.args = clean, None
        return True


POOL_LOG_FILTER = RedactingFilter()


def build_pool(
    settings: Settings, on_connect: Iterable[Callable[[Connection], None]] = ()
) -> ConnectionPool:
    """A pool that connects on demand: the server starts while PostgreSQL is down, and a
    `flask` command that does not use it opens no connection. Each new connection runs
    `on_connect` (the rooms' per-connection setup, such as ingest's staging table)."""
    setups = tuple(on_connect)
    POOL_LOG_FILTER.settings[settings.database_url] = settings
    pool_log = logging.getLogger("psycopg.pool")
    if POOL_LOG_FILTER not in pool_log.filters:
        pool_log.addFilter(POOL_LOG_FILTER)

    def configure(conn: Connection) -> None:
        # Reads run as single statements; writes open an explicit `conn.transaction()`.
        conn.autocommit = True
        for setup in setups:
            setup(conn)

    pool = ConnectionPool(
        settings.database_url,
        min_size=0,
        max_size=settings.db_pool_size,
        timeout=settings.db_pool_timeout_s,
        configure=configure,
        check=ConnectionPool.check_connection,
        # No JIT: compiling a plan over hundreds of hypertable chunks took seconds that
        # statement_timeout cannot interrupt (bench, 5 years: a 15 s limit answered after
        # 35 s; `all` over 1 year 35 s -> 4.5 s); these queries gain nothing from it.
        # Timestamps come back in UTC whatever zone the database was set up in: Python
        # adds a timedelta to a zoned datetime on the wall clock, which made an hour 2 h
        # long on the night a DST zone's clocks go back. Every query names its zone.
        kwargs={
            "options": (
                f"-c statement_timeout={settings.statement_timeout_ms} -c jit=off -c TimeZone=UTC"
            ),
            "connect_timeout": 3,
            "application_name": "sungrow-server",
        },
        name="sungrow",
        open=False,
    )
    pool.open(wait=False)
    return pool


def init_app(
    app: Flask, settings: Settings, on_connect: Iterable[Callable[[Connection], None]] = ()
) -> None:
    """Attach the pool to the app and make sure it is closed when the process ends."""
    pool = build_pool(settings, on_connect)
    app.extensions[EXTENSION] = pool
    atexit.register(pool.close)


def get_pool(app: Flask | None = None) -> ConnectionPool:
    """The pool of `app` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]
