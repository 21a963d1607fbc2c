"""POST /v1/ingest against real PostgreSQL (each edition) and Redis."""

import gzip
import json
import threading
from datetime import UTC, datetime

import psycopg
import pytest

from sungrow_server import create_app
from sungrow_server.model.energy import RECOMPUTE_ALL
from tests.helpers import AUTH, close_app, make_env, sample, stored_rows
from tests.reference import make_data


def post(client, body, headers=None, **kwargs):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(
        "/v1/ingest",
        data=data,
        headers={**AUTH, "Content-Type": "application/json", **(headers or {})},
        **kwargs,
    )


def test_batch_is_stored_and_counted(client, db):
    batch = [sample(f"2026-11-28T10:00:{s:02d}Z", pv_power_w=float(s)) for s in range(0, 30, 5)]
    response = post(client, {"samples": batch})
    assert response.status_code == 200
    assert response.json == {"inserted": 6}
    rows = stored_rows(db)
    assert [row[1] for row in rows] == [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
    assert rows[0][0] == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def test_every_field_is_stored(client, db):
    post(client, {"samples": [sample(sample_count=12, battery_temp_c=None)]})
    row = db.execute(
        "SELECT device_id, pv_power_w, pv_daily_kwh, battery_power_w, battery_soc_pct, "
        "battery_temp_c, load_power_w, export_power_w, sample_count FROM sungrow_samples"
    ).fetchone()
    assert row == ("inverter-01", 1200.0, 3.5, 250.0, 64.0, None, 800.0, 150.0, 12)


def test_optional_fields_default(client, db):
    body = sample()
    for name in ("pv_daily_kwh", "battery_temp_c", "sample_count"):
        del body[name]
    assert post(client, {"samples": [body]}).json == {"inserted": 1}
    row = db.execute(
        "SELECT pv_daily_kwh, battery_temp_c, sample_count FROM sungrow_samples"
    ).fetchone()
    assert row == (None, None, 1)


def test_repeated_batch_is_idempotent(client, db):
    batch = [sample("2026-11-28T10:00:00Z"), sample("2026-11-28T10:00:05Z")]
    assert post(client, {"samples": batch}).json == {"inserted": 2}
    assert post(client, {"samples": batch}).json == {"inserted": 0}
    overlapping = [sample("2026-11-28T10:00:05Z"), sample("2026-11-28T10:00:10Z")]
    assert post(client, {"samples": overlapping}).json == {"inserted": 1}
    assert len(stored_rows(db)) == 3


def test_same_instant_in_other_offset_is_a_duplicate(client, db):
    post(client, {"samples": [sample("2026-11-28T10:00:00Z")]})
    response = post(client, {"samples": [sample("2026-11-28T11:00:00+01:00")]})
    assert response.json == {"inserted": 0}


def test_duplicate_inside_one_batch_keeps_the_first(client, db):
    batch = [
        sample("2026-11-28T10:00:00Z", pv_power_w=1.0),
        sample("2026-11-28T11:00:00+01:00", pv_power_w=5.0),
    ]
    assert post(client, {"samples": batch}).json == {"inserted": 1}
    assert [row[1] for row in stored_rows(db)] == [1.0]


def test_empty_batch(client, db):
    assert post(client, {"samples": []}).json == {"inserted": 0}


def test_timestamp_without_offset_is_utc(client, db):
    post(client, {"samples": [sample("2026-11-28T10:00:00")]})
    assert stored_rows(db)[0][0] == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def test_offset_is_converted_to_utc(client, db):
    post(client, {"samples": [sample("2026-11-28T21:30:00+11:00")]})
    assert stored_rows(db)[0][0] == datetime(2026, 11, 28, 10, 30, tzinfo=UTC)


def test_gzip_body_is_accepted(client, db):
    body = gzip.compress(json.dumps({"samples": [sample()]}).encode())
    response = post(client, body, {"Content-Encoding": "gzip"})
    assert response.json == {"inserted": 1}


@pytest.mark.parametrize("split", [1, 10, 65_500, 70_000, -1])
def test_gzip_body_of_several_members_is_read_to_the_end(client, db, split):
    # RFC 1952: a gzip body is one or more members; `gzip a b` makes such bodies. The
    # text may be cut anywhere, also where the body is read in two (64 KiB: stored
    # blocks, uncompressed, put the next member's header across that boundary for
    # 65_500), and every part counts.
    batch = [
        sample(f"2026-11-28T{10 + i // 720:02d}:{i // 12 % 60:02d}:{i % 12 * 5:02d}Z")
        for i in range(1000)
    ]
    text = json.dumps({"samples": batch}).encode()
    body = gzip.compress(text[:split], compresslevel=0) + gzip.compress(text[split:])
    response = post(client, body, {"Content-Encoding": "gzip"})
    assert response.json == {"inserted": 1000}
    assert len(stored_rows(db)) == 1000


def test_invalid_sample_rejects_whole_batch(client, db):
    batch = [sample("2026-11-28T10:00:00Z"), sample("2026-11-28T10:00:05Z")]
    del batch[1]["pv_power_w"]
    response = post(client, {"samples": batch})
    assert response.status_code == 422
    assert response.json == {
        "detail": [
            {"loc": ["samples", 1, "pv_power_w"], "msg": "Field required", "type": "missing"}
        ]
    }
    assert stored_rows(db) == []


@pytest.mark.parametrize(
    ("field", "value", "msg"),
    [
        ("pv_power_w", "12", "Input should be a valid number"),
        ("pv_power_w", True, "Input should be a valid number"),
        ("pv_power_w", None, "Field required"),
        ("load_power_w", 1e400, "Input should be a finite number"),
        ("battery_soc_pct", 100.5, "Input should be between 0 and 100"),
        ("battery_soc_pct", -1, "Input should be between 0 and 100"),
        ("sample_count", 0, "Input should be greater than or equal to 1"),
        ("sample_count", 2**31, "Input should be less than or equal to 2147483647"),
        ("pv_power_w", 1e308, "Input should be between -1e+09 and 1e+09"),
        ("battery_temp_c", -1e4, "Input should be between -1000 and 1000"),
        ("sample_count", 1.5, "Input should be a valid integer"),
        ("ts", "yesterday", "Input should be a valid datetime"),
        (
            "ts",
            "0001-01-01T00:00:00Z",
            "Input should be a datetime between 2000-01-01 and one day from now",
        ),
        (
            "ts",
            "9999-12-31T23:59:59Z",
            "Input should be a datetime between 2000-01-01 and one day from now",
        ),
        ("device_id", 7, "Input should be a valid string"),
        ("battery_temp_c", "hot", "Input should be a valid number"),
    ],
)
def test_schema_violations_are_422_and_store_nothing(client, db, field, value, msg):
    bad = {**sample("2026-11-28T10:00:05Z"), field: value}
    body = json.dumps({"samples": [sample(), bad]})
    response = post(client, body.replace("Infinity", "1e400"))
    assert response.status_code == 422
    assert {"loc": ["samples", 1, field], "msg": msg} in [
        {"loc": item["loc"], "msg": item["msg"]} for item in response.json["detail"]
    ]
    assert stored_rows(db) == []


def test_unknown_fields_are_ignored_and_not_stored(app, client, db):
    # Contract change: an edge daemon newer than the server is never stalled by a field
    # it added (it would retry the refused batch forever); the fields are counted.
    body = {"samples": [sample(grid_power_w=1.0, firmware="2.1"), sample("2026-11-28T10:00:05Z")]}
    response = post(client, {**body, "edge_version": "3"})
    assert (response.status_code, response.json) == (200, {"inserted": 2})
    columns = db.execute(
        "SELECT string_agg(column_name, ',') FROM information_schema.columns "
        "WHERE table_name = 'sungrow_samples'"
    ).fetchone()[0]
    assert "grid_power_w" not in columns.split(",") and len(stored_rows(db)) == 2
    app.extensions["sungrow.unknown_fields"].flush()
    assert db.execute(
        "SELECT unknown_fields FROM sungrow_device_status WHERE device_id = 'inverter-01'"
    ).fetchone() == (2,)


@pytest.mark.parametrize(
    "body",
    [{}, {"samples": "many"}, [sample()], {"samples": [3]}],
)
def test_wrong_shapes_are_422(client, db, body):
    response = post(client, body)
    assert response.status_code == 422
    assert all({"loc", "msg", "type"} <= item.keys() for item in response.json["detail"])
    assert stored_rows(db) == []


@pytest.mark.parametrize(
    "raw",
    [b"not json", b'{"samples": [', b'{"samples": [NaN]}', b"\xff\xfe{}", b"[" * 100000],
)
def test_bad_json_is_400(client, db, raw):
    response = post(client, raw)
    assert response.status_code == 400
    assert response.json == {"detail": "Request body is not valid JSON."}


def test_nan_in_a_field_is_rejected(client, db):
    raw = json.dumps({"samples": [sample(pv_power_w=float("nan"))]})
    assert post(client, raw).status_code == 400
    assert stored_rows(db) == []


def test_sample_of_other_device_is_403(client, db):
    batch = [sample(), sample("2026-11-28T10:00:05Z", device_id="inverter-02")]
    response = post(client, {"samples": batch})
    assert response.status_code == 403
    assert response.json == {"detail": "Sample device ID does not match authenticated device."}
    assert stored_rows(db) == []
    assert stored_rows(db, "inverter-02") == []


def test_too_many_samples_is_413(client, db):
    batch = [sample(f"2026-11-28T10:{i // 60:02d}:{i % 60:02d}Z") for i in range(1001)]
    response = post(client, {"samples": batch})
    assert response.status_code == 413
    assert response.json == {
        "detail": "Batch size 1001 exceeds limit of 1000. Split into smaller batches."
    }
    assert stored_rows(db) == []


def test_body_over_limit_is_413(client, db):
    raw = json.dumps({"samples": [sample()], "pad": "x" * 1048576})
    response = post(client, raw)
    assert response.status_code == 413
    assert response.json == {"detail": "Request body exceeds limit of 1048576 bytes."}
    assert stored_rows(db) == []


def test_gzip_bomb_is_refused_without_inflating(client, db):
    bomb = gzip.compress(b"[" + b" " * (200 * 1024 * 1024) + b"]", compresslevel=9)
    assert len(bomb) < 1048576
    response = post(client, bomb, {"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert response.json == {"detail": "Request body exceeds limit of 1048576 bytes."}


def test_corrupt_gzip_is_400(client, db):
    response = post(client, b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"})
    assert response.status_code == 400


def test_database_error_mid_batch_stores_nothing(client, db):
    # A trigger that fails on one row of the batch: the statement and the transaction fail
    # as a whole, so not even the rows before it may stay.
    db.execute(
        """
        CREATE FUNCTION refuse_666() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.pv_power_w = 666 THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER refuse_666 BEFORE INSERT ON sungrow_samples
        FOR EACH ROW EXECUTE FUNCTION refuse_666();
        """
    )
    batch = [
        sample(f"2026-11-28T10:00:0{i}Z", pv_power_w=666.0 if i == 5 else 1.0) for i in range(8)
    ]
    response = post(client, {"samples": batch})
    assert response.status_code == 500
    assert response.json == {"detail": "Internal server error."}
    assert stored_rows(db) == []


def test_tiny_magnitudes_are_stored_as_zero(client, db):
    post(client, {"samples": [sample(pv_power_w=5e-324, load_power_w=-1e-12)]})
    row = db.execute("SELECT pv_power_w, load_power_w FROM sungrow_samples").fetchone()
    assert row == (0.0, 0.0)


@pytest.fixture
def berlin_client(database_url, redis_url):
    app = create_app(make_env(database_url, redis_url, TIMEZONE="Europe/Berlin"))
    yield app.test_client()
    close_app(app)


def test_appended_and_merged_batches_derive_what_a_recomputation_does(berlin_client, db):
    # The same samples (a DST day, gaps, counter resets, missing counters) sent in order,
    # where each batch is appended, and newest batch first, where each is merged between
    # stored rows: both leave exactly the values init-db's recomputation would give.
    data, late = make_data("2026-10-24", "2026-10-27", "Europe/Berlin", gap_hours=2)
    data = sorted(data + late, key=lambda s: datetime.fromisoformat(s["ts"]))
    token_of = {"inverter-01": AUTH, "inverter-02": {"Authorization": "Bearer token-02"}}
    batches = [data[at : at + 40] for at in range(0, len(data), 40)]
    for device, order in (("inverter-01", batches), ("inverter-02", batches[::-1])):
        for chunk in order:
            body = {"samples": [{**item, "device_id": device} for item in chunk]}
            response = berlin_client.post("/v1/ingest", json=body, headers=token_of[device])
            assert response.json == {"inserted": len(chunk)}
    derived = """SELECT ts, interval_s, pv_energy_kwh FROM sungrow_samples
                 WHERE device_id = %s ORDER BY ts"""
    appended = db.execute(derived, ("inverter-01",)).fetchall()
    assert appended == db.execute(derived, ("inverter-02",)).fetchall()
    assert len(appended) == len(data)
    assert sum(1 for _, interval, _ in appended if interval is None) >= 2  # first, and the gap
    assert db.execute(RECOMPUTE_ALL, {"timezone": "Europe/Berlin"}).rowcount == 0


def test_counter_restarts_with_the_sites_local_day(berlin_client, db):
    # The first sample of a local day counts its whole counter, even when the counter
    # is above the previous day's last value.
    for ts, kwh in (("2026-10-24T23:59:00+02:00", 5.0), ("2026-10-25T00:00:30+02:00", 6.0)):
        body = {"samples": [sample(ts, pv_daily_kwh=kwh)]}
        assert berlin_client.post("/v1/ingest", json=body, headers=AUTH).status_code == 200
    body = {"samples": [sample("2026-10-25T00:01:00+02:00", pv_daily_kwh=6.5)]}
    assert berlin_client.post("/v1/ingest", json=body, headers=AUTH).status_code == 200
    rows = db.execute("SELECT interval_s, pv_energy_kwh FROM sungrow_samples ORDER BY ts")
    assert rows.fetchall() == [(None, 5.0), (90.0, 6.0), (30.0, 0.5)]
    assert db.execute(RECOMPUTE_ALL, {"timezone": "Europe/Berlin"}).rowcount == 0


def test_batch_racing_another_for_the_same_timestamps_is_merged(client, db, database_url):
    # Another transaction holds an uncommitted sample at one of the batch's timestamps:
    # the batch's check cannot see it, its COPY waits for it and then conflicts, and the
    # batch is merged instead: every other sample stored, the racing one kept.
    other = psycopg.connect(database_url)
    other.execute(
        "INSERT INTO sungrow_samples (device_id, ts, pv_power_w, battery_power_w, "
        "battery_soc_pct, load_power_w, export_power_w) VALUES "
        "('inverter-01', '2026-11-28T10:00:10Z', 7, 0, 50, 0, 0)"
    )
    timer = threading.Timer(0.5, other.commit)
    timer.start()
    try:
        batch = [sample(f"2026-11-28T10:00:{s:02d}Z", pv_power_w=1.0) for s in range(0, 30, 5)]
        response = post(client, {"samples": batch})
    finally:
        timer.join()
        other.close()
    assert response.json == {"inserted": 5}
    rows = stored_rows(db)
    assert [row[1] for row in rows] == [1.0, 1.0, 7.0, 1.0, 1.0, 1.0]
    intervals = db.execute("SELECT interval_s FROM sungrow_samples ORDER BY ts").fetchall()
    assert [i for (i,) in intervals] == [None, 5.0, 5.0, 5.0, 5.0, 5.0]
