"""Fixtures: real PostgreSQL clusters per database edition, a real Redis, the app and client."""

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from pytest_postgresql.janitor import DatabaseJanitor

from sungrow_server import create_app
from sungrow_server.schema import apply_schema
from tests.servers import PgCluster, RedisServer, bare_install, pg_bindir

TOKENS = "token-01:inverter-01,token-02:inverter-02"
AUTH = {"Authorization": "Bearer token-01"}
TIMESCALE = {"shared_preload_libraries": "timescaledb", "timescaledb.max_background_workers": "0"}

# Each edition is one way a user's database can look.
EDITIONS = {
    "postgresql": "PostgreSQL without TimescaleDB",
    "not-preloaded": "TimescaleDB installed but not in shared_preload_libraries",
    "apache": "TimescaleDB, Apache-2 edition (no continuous aggregates)",
    "tsl": "TimescaleDB with continuous aggregates (licensed edition)",
}
API_EDITIONS = ["postgresql", "apache", "tsl"]


def timescaledb_files(bindir: Path) -> tuple[bool, bool]:
    """Whether the TimescaleDB library, and its licensed (TSL) module, are installed."""
    lib = bindir.parent / "lib"
    return (lib / "timescaledb.so").exists(), any(lib.glob("timescaledb-tsl-*.so"))


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


def new_database(cluster: PgCluster, template: str | None = None) -> DatabaseJanitor:
    """A janitor for a fresh database, cloned from `template` when given."""
    return DatabaseJanitor(
        user="postgres",
        host="127.0.0.1",
        port=cluster.port,
        dbname=f"test_{uuid.uuid4().hex[:12]}",
        template_dbname=template,
    )


@pytest.fixture(params=API_EDITIONS)
def edition(request) -> str:
    return request.param


def single_edition(name: str):
    """An `edition` fixture for a module whose tests need one database edition only."""

    @pytest.fixture
    def edition() -> str:
        return name

    return edition


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


def make_env(database_url: str, redis_url: str, **overrides: str) -> dict[str, str]:
    """The environment a user would give the server."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEVICE_TOKENS": TOKENS,
        **overrides,
    }


def close_app(app) -> None:
    """Release what the factory opened."""
    app.extensions["sungrow.pool"].close()
    app.extensions["sungrow.cache"].close()


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


def sample(ts: str = "2026-11-28T10:00:00+00:00", device_id: str = "inverter-01", **fields) -> dict:
    """One valid sample as an edge daemon sends it."""
    return {
        "device_id": device_id,
        "ts": ts,
        "pv_power_w": 1200.0,
        "pv_daily_kwh": 3.5,
        "battery_power_w": 250.0,
        "battery_soc_pct": 64.0,
        "battery_temp_c": 24.5,
        "load_power_w": 800.0,
        "export_power_w": 150.0,
        "sample_count": 1,
        **fields,
    }


def stored_rows(conn, device_id: str = "inverter-01") -> list[tuple]:
    """(ts, pv_power_w) of what the server stored for a device, oldest first."""
    return conn.execute(
        "SELECT ts, pv_power_w FROM sungrow_samples WHERE device_id = %s ORDER BY ts", (device_id,)
    ).fetchall()
