"""`flask doctor`, and rollups that heal with `refresh-aggregates --invalidated` while
TimescaleDB's refresh policies fail."""

import time

import psycopg
import pytest

from sungrow_server import create_app
from sungrow_server.db.initdb import apply_schema
from sungrow_server.testing import PgCluster
from tests.helpers import TIMESCALE, close_app, make_env, new_database


def command(database_url, redis_url, *args, **env):
    app = create_app(make_env(database_url, redis_url, **env))
    try:
        return app.test_cli_runner().invoke(args=list(args))
    finally:
        close_app(app)


@pytest.fixture
def fresh(clusters, request):
    cluster = clusters.get(request.param)
    janitor = new_database(cluster, clusters.template(request.param))
    with janitor:
        yield cluster.url(janitor.dbname)


@pytest.mark.parametrize("fresh", ["postgresql", "apache", "tsl"], indirect=True)
def test_healthy_database_passes(fresh, redis_url):
    # What the timer does each minute; with no scheduler in the test clusters it is what
    # keeps the rollups materialised.
    refreshed = command(fresh, redis_url, "refresh-aggregates", "--invalidated")
    assert refreshed.exit_code == 0, refreshed.output
    result = command(fresh, redis_url, "doctor")
    assert result.exit_code == 0, result.output
    assert "No problems found." in result.output and "Redis reachable" in result.output


@pytest.mark.parametrize("fresh", ["postgresql"], indirect=True)
def test_a_different_timezone_is_named(fresh, redis_url):
    result = command(fresh, redis_url, "doctor", TIMEZONE="Europe/Berlin")
    assert result.exit_code == 1
    assert "PROBLEM  TIMEZONE is Europe/Berlin but init-db last ran with UTC" in result.output
    assert "fix: run  flask --app sungrow_server init-db" in result.output


def test_timescaledb_not_preloaded_is_named(clusters, redis_url):
    cluster = clusters.get("not-preloaded")
    with new_database(cluster) as janitor:
        url = cluster.url(janitor.dbname)
        apply_schema(url, "UTC", lambda line: None)
        result = command(url, redis_url, "doctor")
    assert result.exit_code == 1
    assert "TimescaleDB is installed but not preloaded" in result.output
    assert "shared_preload_libraries = 'timescaledb'" in result.output


@pytest.mark.parametrize("fresh", ["postgresql"], indirect=True)
def test_nginx_limit_below_the_server_is_named(fresh, redis_url, tmp_path):
    site = tmp_path / "site.conf"
    site.write_text("server {\n    client_max_body_size 512k;\n}\n")
    result = command(fresh, redis_url, "doctor", "--nginx", str(site))
    assert result.exit_code == 1
    assert "client_max_body_size is 524288 bytes, below MAX_REQUEST_BYTES" in result.output
    assert "set  client_max_body_size 1m;" in result.output
    site.write_text("server {\n    client_max_body_size 2m;\n}\n")
    assert command(fresh, redis_url, "doctor", "--nginx", str(site)).exit_code == 0


def late_hour(conn) -> int:
    """Rows materialised (not real-time) in the hourly rollup for the late hour."""
    return conn.execute(
        "SELECT coalesce(sum(n_rows), 0) FROM _timescaledb_internal._materialized_hypertable_2 "
        "WHERE bucket = date_trunc('hour', now() - interval '2 days')"
    ).fetchone()[0]


def runs(conn) -> tuple[int, int]:
    """How many refresh policies have run, and how many of them failed."""
    return conn.execute(
        "SELECT count(*) FILTER (WHERE s.total_runs > 0), "
        "count(*) FILTER (WHERE s.last_run_status = 'Failed') "
        "FROM timescaledb_information.job_stats s JOIN timescaledb_information.jobs j "
        "USING (job_id) WHERE j.proc_name = 'policy_refresh_continuous_aggregate'"
    ).fetchone()


@pytest.mark.slow
def test_rollups_heal_while_policies_fail(clusters, redis_url):
    if not clusters.tsl:
        pytest.skip("TimescaleDB's licensed (TSL) edition is not installed here")
    # The scheduler runs here (the suite's clusters have none). On a PostgreSQL build that
    # breaks TimescaleDB's background jobs (15.20 here) every policy run fails.
    settings = {
        **TIMESCALE,
        "timescaledb.license": "timescale",
        "timescaledb.max_background_workers": "4",
        "timescaledb.bgw_launcher_poll_time": "200",
    }
    cluster = PgCluster(settings).start()
    try:
        url = cluster.url()
        apply_schema(url, "UTC", lambda line: None)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO sungrow_samples (device_id, ts, pv_power_w, battery_power_w, "
                "battery_soc_pct, load_power_w, export_power_w) "
                "SELECT 'inverter-01', t, 1, 0, 50, 1, 0 FROM generate_series("
                "date_trunc('hour', now()) - interval '3 days', now() - interval '1 day', "
                "interval '10 minutes') t"
            )
            assert command(url, redis_url, "refresh-aggregates").exit_code == 0
            before = late_hour(conn)
            conn.execute(
                "SELECT alter_job(job_id, next_start => now()) FROM timescaledb_information.jobs "
                "WHERE proc_name = 'policy_refresh_continuous_aggregate'"
            )
            deadline = time.monotonic() + 60
            while (ran := runs(conn))[0] < 3:
                assert time.monotonic() < deadline, "the policies never ran"
                time.sleep(0.2)
            if ran[1] == 0:
                pytest.skip("TimescaleDB's scheduler works here: its policies do not fail")
            conn.execute(  # a late sample in an hour already materialised
                "INSERT INTO sungrow_samples (device_id, ts, pv_power_w, battery_power_w, "
                "battery_soc_pct, load_power_w, export_power_w) VALUES ('inverter-01', "
                "date_trunc('hour', now() - interval '2 days') + interval '5 minutes', "
                "1, 0, 50, 1, 0)"
            )
            conn.execute(
                "UPDATE sungrow_schema_state SET value = (now() - interval '1 hour')::text "
                "WHERE key = 'rollups_refreshed_at'"
            )
            assert late_hour(conn) == before  # the policies did not pick it up

            doctor = command(url, redis_url, "doctor")
            assert doctor.exit_code == 1
            assert "refresh policies of sungrow_hourly (job" in doctor.output
            assert "systemctl enable --now sungrow-refresh-aggregates.timer" in doctor.output
            app = create_app(make_env(url, redis_url))
            try:
                ready = app.test_client().get("/health/ready").json
                metrics = app.test_client().get("/metrics").data.decode()
            finally:
                close_app(app)
            assert ready["status"] == "degraded" and "refresh policies" in ready["reasons"][0]
            assert "sungrow_rollups_healthy 0.0" in metrics
            assert 'sungrow_rollup_pending_invalidations{view="sungrow_hourly"} 1.0' in metrics

            healed = command(url, redis_url, "refresh-aggregates", "--invalidated")
            assert healed.exit_code == 0, healed.output
            assert "refreshed sungrow_hourly: 1 invalidated range(s)" in healed.output
            assert late_hour(conn) == before + 1
            again = command(url, redis_url, "refresh-aggregates", "--invalidated")
            assert "refreshed" not in again.output  # nothing left: nothing called
            doctor = command(url, redis_url, "doctor")
            assert doctor.exit_code == 0, doctor.output
            assert "rollups heal" in doctor.output
    finally:
        cluster.destroy()
