"""Fixtures: real PostgreSQL clusters per database edition, a real Redis, the app and client."""

import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from sungrow_server import create_app
from sungrow_server.db.initdb import apply_schema
from sungrow_server.testing import PgCluster, RedisServer, bare_install, pg_bindir
from tests.helpers import (
    API_EDITIONS,
    EDITIONS,
    TIMESCALE,
    close_app,
    make_env,
    new_database,
    timescaledb_files,
)


class Clusters:
    """One cluster per edition, started the first time a test needs it."""

    def __init__(self):
        # Not under pytest's tmp_path: the postgres user must be able to reach it.
        self.workdir = Path(tempfile.mkdtemp(prefix="sungrow-pgbin-"))
        self.workdir.chmod(0o755)
        self.bindir = pg_bindir()
        self.timescaledb, self.tsl = timescaledb_files(self.bindir)
        self._clusters: dict[str, PgCluster] = {}
        self._templates: dict[str, str] = {}

    def get(self, edition: str) -> PgCluster:
        """The running cluster of an edition, or a skip saying why this machine has none."""
        if edition not in self._clusters:
            self._clusters[edition] = self._start(edition)
        return self._clusters[edition]

    def _start(self, edition: str) -> PgCluster:
        if edition == "postgresql":
            bindir = bare_install(self.bindir, self.workdir / "bare") if self.timescaledb else None
            return PgCluster(bindir=bindir or self.bindir).start()
        if not self.timescaledb:
            pytest.skip(f"{EDITIONS[edition]}: TimescaleDB is not installed here")
        if edition == "not-preloaded":
            return PgCluster().start()
        if edition == "tsl" and not self.tsl:
            pytest.skip(
                "TimescaleDB's licensed (TSL) edition is not installed here (Debian ships only "
                "the Apache-2 build): continuous aggregates cannot be tested"
            )
        license_ = "timescale" if edition == "tsl" else "apache"
        return PgCluster({**TIMESCALE, "timescaledb.license": license_}).start()

    def template(self, edition: str) -> str:
        """A database with the schema applied, to clone for each test."""
        if edition not in self._templates:
            cluster = self.get(edition)
            name = f"sungrow_template_{edition.replace('-', '_')}"
            with psycopg.connect(cluster.url(), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            apply_schema(cluster.url(name), "UTC", lambda line: None)
            self._templates[edition] = name
        return self._templates[edition]

    def close(self) -> None:
        """Stop every cluster."""
        for cluster in self._clusters.values():
            cluster.destroy()
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    # A developer's shell or .env must not leak into what the tests configure.
    for name in list(os.environ):
        if name.startswith("FLASK_") or name in ("DATABASE_URL", "REDIS_URL", "DEVICE_TOKENS"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def clusters():
    registry = Clusters()
    yield registry
    registry.close()


@pytest.fixture(params=API_EDITIONS)
def edition(request) -> str:
    return request.param


@pytest.fixture
def database_url(clusters, edition):
    """A database with the schema, on each edition in turn."""
    cluster = clusters.get(edition)
    janitor = new_database(cluster, clusters.template(edition))
    with janitor:
        yield cluster.url(janitor.dbname)


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server):
    """The test Redis, emptied for each test."""
    client = redis_server.client()
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def app_env(database_url, redis_url) -> dict[str, str]:
    return make_env(database_url, redis_url)


@pytest.fixture
def app(app_env):
    application = create_app(app_env)
    application.config["TESTING"] = True
    yield application
    close_app(application)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db(database_url):
    """A direct connection, to check what the server stored."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn
