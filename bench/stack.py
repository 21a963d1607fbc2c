"""The system under test: PostgreSQL, Redis and gunicorn, started as they are deployed."""

import contextlib
import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg

from sungrow_server import config
from sungrow_server.testing import REPO, Gunicorn, PgCluster, RedisServer, pg_bindir

BIN = Path(sys.executable).parent
BENCH_DB = "sungrow_bench"
WORKERS = config.default_workers()  # the server's own default on this machine


@dataclasses.dataclass
class Backends:
    """Where the database and Redis are, and what the benchmark started itself."""

    database_url: str
    redis_url: str
    license: str | None
    owned: bool
    postmaster: int | None = None


def tsl_installed() -> bool:
    """Whether TimescaleDB's licensed (TSL) module, with continuous aggregates, is installed."""
    return any((pg_bindir().parent / "lib").glob("timescaledb-tsl-*.so"))


@contextlib.contextmanager
def backends(database_url: str | None, redis_url: str | None) -> Iterator[Backends]:
    """The given database and Redis, or throwaway ones removed at the end, also on error."""
    cluster = redis = None
    license_ = None
    try:
        if not database_url:
            license_ = "timescale" if tsl_installed() else "apache"
            settings = {
                "shared_preload_libraries": "timescaledb",
                "timescaledb.license": license_,
                "timescaledb.max_background_workers": "0",
            }
            cluster = PgCluster(settings).start()
            with psycopg.connect(cluster.url(), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
            database_url = cluster.url(BENCH_DB)
        if not redis_url:
            redis = RedisServer().start()
            redis_url = redis.url
        postmaster = None
        if cluster:
            postmaster = int((cluster.datadir / "postmaster.pid").read_text().split()[0])
        yield Backends(database_url, redis_url, license_, cluster is not None, postmaster)
    finally:
        if redis:
            redis.stop()
        if cluster:
            cluster.destroy()


def server_env(database_url: str, redis_url: str, tokens: dict[str, str]) -> dict[str, str]:
    """The environment of the server: ours minus any setting, plus the defaults written out.

    The defaults are spelled out so that a `.env` in the repository cannot change them.
    """
    names = {**config.PARSERS, **config.SERVER_PARSERS}
    env = {k: v for k, v in os.environ.items() if k not in names and not k.startswith("FLASK_")}
    for cls, parsers in (
        (config.Settings, config.PARSERS),
        (config.ServerSettings, config.SERVER_PARSERS),
    ):
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        for name, (attribute, _) in parsers.items():
            if isinstance(defaults.get(attribute), int | float | str):
                env[name] = str(defaults[attribute])
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DEVICE_TOKENS=",".join(f"{token}:{device}" for token, device in tokens.items()),
        WORKERS=str(WORKERS),
        PYTHONPATH=str(REPO),
    )
    return env


def flask_command(env: dict[str, str], *args: str) -> str:
    """Run `flask --app sungrow_server ARGS` from the repository; its output."""
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "sungrow_server", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout + done.stderr


@contextlib.contextmanager
def serve(app: str, env: dict[str, str], logdir: Path) -> Iterator[Gunicorn]:
    """gunicorn serving `app` with all its workers up, from `logdir` (which has no .env)."""
    log = logdir / f"gunicorn-{app.replace(':', '-')}.log"
    server = Gunicorn(env, logdir, app, log).wait_ready(timeout=30, workers=WORKERS)
    try:
        yield server
    finally:
        server.stop()
