"""gunicorn settings from the environment; the app and its pool are built in each worker."""

import os
import shutil
import sys
import tempfile

from gunicorn import glogging

# Metrics of all workers meet in one directory, fresh for each start of the master, set
# before anything imports prometheus_client (workers inherit it; see ops/metrics.py).
_metrics_dir = tempfile.mkdtemp(prefix="sungrow-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir

from sungrow_server.auth import get_token_store  # noqa: E402
from sungrow_server.auth.throttle import forwarded_client  # noqa: E402
from sungrow_server.config import ConfigError, load_server_settings, load_settings  # noqa: E402
from sungrow_server.db.pool import get_pool  # noqa: E402
from sungrow_server.ops import close as close_ops  # noqa: E402
from sungrow_server.ops.logs import logging_config  # noqa: E402

try:
    # Checked here, in the arbiter, so that a bad environment stops gunicorn at once with
    # one line instead of every worker failing to boot in a loop.
    _settings = load_settings()
    _server = load_server_settings()
except ConfigError as exc:
    print(f"sungrow-server: {exc.format_message()}", file=sys.stderr)
    shutil.rmtree(_metrics_dir, ignore_errors=True)
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
# LOG_FORMAT=json: one JSON object per line (ops/logs.py); text otherwise.
logconfig_dict = logging_config(_server.log_level, _server.log_format)


def when_ready(server):
    """One secret-free summary line, once, from the arbiter, and a warning per setting
    that should change."""
    server.log.info(_settings.summary())
    for line in _settings.warnings():
        server.log.warning(line)


def worker_exit(server, worker):
    """Write what is pending (unknown-field counts, the tokens' `last used`), then close the
    worker's pool so PostgreSQL sees clean disconnects."""
    app = getattr(worker, "wsgi", None)
    if app is not None:
        close_ops(app)
        get_token_store(app).close()
        get_pool(app).close(timeout=2)


def child_exit(server, worker):
    """A worker is gone: its live gauges (pool in use, waiting) no longer count."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """The metrics of this run end with it."""
    shutil.rmtree(_metrics_dir, ignore_errors=True)
