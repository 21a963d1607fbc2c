"""gunicorn settings from the environment; the app and its pool are built in each worker."""

import sys

from sungrow_server.auth import get_token_store
from sungrow_server.config import ConfigError, load_server_settings, load_settings
from sungrow_server.db.pool import get_pool

try:
    # Checked here, in the arbiter, so that a bad environment stops gunicorn at once with
    # one line instead of every worker failing to boot in a loop.
    _settings = load_settings()
    _server = load_server_settings()
except ConfigError as exc:
    print(f"sungrow-server: {exc.format_message()}", file=sys.stderr)
    sys.exit(1)

bind = [_server.bind]
worker_class = "gthread"
workers = _server.workers
threads = _server.threads
timeout = _server.timeout_s
graceful_timeout = _server.timeout_s
keepalive = _server.keepalive_s
loglevel = _server.log_level
accesslog = "-"
errorlog = "-"
# No --preload: a psycopg pool must not cross a fork, so each worker builds its own app.
preload_app = False
# gunicorn's control socket is not used by this service.
control_socket_disable = True
# Behind nginx on the same host: trust its X-Forwarded-* headers only from loopback.
forwarded_allow_ips = "127.0.0.1,::1"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": _server.log_level.upper(), "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {
            "level": _server.log_level.upper(),
            "handlers": ["console"],
            "propagate": False,
        },
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "stream": "ext://sys.stderr",
        },
        "access": {
            "class": "logging.StreamHandler",
            "formatter": "access",
            "stream": "ext://sys.stdout",
        },
    },
    "formatters": {
        "generic": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"},
        "access": {"format": "%(message)s"},
    },
}


def when_ready(server):
    """One secret-free summary line, once, from the arbiter, and a warning per setting
    that should change."""
    server.log.info(_settings.summary())
    for line in _settings.warnings():
        server.log.warning(line)


def worker_exit(server, worker):
    """Write the tokens' pending `last used`, then close the worker's pool so PostgreSQL
    sees clean disconnects."""
    app = getattr(worker, "wsgi", None)
    if app is not None:
        get_token_store(app).close()
        get_pool(app).close(timeout=2)
