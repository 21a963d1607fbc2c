"""`flask init-db` in each database situation, run again, and upgrading in place."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from sungrow_server import create_app
from sungrow_server.testing import PgCluster
from tests.helpers import TIMESCALE, close_app, make_env, new_database

REPO = Path(__file__).resolve().parent.parent


def init_db(database_url: str, redis_url: str, **env):
    """Run `flask init-db` in-process, as the CLI would; the click result."""
    app = create_app(make_env(database_url, redis_url, **env))
    try:
        return app.test_cli_runner().invoke(args=["init-db"])
    finally:
        close_app(app)


def hypertable(conn) -> bool:
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone() is None:
        return False
    return (
        conn.execute(
            "SELECT 1 FROM timescaledb_information.hypertables "
            "WHERE hypertable_name = 'sungrow_samples'"
        ).fetchone()
        is not None
    )


def relations(conn) -> set[str]:
    rows = conn.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
    ).fetchall()
    return {row[0] for row in rows}


def primary_key(conn) -> str:
    return conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'sungrow_samples'::regclass AND contype = 'p'"
    ).fetchone()[0]


@pytest.fixture
def fresh_database(clusters, request):
    """An empty database on the cluster of the edition the test names."""
    cluster = clusters.get(request.param)
    janitor = new_database(cluster)
    with janitor:
        yield cluster.url(janitor.dbname)


@pytest.mark.parametrize("fresh_database", ["postgresql"], indirect=True)
def test_plain_postgresql(fresh_database, redis_url):
    for _ in range(2):
        result = init_db(fresh_database, redis_url)
        assert result.exit_code == 0, result.output
        assert "TimescaleDB is not installed" in result.output
        assert "date_bin/date_trunc" in result.output
    with psycopg.connect(fresh_database) as conn:
        assert "sungrow_samples" in relations(conn)
        assert primary_key(conn) == "PRIMARY KEY (device_id, ts)"
        assert not hypertable(conn)


@pytest.mark.parametrize("fresh_database", ["not-preloaded"], indirect=True)
def test_timescaledb_installed_but_not_preloaded(fresh_database, redis_url):
    result = init_db(fresh_database, redis_url)
    assert result.exit_code == 0, result.output
    assert (
        "WARNING: TimescaleDB is installed on this PostgreSQL server but not loaded"
        in result.stderr
    )
    assert "shared_preload_libraries = 'timescaledb'" in result.stderr
    assert "run init-db again" in result.stderr
    with psycopg.connect(fresh_database) as conn:
        assert "sungrow_samples" in relations(conn)
        assert conn.execute(
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone() == (0,)


@pytest.mark.parametrize("fresh_database", ["apache"], indirect=True)
def test_apache_edition(fresh_database, redis_url):
    for _ in range(2):
        result = init_db(fresh_database, redis_url)
        assert result.exit_code == 0, result.output
        assert "sungrow_samples is a hypertable" in result.output
        assert "Continuous aggregates skipped" in result.output
        assert "timescaledb.license = apache" in result.output
        assert "/v1/series computes rollups from sungrow_samples" in result.output
    with psycopg.connect(fresh_database) as conn:
        assert hypertable(conn)
        assert not {"sungrow_hourly", "sungrow_daily", "sungrow_monthly"} & relations(conn)


@pytest.mark.parametrize("fresh_database", ["tsl"], indirect=True)
def test_continuous_aggregates(fresh_database, redis_url):
    for _ in range(2):
        result = init_db(fresh_database, redis_url)
        assert result.exit_code == 0, result.output
        assert "TimescaleDB with continuous aggregates" in result.output
    with psycopg.connect(fresh_database) as conn:
        assert hypertable(conn)
        views = conn.execute(
            "SELECT view_name, materialized_only "
            "FROM timescaledb_information.continuous_aggregates ORDER BY view_name"
        ).fetchall()
        assert views == [
            ("sungrow_daily", False),
            ("sungrow_hourly", False),
            ("sungrow_monthly", False),
        ]
        policies = conn.execute(
            "SELECT count(*) FROM timescaledb_information.jobs "
            "WHERE proc_name = 'policy_refresh_continuous_aggregate'"
        ).fetchone()
        assert policies == (3,)


@pytest.mark.parametrize("fresh_database", ["tsl"], indirect=True)
def test_timezone_change_rebuilds_rollups(fresh_database, redis_url):
    assert init_db(fresh_database, redis_url).exit_code == 0
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sungrow_samples VALUES "
            "('inverter-01', '2026-06-10 23:30+00', 100, NULL, 0, 50, NULL, 10, 0, 1)"
        )
    result = init_db(fresh_database, redis_url, TIMEZONE="Europe/Berlin")
    assert result.exit_code == 0, result.output
    assert "TIMEZONE changed from UTC to Europe/Berlin" in result.output
    with psycopg.connect(fresh_database) as conn:
        day = conn.execute("SELECT bucket FROM sungrow_daily").fetchone()[0]
        # 23:30 UTC is 01:30 on the 11th in Berlin: the day starts at 22:00 UTC on the 10th.
        assert day.isoformat().startswith("2026-06-10T22:00:00")
    again = init_db(fresh_database, redis_url, TIMEZONE="Europe/Berlin")
    assert "TIMEZONE changed" not in again.output


def test_upgrade_in_place(clusters, redis_url):
    """Plain table with data, then TimescaleDB preloaded, then the licensed edition."""
    if not clusters.timescaledb:
        pytest.skip("TimescaleDB is not installed here")
    cluster = PgCluster().start()
    try:
        url = cluster.url()
        assert init_db(url, redis_url).exit_code == 0
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO sungrow_samples "
                "SELECT 'inverter-01', t, 1, NULL, 0, 50, NULL, 1, 0, 1 "
                "FROM generate_series('2026-01-01'::timestamptz, '2026-03-01', '1 hour') t"
            )
        cluster.stop()
        cluster.settings = {**TIMESCALE, "timescaledb.license": "apache"}
        cluster.start()
        result = init_db(url, redis_url)
        assert result.exit_code == 0, result.output
        with psycopg.connect(url) as conn:
            assert hypertable(conn)
            assert conn.execute("SELECT count(*) FROM sungrow_samples").fetchone() == (1417,)
            chunks = conn.execute("SELECT count(*) FROM show_chunks('sungrow_samples')").fetchone()[
                0
            ]
            assert chunks > 1
        if not clusters.tsl:
            return
        cluster.stop()
        cluster.settings = {**TIMESCALE, "timescaledb.license": "timescale"}
        cluster.start()
        result = init_db(url, redis_url)
        assert result.exit_code == 0, result.output
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT sum(n_rows) FROM sungrow_monthly").fetchone() == (1417,)
    finally:
        cluster.destroy()


@pytest.mark.parametrize("fresh_database", ["apache"], indirect=True)
def test_flask_command_line(fresh_database, redis_url, tmp_path):
    """The command a user types, in a fresh process, from a directory without a .env."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLASK_")},
        **make_env(fresh_database, redis_url),
        "PYTHONPATH": str(REPO),
    }
    cmd = [sys.executable, "-m", "flask", "--app", "sungrow_server", "init-db"]
    done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "applied 002_hypertable.sql" in done.stdout


def test_database_unreachable_is_one_line(redis_url, tmp_path):
    from sungrow_server.testing import free_port

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLASK_")},
        **make_env(f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/x", redis_url),
        "PYTHONPATH": str(REPO),
    }
    cmd = [sys.executable, "-m", "flask", "--app", "sungrow_server", "init-db"]
    done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("Error: database error: OperationalError")
    assert "hunter2" not in done.stderr + done.stdout


@pytest.mark.parametrize("fresh_database", ["tsl"], indirect=True)
def test_refresh_aggregates_command_heals_backfill(fresh_database, redis_url):
    assert init_db(fresh_database, redis_url).exit_code == 0
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sungrow_samples (device_id, ts, pv_power_w, battery_power_w, "
            "battery_soc_pct, load_power_w, export_power_w) "
            "SELECT 'inverter-01', t, 1, 0, 50, 1, 0 "
            "FROM generate_series('2026-01-01'::timestamptz, '2026-01-02', '1 hour') t"
        )
        app = create_app(make_env(fresh_database, redis_url))
        try:
            result = app.test_cli_runner().invoke(
                args=["refresh-aggregates", "--from", "2025-12-01", "--to", "2026-02-01"]
            )
        finally:
            close_app(app)
        assert result.exit_code == 0, result.output
        assert "Refreshed" in result.output
        materialised = conn.execute(
            "SELECT sum(n_rows) FROM sungrow_daily WHERE bucket < '2026-01-03'"
        ).fetchone()
        assert materialised == (25,)
        # materialised for real, not only through real-time aggregation
        conn.execute(
            "ALTER MATERIALIZED VIEW sungrow_daily SET (timescaledb.materialized_only = true)"
        )
        assert conn.execute("SELECT sum(n_rows) FROM sungrow_daily").fetchone() == (25,)


@pytest.mark.parametrize("fresh_database", ["apache"], indirect=True)
def test_refresh_aggregates_without_aggregates_says_so(fresh_database, redis_url):
    assert init_db(fresh_database, redis_url).exit_code == 0
    app = create_app(make_env(fresh_database, redis_url))
    try:
        result = app.test_cli_runner().invoke(args=["refresh-aggregates"])
    finally:
        close_app(app)
    assert result.exit_code == 0
    assert "No continuous aggregates here" in result.output


@pytest.mark.parametrize("fresh_database", ["postgresql", "apache"], indirect=True)
def test_init_db_finds_each_devices_first_sample_once(fresh_database, redis_url):
    # A database from before sql/004: samples stored, no record of each device's first.
    assert init_db(fresh_database, redis_url).exit_code == 0
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("DROP TABLE sungrow_device_first")
        conn.execute(
            "INSERT INTO sungrow_samples (device_id, ts, pv_power_w, battery_power_w, "
            "battery_soc_pct, load_power_w, export_power_w) "
            "SELECT 'inverter-0' || (n % 2 + 1), t, 1, 0, 50, 1, 0 FROM generate_series("
            "'2026-01-01'::timestamptz, '2026-03-01', '1 hour') WITH ORDINALITY AS g (t, n)"
        )
        first = "SELECT device_id, first_ts FROM sungrow_device_first ORDER BY 1"
        result = init_db(fresh_database, redis_url)
        assert result.exit_code == 0, result.output
        expected = [
            ("inverter-01", datetime(2026, 1, 1, 1, tzinfo=UTC)),
            ("inverter-02", datetime(2026, 1, 1, tzinfo=UTC)),
        ]
        assert conn.execute(first).fetchall() == expected
        # Kept by the write path from then on; init-db does not look again.
        conn.execute("DELETE FROM sungrow_samples WHERE ts < '2026-02-01'")
        assert init_db(fresh_database, redis_url).exit_code == 0
        assert conn.execute(first).fetchall() == expected
