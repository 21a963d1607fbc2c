"""gunicorn settings from the environment; the app and its pool are built in each worker."""

import sys

from gunicorn import glogging

from sungrow_server.auth import get_token_store
from sungrow_server.auth.throttle import forwarded_client
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
# Each worker is replaced after about this many requests (a tenth of jitter, so that the
# workers are not replaced at once): Python seldom gives freed memory back to the system,
# and a worker that once answered a huge request would keep its size until it is.
max_requests = _server.max_requests
max_requests_jitter = _server.max_requests // 10
loglevel = _server.log_level
accesslog = "-"
errorlog = "-"
# No --preload: a psycopg pool must not cross a fork, so each worker builds its own app.
preload_app = False
# gunicorn's control socket is not used by this service.
control_socket_disable = True
# X-Forwarded-Proto and the like are believed from the same peers as X-Forwarded-For:
# TRUSTED_PROXIES (nginx on this host by default); from none when it is `none`.
forwarded_allow_ips = ",".join(sorted(_settings.trusted_proxies))


class AccessLogger(glogging.Logger):
    """gunicorn's logger, with `%(client)s`: the client's address as the server tells
    clients apart (behind nginx, the address nginx saw, not nginx's own)."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        peer, forwarded_for = (
            environ.get("REMOTE_ADDR", ""),
            environ.get("HTTP_X_FORWARDED_FOR", ""),
        )
        atoms["client"] = forwarded_client(peer, forwarded_for, _settings.trusted_proxies) or "-"
        return atoms


logger_class = AccessLogger
# The combined log format with the client's address first, no user name (gunicorn would
# log a Basic-auth one, which may be a token), and the time the request took, in seconds,
# last.
access_log_format = '%(client)s - - %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(L)s'
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
