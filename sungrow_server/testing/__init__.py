"""Throwaway PostgreSQL clusters, Redis servers, gunicorn masters and nginx that tests and
benchmarks start on free ports and own. Not part of an installed server."""

from .gunicorn import REPO, Gunicorn
from .nginx import Nginx, nginx_binary
from .postgres import PgCluster, bare_install, pg_bindir
from .processes import child_pids, free_port
from .redis_server import RedisServer

__all__ = [
    "REPO",
    "Gunicorn",
    "Nginx",
    "PgCluster",
    "RedisServer",
    "bare_install",
    "child_pids",
    "free_port",
    "nginx_binary",
    "pg_bindir",
]
