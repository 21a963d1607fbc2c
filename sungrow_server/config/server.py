"""How gunicorn serves the app: its own settings, read by gunicorn.conf.py."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from . import ops_parsers, parsers
from .settings import ConfigError, read_environment


def default_workers() -> int:
    """Two worker processes per usable core.

    A worker runs Python on one core at a time, and gunicorn spreads keep-alive
    connections unevenly over its workers: with one worker per core, one core idles while
    the other queues requests (bench: 1000-sample ingest batches 100k samples/s with 2
    workers on 2 cores, 130k with 4).
    """
    return 2 * len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class ServerSettings:
    """How gunicorn serves the app (read by gunicorn.conf.py)."""

    bind: str = "127.0.0.1:8000"
    workers: int = field(default_factory=default_workers)
    threads: int = 8
    timeout_s: int = 30
    keepalive_s: int = 5
    log_level: str = "info"
    max_requests: int = 10000
    log_format: str = "text"


SERVER_PARSERS = {
    "BIND": ("bind", str.strip),
    "WORKERS": ("workers", parsers.int_at_least(1)),
    "THREADS": ("threads", parsers.int_at_least(1)),
    "TIMEOUT_S": ("timeout_s", parsers.int_at_least(1)),
    "KEEPALIVE_S": ("keepalive_s", parsers.int_at_least(1)),
    "LOG_LEVEL": ("log_level", parsers.log_level),
    "MAX_REQUESTS": ("max_requests", parsers.int_at_least(0)),
    "LOG_FORMAT": ("log_format", ops_parsers.choice("text", "json")),
}


def load_server_settings(environ: Mapping[str, str] | None = None) -> ServerSettings:
    """gunicorn's settings from `environ` (default: the environment and `.env`)."""
    if environ is None:
        environ = read_environment()
    values, problems = parsers.parse_all(environ, SERVER_PARSERS)
    if problems:
        raise ConfigError("Invalid environment variables: " + "; ".join(problems))
    return ServerSettings(**values)
