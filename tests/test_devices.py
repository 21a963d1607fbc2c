"""GET /v1/devices: exactly what the presented token can read, and how fresh each device is."""

from datetime import UTC, datetime, timedelta

import pytest

from sungrow_server import create_app
from sungrow_server.devices import register_device_fields
from tests.helpers import (
    API_EDITIONS,
    AUTH,
    bearer,
    cli,
    close_app,
    make_env,
    make_token,
    sample,
    single_edition,
)

# Stored devices and newest samples are read on every edition (hypertables, chunks);
# the rest is the same everywhere and runs on plain PostgreSQL.
edition = single_edition("postgresql")


def ingest(client, headers, *samples):
    response = client.post("/v1/ingest", json={"samples": list(samples)}, headers=headers)
    assert response.status_code == 200, response.json


def ago(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat()


@pytest.fixture
def fleet(app, client):
    """Data for three devices (one only known from its data), a site `roof`, and tokens."""
    ingest(client, AUTH, sample(ago(30)))
    ingest(client, bearer("token-02"), sample(ago(7200), device_id="inverter-02"))
    edge = make_token(app, "--device", "inverter-05")
    ingest(client, bearer(edge), sample(ago(5), device_id="inverter-05"))
    cli(app, "site", "create", "roof", "--device", "inverter-01", "--device", "inverter-03")
    cli(app, "site", "create", "barn", "--device", "inverter-02")
    return client


def devices(client, token: str) -> dict:
    response = client.get("/v1/devices", headers=bearer(token))
    assert response.status_code == 200, response.json
    return response.json


def ids(answer: dict) -> list[str]:
    return [entry["device_id"] for entry in answer["devices"]]


@pytest.mark.parametrize("edition", API_EDITIONS)
def test_device_token_sees_its_device_and_no_site(fleet):
    answer = devices(fleet, "token-01")
    assert answer["role"] == "device"
    assert answer["timezone"] == "UTC" and answer["stale_after_s"] == 600
    assert answer["sites"] == []
    (entry,) = answer["devices"]
    assert list(entry) == [
        *("device_id", "last_ts", "age_s", "stale"),
        *("last_refused", "refused_since_stored", "unknown_fields"),  # a stuck edge
    ]
    assert entry["device_id"] == "inverter-01"
    assert 29 <= entry["age_s"] < 90 and entry["stale"] is False
    assert datetime.fromisoformat(entry["last_ts"]) < datetime.now(UTC)


@pytest.mark.parametrize("edition", API_EDITIONS)
def test_read_only_scopes(app, fleet):
    site = devices(fleet, make_token(app, "--site", "roof", "--read-only"))
    assert site["role"] == "read-only"
    assert ids(site) == ["inverter-01", "inverter-03"]
    assert site["sites"] == [{"site_id": "roof", "devices": ["inverter-01", "inverter-03"]}]
    named = devices(fleet, make_token(app, "--device", "inverter-02", "--read-only"))
    assert ids(named) == ["inverter-02"] and named["sites"] == []
    mixed = make_token(app, "--device", "inverter-05", "--site", "barn", "--read-only")
    assert ids(devices(fleet, mixed)) == ["inverter-02", "inverter-05"]
    everything = devices(fleet, make_token(app, "--all", "--read-only"))
    # DEVICE_TOKENS, database tokens, site members and stored data, each once, sorted
    assert ids(everything) == [
        "inverter-01",
        "inverter-02",
        "inverter-03",
        "inverter-05",
    ]
    assert [s["site_id"] for s in everything["sites"]] == ["barn", "roof"]


@pytest.mark.parametrize("edition", API_EDITIONS)
def test_devices_only_known_from_stored_data_are_listed_for_all(app, client, db):
    db.execute(
        "INSERT INTO sungrow_samples (device_id, ts, pv_power_w, battery_power_w, "
        "battery_soc_pct, load_power_w, export_power_w) VALUES "
        "('retired-inverter', '2024-01-01T00:00:00Z', 0, 0, 50, 0, 0)"
    )
    answer = devices(client, make_token(app, "--all", "--read-only"))
    assert ids(answer) == ["inverter-01", "inverter-02", "retired-inverter"]
    retired = answer["devices"][-1]
    assert retired["last_ts"] == "2024-01-01T00:00:00+00:00" and retired["stale"] is True


def test_no_data_is_stale_with_null_times(app, client):
    cli(app, "site", "create", "roof", "--device", "inverter-09")
    answer = devices(client, make_token(app, "--site", "roof", "--read-only"))
    assert answer["devices"] == [
        {
            **{"device_id": "inverter-09", "last_ts": None, "age_s": None, "stale": True},
            **{"last_refused": None, "refused_since_stored": 0, "unknown_fields": 0},
        }
    ]


def test_stale_follows_stale_after_s(database_url, redis_url):
    app = create_app(make_env(database_url, redis_url, STALE_AFTER_S="60"))
    try:
        client = app.test_client()
        ingest(client, AUTH, sample(ago(45)))
        ingest(client, bearer("token-02"), sample(ago(75), device_id="inverter-02"))
        answer = devices(client, make_token(app, "--all", "--read-only"))
        assert answer["stale_after_s"] == 60
        assert [(e["device_id"], e["stale"]) for e in answer["devices"]] == [
            ("inverter-01", False),
            ("inverter-02", True),
        ]
    finally:
        close_app(app)


def test_cached_and_stored_times_agree(app, client, redis_server):
    ingest(client, AUTH, sample(ago(20)))
    cached = devices(client, "token-01")["devices"][0]
    redis_server.client().delete("realtime:inverter-01")
    stored = devices(client, "token-01")["devices"][0]
    assert cached["last_ts"] == stored["last_ts"]


def refuse(client, headers, *samples) -> dict:
    response = client.post("/v1/ingest", json={"samples": list(samples)}, headers=headers)
    assert response.status_code == 422, response.json
    return response.json


def test_a_refused_batch_shows_until_newer_data_is_stored(app, client, redis_server):
    ingest(client, AUTH, sample(ago(60)))
    started = datetime.now(UTC)
    for _ in range(2):  # the edge daemon retries the same batch
        refuse(client, AUTH, sample(ago(50), battery_soc_pct=101))
    other = make_token(app, "--device", "inverter-02", "--read-only")
    everything = make_token(app, "--all", "--read-only")
    listed = {e["device_id"]: e for e in devices(client, everything)["devices"]}
    stuck = listed["inverter-01"]
    assert stuck["refused_since_stored"] == 2
    refused = stuck["last_refused"]
    assert (refused["status"], refused["detail"]) == (
        422,
        "samples.0.battery_soc_pct: Input should be between 0 and 100",
    )
    assert started <= datetime.fromisoformat(refused["at"]) <= datetime.now(UTC)
    assert listed["inverter-02"]["last_refused"] is None
    assert devices(client, other)["devices"][0]["refused_since_stored"] == 0
    # Whether the newest sample's time comes from Redis or from PostgreSQL.
    redis_server.client().delete("realtime:inverter-01")
    assert devices(client, "token-01")["devices"][0]["refused_since_stored"] == 2

    ingest(client, AUTH, sample(ago(40)))  # the edge got past it
    (entry,) = devices(client, "token-01")["devices"]
    assert entry["refused_since_stored"] == 0 and entry["last_refused"] == refused
    redis_server.client().delete("realtime:inverter-01")
    assert devices(client, "token-01")["devices"][0]["refused_since_stored"] == 0
    refuse(client, AUTH, sample(ago(30), battery_soc_pct=-1))  # stuck again: from 1
    (entry,) = devices(client, "token-01")["devices"]
    assert entry["refused_since_stored"] == 1
    assert entry["last_refused"]["detail"].startswith("samples.0.battery_soc_pct: ")


def test_unknown_fields_are_counted_per_device(app, client):
    newer = {"grid_frequency_hz": 50.01, "firmware": "2.1"}  # an edge newer than the server
    ingest(client, AUTH, sample(ago(20)) | newer, sample(ago(15)) | {"firmware": "2.1"})
    ingest(client, bearer("token-02"), sample(ago(10), device_id="inverter-02"))
    # Counted in each worker and written within seconds; the flush stands for the wait.
    app.extensions["sungrow.unknown_fields"].flush()
    answer = devices(client, make_token(app, "--all", "--read-only"))
    counts = {entry["device_id"]: entry["unknown_fields"] for entry in answer["devices"]}
    assert counts == {"inverter-01": 3, "inverter-02": 0}
    ingest(client, AUTH, sample(ago(5)) | {"firmware": "2.1"})
    app.extensions["sungrow.unknown_fields"].flush()
    assert devices(client, "token-01")["devices"][0]["unknown_fields"] == 4


def test_another_room_can_add_fields(app, client):
    seen = []

    def refused(conn, device_ids):
        seen.append(list(device_ids))
        return {"inverter-01": {"last_refused": None, "refused_since_stored": 0}}

    register_device_fields(app, refused)
    (entry,) = devices(client, "token-01")["devices"]
    assert entry["last_refused"] is None and entry["refused_since_stored"] == 0
    assert seen == [["inverter-01"]]


def test_needs_a_token(client):
    response = client.get("/v1/devices")
    assert response.status_code == 401
    assert response.json == {"detail": "Missing authorization credentials."}
