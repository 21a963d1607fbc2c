"""Moving in from the original FastAPI server: `init-db` on a database that server created
and filled converts it in place (every row kept, derived columns computed, its rollups
replaced by this server's in TIMEZONE), on each edition; or its samples are exported
and imported into a new server's database."""

from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest

from sungrow_server import create_app
from sungrow_server.model.columns import COLUMNS
from sungrow_server.testing import original_server
from tests.helpers import AUTH, close_app, make_env, new_database, sample
from tests.reference import PERIODS, assert_same, derive, make_data, recompute

ZONE = "Europe/Berlin"
FIRST, LAST = PERIODS[ZONE]  # across the night of 25 October (25 hours)


def as_row(item: dict) -> tuple:
    return tuple(datetime.fromisoformat(item[c]) if c == "ts" else item[c] for c in COLUMNS)


def samples_of(conn) -> list[tuple]:
    return conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM sungrow_samples ORDER BY device_id, ts"
    ).fetchall()


def init_db(database_url: str, redis_url: str):
    app = create_app(make_env(database_url, redis_url, TIMEZONE=ZONE))
    try:
        return app.test_cli_runner().invoke(args=["init-db"])
    finally:
        close_app(app)


@pytest.fixture
def original(clusters, edition):
    """A database as the original server leaves it on this edition: its table (a
    hypertable where TimescaleDB is loaded) and, on the licensed edition, its continuous
    aggregates materialised; filled with two devices' samples, late ones included."""
    cluster = clusters.get(edition)
    janitor = new_database(cluster)
    with janitor:
        url = cluster.url(janitor.dbname)
        original_server.create_schema(
            url, timescaledb=edition != "postgresql", aggregates=edition == "tsl"
        )
        data, late = make_data(FIRST, LAST, ZONE)
        other = [sample(s["ts"], device_id="inverter-02", pv_power_w=5.0) for s in data[::3]]
        original_server.store(url, [as_row(item) for item in data + other])
        original_server.store(url, [as_row(item) for item in late])  # a spool flushed late
        if edition == "tsl":
            original_server.refresh(url)
        yield url, data + late, other


def test_init_db_converts_the_original_database_in_place(original, edition, redis_url):
    url, samples, other = original
    with psycopg.connect(url) as conn:
        before = samples_of(conn)
    assert len(before) == len(samples) + len(other)

    result = init_db(url, redis_url)
    assert result.exit_code == 0, result.output
    revision = "002" if edition == "tsl" else "001"
    assert f"Found the original FastAPI server's database (Alembic revision {revision})" in (
        result.output
    )
    rollups = "sungrow_hourly, sungrow_daily, sungrow_monthly" if edition == "tsl" else "none"
    assert f"its rollups: {rollups}" in result.output
    assert f"Converted it in place: all {len(before)} samples kept" in result.output
    assert f"derived (time zone {ZONE})" in result.output
    assert "TIMEZONE changed" not in result.output
    if edition == "tsl":
        assert f"continuous aggregates built and materialised in time zone {ZONE}" in result.output

    with psycopg.connect(url) as conn:
        assert samples_of(conn) == before  # every row kept, every value as it was
        stored = conn.execute(
            "SELECT ts, coalesce(interval_s, 0), pv_energy_kwh FROM sungrow_samples "
            "WHERE device_id = 'inverter-01' ORDER BY ts"
        ).fetchall()
        expected = [(ts, usable, pv) for ts, _, usable, pv in derive(samples, ZONE)]
        assert [row[0] for row in stored] == [row[0] for row in expected]
        for got, want in zip(stored, expected, strict=True):
            assert got[1:] == pytest.approx(want[1:], rel=1e-12, abs=1e-12), got[0]
        if edition == "tsl":
            views = conn.execute(
                "SELECT view_name FROM timescaledb_information.continuous_aggregates "
                "ORDER BY view_name"
            ).fetchall()
            assert views == [("sungrow_daily",), ("sungrow_hourly",), ("sungrow_monthly",)]
            # this server's rollups (sums and counts), materialised in the site's zone
            assert conn.execute("SELECT sum(n_rows) FROM sungrow_monthly").fetchone() == (
                len(before),
            )
            policies = conn.execute(
                "SELECT count(*) FROM timescaledb_information.jobs "
                "WHERE proc_name = 'policy_refresh_continuous_aggregate'"
            ).fetchone()
            assert policies == (3,)
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (revision,)

    app = create_app(make_env(url, redis_url, TIMEZONE=ZONE))
    try:
        client = app.test_client()
        start = datetime.fromisoformat(FIRST).replace(tzinfo=ZoneInfo(ZONE))
        end = datetime.fromisoformat(LAST).replace(tzinfo=ZoneInfo(ZONE))
        for resolution in ("5min", "hour", "day", "month"):
            answer = client.get(
                f"/v1/series?device_id=inverter-01&from={FIRST}&to={LAST}&resolution={resolution}",
                headers=AUTH,
            )
            assert answer.status_code == 200, answer.json
            assert_same(answer.json["series"], recompute(samples, resolution, ZONE, start, end))
    finally:
        close_app(app)

    again = init_db(url, redis_url)
    assert again.exit_code == 0, again.output
    assert "original" not in again.output
    with psycopg.connect(url) as conn:
        assert samples_of(conn) == before


@pytest.mark.parametrize("edition", ["postgresql"])
def test_a_column_this_server_does_not_keep_stops_the_conversion(original, redis_url):
    url, _, _ = original
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE sungrow_samples ADD COLUMN battery_voltage_v DOUBLE PRECISION")
        before = samples_of(conn)
    result = init_db(url, redis_url)
    assert result.exit_code == 1
    assert "sungrow_samples has columns this server does not keep: battery_voltage_v" in (
        result.stderr
    )
    assert "Nothing was changed" in result.stderr
    with psycopg.connect(url) as conn:
        assert samples_of(conn) == before
        assert conn.execute("SELECT to_regclass('sungrow_schema_state')").fetchone() == (None,)


@pytest.mark.parametrize("edition", ["apache"])
def test_samples_exported_from_the_original_import_into_a_new_server(
    original, clusters, redis_url, tmp_path
):
    """Moving to a new machine: export on the old database as it is, import on the new."""
    url, samples, other = original
    old = create_app(make_env(url, redis_url, TIMEZONE=ZONE))
    try:
        exported = old.test_cli_runner().invoke(args=["export"])
    finally:
        close_app(old)
    assert exported.exit_code == 0, exported.output
    path = tmp_path / "original.jsonl"
    path.write_bytes(exported.stdout_bytes)
    cluster = clusters.get("apache")
    with new_database(cluster, clusters.template("apache")) as janitor:
        new_url = cluster.url(janitor.dbname)
        new = create_app(make_env(new_url, redis_url, TIMEZONE=ZONE))
        try:
            assert new.test_cli_runner().invoke(args=["init-db"]).exit_code == 0
            result = new.test_cli_runner().invoke(args=["import", str(path)])
        finally:
            close_app(new)
        assert result.exit_code == 0, result.output
        assert f"{len(samples) + len(other):,} new" in result.output
        assert init_db(url, redis_url).exit_code == 0  # and the old one converted in place
        with psycopg.connect(url) as converted, psycopg.connect(new_url) as imported:
            query = "SELECT *, interval_s, pv_energy_kwh FROM sungrow_samples ORDER BY 1, 2"
            assert imported.execute(query).fetchall() == converted.execute(query).fetchall()
