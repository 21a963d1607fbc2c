"""The system under test: PostgreSQL, Redis and gunicorn, started as they are deployed."""

import contextlib
import dataclasses
import http.client
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

from bench.watch import process_table
from sungrow_server import config
from tests.servers import PgCluster, RedisServer, free_port, pg_bindir

REPO = Path(__file__).resolve().parent.parent
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


def children(pid: int) -> list[int]:
    """The pids of a process's children (gunicorn's workers)."""
    return sorted(child for child, (parent, _) in process_table().items() if parent == pid)


class Gunicorn:
    """`gunicorn -c gunicorn.conf.py --bind 127.0.0.1:PORT APP` from the repository root."""

    def __init__(self, app: str, env: dict[str, str], logdir: Path):
        self.port = free_port()
        self.logfile = logdir / f"gunicorn-{app.replace(':', '-')}.log"
        command = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py"]
        command += ["--bind", f"127.0.0.1:{self.port}", app]
        with self.logfile.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def __enter__(self) -> "Gunicorn":
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if len(self.workers()) == WORKERS and self._healthy():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not start:\n{self.logfile.read_text()[-3000:]}")

    def __exit__(self, *exc) -> None:
        self.stop()

    def _healthy(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", "/health")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def get(self, path: str, token: str) -> tuple[int, bytes]:
        """One GET with a bearer token: status and body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def workers(self) -> list[int]:
        """The worker pids, children of the gunicorn master."""
        return children(self.process.pid)

    def stop(self) -> None:
        """Stop gunicorn gracefully, or kill it after 15 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
