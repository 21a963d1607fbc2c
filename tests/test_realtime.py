"""GET /v1/realtime: the newest sample, through a best-effort Redis cache."""

import json
import logging
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from sungrow_server import create_app
from sungrow_server.realtime.cache import get_cache
from sungrow_server.testing import RedisServer, free_port
from tests.helpers import AUTH, close_app, make_env, sample

URL = "/v1/realtime?device_id=inverter-01"
KEY = "realtime:inverter-01"


def ingest(client, *samples):
    response = client.post("/v1/ingest", json={"samples": list(samples)}, headers=AUTH)
    assert response.status_code == 200
    return response


def test_no_data_is_404(client):
    response = client.get(URL, headers=AUTH)
    assert response.status_code == 404
    assert response.json == {"detail": "No data found for device_id 'inverter-01'."}


@pytest.mark.parametrize("query", ["", "?device_id=", "?device=inverter-01"])
def test_missing_device_id_is_422(client, query):
    response = client.get(f"/v1/realtime{query}", headers=AUTH)
    assert response.status_code == 422
    assert response.json["detail"][0]["loc"] == ["query", "device_id"]
    assert response.json["detail"][0]["type"] == "missing"


def test_newest_sample_with_every_field(client):
    ingest(
        client,
        sample("2026-11-28T10:00:00Z", pv_power_w=1.0),
        sample("2026-11-28T10:00:10+01:00", pv_power_w=2.0),  # 09:00:10 UTC, older
        sample("2026-11-28T10:00:05Z", pv_power_w=3.0, battery_temp_c=None, sample_count=5),
    )
    response = client.get(URL, headers=AUTH)
    assert response.status_code == 200
    assert response.json == {
        "device_id": "inverter-01",
        "ts": "2026-11-28T10:00:05+00:00",
        "pv_power_w": 3.0,
        "pv_daily_kwh": 3.5,
        "battery_power_w": 250.0,
        "battery_soc_pct": 64.0,
        "battery_temp_c": None,
        "load_power_w": 800.0,
        "export_power_w": 150.0,
        "sample_count": 5,
    }


def test_miss_reads_database_and_fills_cache(client, redis_server):
    ingest(client, sample("2026-11-28T10:00:00Z"))
    cache = redis_server.client()
    cache.delete(KEY)
    first = client.get(URL, headers=AUTH).json
    assert first["ts"] == "2026-11-28T10:00:00+00:00"
    held = cache.get(KEY)
    assert held is not None and json.loads(held.split(b"|", 1)[1]) == first
    assert 0 < cache.pttl(KEY) <= 5000


def test_hit_is_served_from_cache(client, redis_server):
    ingest(client, sample("2026-11-28T10:00:00Z"))
    cache = redis_server.client()
    stamp, _, body = cache.get(KEY).partition(b"|")
    marked = json.loads(body)
    marked["pv_power_w"] = 4242.0
    cache.set(KEY, stamp + b"|" + json.dumps(marked).encode(), px=5000)
    assert client.get(URL, headers=AUTH).json["pv_power_w"] == 4242.0


def test_ttl_follows_setting(database_url, redis_url, redis_server):
    app = create_app(make_env(database_url, redis_url, CACHE_TTL_S="2"))
    try:
        client = app.test_client()
        ingest(client, sample())
        assert 1000 < redis_server.client().pttl(KEY) <= 2000
    finally:
        close_app(app)


def test_ingest_refreshes_cache_at_once(client):
    ingest(client, sample("2026-11-28T10:00:00Z"))
    assert client.get(URL, headers=AUTH).json["ts"] == "2026-11-28T10:00:00+00:00"
    ingest(client, sample("2026-11-28T10:00:05Z", pv_power_w=9.0))
    answer = client.get(URL, headers=AUTH).json
    assert answer["ts"] == "2026-11-28T10:00:05+00:00"
    assert answer["pv_power_w"] == 9.0


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"battery_temp_c": None, "pv_daily_kwh": None, "sample_count": 7},
        {"pv_power_w": 1e-12, "export_power_w": -0.1, "battery_power_w": 123456789.125},
    ],
)
def test_cache_filled_by_ingest_matches_database(client, redis_server, fields):
    # The ingest puts its own newest sample in the cache; a miss reads the stored row.
    newest = sample("2026-11-28T11:00:05+01:00", **fields)
    ingest(client, sample("2026-11-28T10:00:00Z"), newest, sample("2026-11-28T09:59:00Z"))
    from_ingest = client.get(URL, headers=AUTH)
    redis_server.client().delete(KEY)
    from_database = client.get(URL, headers=AUTH)
    assert from_ingest.data == from_database.data
    assert from_ingest.json["ts"] == "2026-11-28T10:00:05+00:00"


def test_batch_ending_on_a_stored_sample_leaves_the_stored_one(client, redis_server):
    ingest(client, sample("2026-11-28T10:00:05Z", pv_power_w=5.0))
    redis_server.client().delete(KEY)
    # Its newest sample is a repeat (skipped); the one stored stays the answer.
    ingest(client, sample("2026-11-28T10:00:00Z"), sample("2026-11-28T10:00:05Z", pv_power_w=9.0))
    assert client.get(URL, headers=AUTH).json["pv_power_w"] == 5.0


@pytest.mark.parametrize(
    "age", [timedelta(minutes=10), timedelta(days=1), timedelta(days=30), timedelta(days=400)]
)
def test_newest_sample_of_a_device_silent_for_a_while(client, redis_server, age):
    # Looked for in widening windows back from now: each one finds the newest there is.
    newest = (datetime.now(UTC) - age).replace(microsecond=0)
    ingest(client, sample((newest - timedelta(days=500)).isoformat(), pv_power_w=1.0))
    ingest(client, sample(newest.isoformat(), pv_power_w=2.0))
    redis_server.client().delete(KEY)
    answer = client.get(URL, headers=AUTH).json
    assert (answer["ts"], answer["pv_power_w"]) == (newest.isoformat(), 2.0)


def test_late_older_batch_never_replaces_newer(client, redis_server):
    ingest(client, sample("2026-11-28T10:00:00Z", pv_power_w=1.0))
    ingest(client, sample("2026-11-27T08:00:00Z", pv_power_w=2.0))  # a spool flushed late
    assert client.get(URL, headers=AUTH).json["pv_power_w"] == 1.0
    redis_server.client().delete(KEY)  # and also when the cache had expired
    ingest(client, sample("2026-11-26T08:00:00Z", pv_power_w=3.0))
    assert client.get(URL, headers=AUTH).json["pv_power_w"] == 1.0


def test_stale_reader_cannot_overwrite_newer(app, redis_server):
    # A reader that read the database before an ingest committed offers an older sample
    # afterwards: the cache keeps the newer one.
    client = app.test_client()
    ingest(client, sample("2026-11-28T10:00:05Z", pv_power_w=5.0))
    cache = get_cache(app)
    from datetime import UTC, datetime

    older = {**sample(pv_power_w=1.0), "ts": datetime(2026, 11, 28, 10, 0, tzinfo=UTC)}
    cache.offer(older)
    assert client.get(URL, headers=AUTH).json["pv_power_w"] == 5.0


@pytest.mark.parametrize(
    "garbage",
    [
        b"not json at all",
        b"00000000000000000001|{broken",
        b"00000000000000000001|[1]",
        b'00000000000000000001|{"a": "\xff"}',
        b"\xff\xfe",
        b"123|[]",
    ],
)
def test_garbage_in_cache_is_ignored(client, redis_server, caplog, garbage):
    ingest(client, sample("2026-11-28T10:00:00Z", pv_power_w=7.0))
    redis_server.client().set(KEY, garbage)
    with caplog.at_level(logging.WARNING):
        response = client.get(URL, headers=AUTH)
    assert response.status_code == 200
    assert response.json["pv_power_w"] == 7.0
    assert "unreadable value" in caplog.text
    # the database answer replaces the garbage
    assert redis_server.client().get(KEY).split(b"|", 1)[0].isdigit()


def test_redis_down_serves_from_database(database_url, caplog):
    app = create_app(make_env(database_url, f"redis://127.0.0.1:{free_port()}/0"))
    try:
        client = app.test_client()
        with caplog.at_level(logging.WARNING):
            assert client.post("/v1/ingest", json={"samples": [sample()]}, headers=AUTH).json == {
                "inserted": 1
            }
            response = client.get(URL, headers=AUTH)
        assert response.status_code == 200
        assert response.json["ts"] == "2026-11-28T10:00:00+00:00"
        assert "redis" in caplog.text and "WARNING" in caplog.text
    finally:
        close_app(app)


def test_redis_killed_while_serving(database_url):
    server = RedisServer().start()
    app = create_app(make_env(database_url, server.url))
    try:
        client = app.test_client()
        ingest(client, sample("2026-11-28T10:00:00Z"))
        assert client.get(URL, headers=AUTH).status_code == 200
        server.stop()
        ingest(client, sample("2026-11-28T10:00:05Z", pv_power_w=2.0))
        answer = client.get(URL, headers=AUTH)
        assert answer.status_code == 200
        assert answer.json["ts"] == "2026-11-28T10:00:05+00:00"
    finally:
        server.stop()
        close_app(app)


def test_redis_hung_costs_milliseconds(database_url):
    server = RedisServer().start()
    app = create_app(make_env(database_url, server.url, REDIS_TIMEOUT_MS="100"))
    try:
        client = app.test_client()
        ingest(client, sample("2026-11-28T10:00:00Z"))
        server.process.send_signal(signal.SIGSTOP)
        timings = []
        for second in range(1, 6):
            start = time.monotonic()
            ingest(client, sample(f"2026-11-28T10:00:0{second}Z", pv_power_w=float(second)))
            answer = client.get(URL, headers=AUTH)
            timings.append(time.monotonic() - start)
            assert answer.status_code == 200
            assert answer.json["pv_power_w"] == float(second)
        # Each request waits at most one Redis timeout (100 ms), and after a failure Redis
        # is skipped for a while, so most requests do not wait at all.
        assert max(timings) < 1.0
        assert sum(timings) < 1.5
        # Redis wakes up still holding the sample cached before it hung: the refreshes
        # that failed meanwhile make sure that it is not served.
        server.process.send_signal(signal.SIGCONT)
        time.sleep(1.2)
        assert client.get(URL, headers=AUTH).json["pv_power_w"] == 5.0
    finally:
        server.process.send_signal(signal.SIGCONT)
        server.stop()
        close_app(app)


def test_a_late_reply_never_answers_another_device(database_url):
    """A GET that timed out leaves its reply on the way; the next GET must not read it."""
    server = RedisServer().start()
    app = create_app(make_env(database_url, server.url, REDIS_TIMEOUT_MS="100"))
    auth_02 = {"Authorization": "Bearer token-02"}
    try:
        client = app.test_client()
        ingest(client, sample("2026-11-28T10:00:00Z", pv_power_w=1.0))
        other = sample("2026-11-28T10:00:00Z", device_id="inverter-02", pv_power_w=2.0)
        assert (
            client.post("/v1/ingest", json={"samples": [other]}, headers=auth_02).status_code == 200
        )
        server.process.send_signal(signal.SIGSTOP)
        assert client.get(URL, headers=AUTH).json["pv_power_w"] == 1.0  # from PostgreSQL
        server.process.send_signal(signal.SIGCONT)  # now Redis answers that GET, too late
        time.sleep(1.2)  # past the back-off
        answer = client.get("/v1/realtime?device_id=inverter-02", headers=auth_02)
        assert answer.json["device_id"] == "inverter-02"
        assert answer.json["pv_power_w"] == 2.0
    finally:
        server.process.send_signal(signal.SIGCONT)
        server.stop()
        close_app(app)


def test_concurrent_readers_each_get_their_own_device(app, redis_server):
    """gunicorn's threads share the cache: each reads on a connection of its own."""
    client = app.test_client()
    auth_02 = {"Authorization": "Bearer token-02"}
    ingest(client, sample("2026-11-28T10:00:00Z", pv_power_w=1.0))
    other = sample("2026-11-28T10:00:00Z", device_id="inverter-02", pv_power_w=2.0)
    assert client.post("/v1/ingest", json={"samples": [other]}, headers=auth_02).status_code == 200
    cache = get_cache(app)

    def read(device_id: str) -> set:
        return {json.loads(cache.get(device_id))["device_id"] for _ in range(300)}

    devices = ["inverter-01", "inverter-02"] * 4
    with ThreadPoolExecutor(len(devices)) as pool:
        assert list(pool.map(read, devices)) == [{device} for device in devices]
