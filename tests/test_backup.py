"""`backup` and `restore`: the whole database through pg_dump and pg_restore into a fresh
cluster, on each edition; every series frame, ranges and the realtime answer come back
the same. And the restores that must be refused, refused before anything changes."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from sungrow_server import create_app
from sungrow_server.db.aggregates import refresh_aggregates
from sungrow_server.testing import PgCluster, free_port
from sungrow_server.transfer import backup as backups
from tests.helpers import close_app, edge_batches, make_env, new_database, sample
from tests.reference import make_data

pytestmark = pytest.mark.slow

FIRST, LAST = "2026-10-20", "2026-10-24"
TOKENS = {"inverter-01": "token-01", "inverter-02": "token-02"}
ONLY_MATERIALISED = (
    "ALTER MATERIALIZED VIEW sungrow_hourly SET (timescaledb.materialized_only = true)"
)


def auth(device_id: str) -> dict:
    return {"Authorization": f"Bearer {TOKENS[device_id]}"}


def ingest(client, samples):
    for batch in edge_batches(samples):
        response = client.post(
            "/v1/ingest", json={"samples": batch}, headers=auth(batch[0]["device_id"])
        )
        assert response.status_code == 200, response.json


def answers(client) -> dict:
    """Every answer a dashboard reads: each frame, ranges at each resolution (JSON and
    CSV), and the realtime sample, for both devices."""
    found = {}
    for device in TOKENS:
        queries = [f"frame={frame}" for frame in ("day", "month", "year", "all")]
        queries += [
            f"from={FIRST}&to={LAST}&resolution={resolution}"
            for resolution in ("5min", "hour", "day", "month")
        ]
        queries.append(f"from={FIRST}&to={LAST}&resolution=hour&format=csv")
        for query in queries:
            response = client.get(f"/v1/series?device_id={device}&{query}", headers=auth(device))
            assert response.status_code == 200, response.data
            found[device, query] = response.data
        response = client.get(f"/v1/realtime?device_id={device}", headers=auth(device))
        found[device, "realtime"] = (response.status_code, response.data)
    return found


def parsed(answer: bytes):
    """A JSON or CSV answer's values."""
    text = answer.decode()
    if text.startswith("{"):
        return json.loads(text)
    return [[_number(cell) for cell in row] for row in csv.reader(io.StringIO(text))]


def _number(cell: str):
    try:
        return float(cell)
    except ValueError:
        return cell


def _approx(value):
    """Floats as pytest.approx: a sum of the same floats taken in another order (the
    restored rows lie in another order on disk) may differ in the last bit."""
    if isinstance(value, dict):
        return {key: _approx(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_approx(item) for item in value]
    if isinstance(value, float):
        return pytest.approx(value, rel=1e-12, abs=1e-12)
    return value


def assert_same_answers(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    for key, answer in expected.items():
        if key[1] == "realtime":
            assert got[key] == answer, key  # the stored sample, exactly
        else:
            assert parsed(got[key]) == _approx(parsed(answer)), key


def every_row(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT * FROM sungrow_samples ORDER BY device_id, ts").fetchall()


def fill(client, db) -> None:
    """Four days of October, late samples, and the last two hours up to now."""
    data, late = make_data(FIRST, LAST, "UTC")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    recent = [sample((now - timedelta(minutes=m)).isoformat()) for m in range(120, 0, -5)]
    ingest(client, data + recent)
    ingest(client, [sample(s["ts"], device_id="inverter-02", pv_power_w=9.0) for s in data[::5]])
    if db.execute("SELECT to_regclass('sungrow_hourly')").fetchone()[0]:
        refresh_aggregates(db)
    ingest(client, late)  # after the rollups were materialised: healed by the policies only


@pytest.fixture
def fresh_cluster(clusters, edition):
    """A new, empty cluster like the edition's: the machine restored onto."""
    source = clusters.get(edition)
    cluster = PgCluster(dict(source.settings), bindir=source.bindir).start()
    try:
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE sungrow")
        yield cluster
    finally:
        cluster.destroy()


def test_backup_and_restore_into_a_fresh_cluster(
    app, client, db, database_url, fresh_cluster, redis_server, redis_url, tmp_path, edition
):
    fill(client, db)
    before = answers(client)
    path = tmp_path / "sungrow.dump"
    done = app.test_cli_runner().invoke(args=["backup", str(path)])
    assert done.exit_code == 0, done.output
    assert f"to {path} (" in done.output
    assert done.stderr == ""  # TimescaleDB's expected catalog warnings are not shown
    assert not path.with_name("sungrow.dump.partial").exists()

    restored_url = fresh_cluster.url("sungrow")
    restored = create_app(make_env(restored_url, redis_url))
    try:
        result = restored.test_cli_runner().invoke(args=["restore", str(path)])
        assert result.exit_code == 0, result.output
        assert ("TimescaleDB 2." in result.output) == (edition != "postgresql")
        assert every_row(restored_url) == every_row(database_url)
        redis_server.client().flushall()  # the new machine's Redis starts empty
        assert_same_answers(answers(restored.test_client()), before)
        again = restored.test_cli_runner().invoke(args=["init-db"])
        assert again.exit_code == 0, again.output
        assert "TIMEZONE changed" not in again.output and "Found" not in again.output
    finally:
        close_app(restored)
    if edition == "tsl":
        # the materialised rollups came back as they were (the late samples still waiting
        # for a refresh, as on the old machine), with their policies
        materialised = "SELECT bucket, n_rows FROM sungrow_hourly ORDER BY device_id, bucket"
        with psycopg.connect(restored_url, autocommit=True) as conn:
            conn.execute(ONLY_MATERIALISED)
            assert conn.execute(materialised).fetchall() == (
                db.execute(ONLY_MATERIALISED) and db.execute(materialised).fetchall()
            )
            assert conn.execute(
                "SELECT count(*) FROM timescaledb_information.jobs "
                "WHERE proc_name = 'policy_refresh_continuous_aggregate'"
            ).fetchone() == (3,)
            assert conn.execute("SHOW timescaledb.restoring").fetchone() == ("off",)


@pytest.mark.parametrize("edition", ["apache"])
def test_restores_that_must_be_refused(
    app, client, db, database_url, clusters, redis_url, tmp_path, monkeypatch
):
    fill(client, db)
    before = every_row(database_url)
    path = tmp_path / "sungrow.dump"
    assert app.test_cli_runner().invoke(args=["backup", str(path)]).exit_code == 0

    onto_itself = app.test_cli_runner().invoke(args=["restore", str(path)])
    assert onto_itself.exit_code == 1
    assert "already holds sungrow-server's tables: restore into a new, empty database" in (
        onto_itself.stderr
    )
    not_a_backup = tmp_path / "samples.jsonl"
    not_a_backup.write_text('{"device_id": "inverter-01"}\n')
    wrong_file = app.test_cli_runner().invoke(args=["restore", str(not_a_backup)])
    assert wrong_file.exit_code == 1
    assert "is not a backup made by pg_dump" in wrong_file.stderr
    assert every_row(database_url) == before

    plain = clusters.get("postgresql")  # no TimescaleDB installed there
    with new_database(plain) as janitor:
        target = create_app(make_env(plain.url(janitor.dbname), redis_url))
        try:
            refused = target.test_cli_runner().invoke(args=["restore", str(path)])
        finally:
            close_app(target)
        assert refused.exit_code == 1
        assert "this PostgreSQL does not load TimescaleDB" in refused.stderr
    cluster = clusters.get("apache")
    with new_database(cluster) as janitor:
        url = cluster.url(janitor.dbname)
        # A backup from another TimescaleDB version cannot be made on this machine: the
        # version read from the archive is replaced, the rest is real.
        monkeypatch.setattr(backups, "dumped_timescaledb", lambda source, url: "2.0.0")
        target = create_app(make_env(url, redis_url))
        try:
            refused = target.test_cli_runner().invoke(args=["restore", str(path)])
        finally:
            close_app(target)
        assert refused.exit_code == 1
        assert "made with TimescaleDB 2.0.0, and a restore needs that same version" in (
            refused.stderr
        )
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM pg_extension").fetchone() == (1,)


def test_backup_errors_name_no_password_and_leave_no_file(redis_url, tmp_path):
    url = f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/sungrow"
    app = create_app(make_env(url, redis_url))
    try:
        result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "b.dump")])
    finally:
        close_app(app)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: pg_dump failed (exit 1): ")
    assert "hunter2" not in result.output
    assert list(tmp_path.iterdir()) == []
