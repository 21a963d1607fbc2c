"""Operations in the app: request ids, metrics and their gate, the stuck-edge status,
readiness against a PostgreSQL and a Redis the test stops, JSON log lines."""

import json
import logging
import threading
import time
from datetime import datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sungrow_server import create_app
from sungrow_server.db.initdb import apply_schema
from sungrow_server.db.pool import get_pool
from sungrow_server.ops import edges
from sungrow_server.ops.edges import edge_status
from sungrow_server.ops.logs import JsonAccessFormatter, JsonFormatter
from sungrow_server.testing import PgCluster, RedisServer
from tests.helpers import AUTH, close_app, make_env, sample


def post(client, samples, headers=AUTH):
    return client.post("/v1/ingest", json={"samples": samples}, headers=headers)


def scrape(client, **kwargs) -> dict:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.data
    found = {}
    for family in text_string_to_metric_families(response.data.decode()):
        for s in family.samples:
            found[s.name, tuple(sorted(s.labels.items()))] = s.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_request_id_is_taken_or_made_and_returned(client):
    given = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    made = client.get("/v1/realtime?device_id=inverter-01")  # a 401 carries one too
    assert made.status_code == 401 and len(made.headers["X-Request-ID"]) == 32
    odd = client.get("/health", headers={"X-Request-ID": 'bad id {"level": "error"}'})
    assert len(odd.headers["X-Request-ID"]) == 32  # not one that could forge a log line


def test_metrics_count_exactly_what_was_sent(client):
    before = scrape(client)
    assert post(client, [sample(f"2026-11-28T10:00:{s:02d}Z") for s in range(3)]).json == {
        "inserted": 3
    }
    post(client, [sample("2026-11-28T10:00:00Z")])  # a repeat stores nothing
    post(client, [sample("2026-11-28T10:01:00Z", battery_soc_pct=101)])  # 422
    post(client, [sample()], headers={"Authorization": "Bearer wrong"})  # 401
    client.get("/v1/realtime?device_id=inverter-01", headers=AUTH)
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("sungrow_ingest_samples_stored_total", device="inverter-01") == 3
    assert delta("sungrow_ingest_refused_total", status="422", device="inverter-01") == 1
    assert delta("sungrow_ingest_refused_total", status="401", device="") == 1
    ok = {"endpoint": "/v1/ingest", "method": "POST", "status": "200"}
    assert delta("sungrow_http_requests_total", **ok) == 2
    assert delta("sungrow_http_request_duration_seconds_count", endpoint="/v1/ingest") == 4
    results = ("hit", "miss", "skipped", "error")  # a loaded machine can time Redis out
    assert sum(delta("sungrow_cache_requests_total", result=r) for r in results) == 1
    assert value(after, "sungrow_database_up") == 1
    newest = value(after, "sungrow_device_last_sample_timestamp_seconds", device="inverter-01")
    assert newest == 1795860002.0  # 2026-11-28T10:00:02Z
    assert value(after, "sungrow_device_refused_since_stored", device="inverter-01") == 1


def test_metrics_only_for_allowed_addresses(app_env):
    app = create_app({**app_env, "METRICS_ALLOW": "10.1.0.0/16"})
    try:
        client = app.test_client()
        assert client.get("/metrics").status_code == 404  # from 127.0.0.1
        # Behind nginx (a trusted proxy) the forwarded address decides.
        through = {"X-Forwarded-For": "10.1.2.3"}
        assert client.get("/metrics", headers=through).status_code == 200
        outside = {"X-Forwarded-For": "203.0.113.7"}
        response = client.get("/metrics", headers=outside)
        assert (response.status_code, response.json) == (404, {"detail": "Not Found"})
    finally:
        close_app(app)


def test_a_stuck_edge_is_visible_until_newer_data_is_stored(app, client, db):
    post(client, [sample("2026-11-28T10:00:00Z")])
    for _ in range(2):
        bad = post(client, [sample("2026-11-28T10:00:05Z", battery_soc_pct=101)])
        assert bad.status_code == 422
    status = edge_status(db, ["inverter-01", "inverter-02"])
    refused = status["inverter-01"]["last_refused"]
    assert refused["status"] == 422
    assert refused["detail"] == "samples.0.battery_soc_pct: Input should be between 0 and 100"
    assert status["inverter-01"]["refused_since_stored"] == 2
    assert status["inverter-02"] == {
        "last_refused": None,
        "refused_since_stored": 0,
        "unknown_fields": 0,
    }
    assert post(client, [sample("2026-11-28T10:00:10Z")]).status_code == 200
    after = edge_status(db, ["inverter-01"])["inverter-01"]
    assert after["refused_since_stored"] == 0 and after["last_refused"] == refused
    bad = post(client, [sample("2026-11-28T10:00:15Z", device_id="inverter-02")])
    assert bad.status_code == 403  # counts again, from 1
    assert edge_status(db, ["inverter-01"])["inverter-01"]["refused_since_stored"] == 1


def test_a_newest_time_that_lags_does_not_clear_a_stuck_edge(client, db):
    post(client, [sample("2026-11-28T10:00:00Z")])
    assert post(client, [sample("2026-11-28T10:00:05Z", battery_soc_pct=101)]).status_code == 422

    def since(newest: str) -> int:
        known = {"inverter-01": datetime.fromisoformat(newest)}
        return edge_status(db, ["inverter-01"], newest=known)["inverter-01"]["refused_since_stored"]

    # GET /v1/devices passes what the realtime cache holds, which may lag a commit.
    assert since("2026-11-28T09:59:55+00:00") == 1
    assert since("2026-11-28T10:00:00+00:00") == 1
    assert since("2026-11-28T10:00:10+00:00") == 0  # newer data: the edge got past it


def redis_calls(client) -> dict[str, int]:
    """Calls by command, as Redis counts them (the commands a script runs count too)."""
    return {k: v["calls"] for k, v in client.info("commandstats").items() if k != "cmdstat_info"}


def test_a_stored_batch_costs_no_round_trip_more(app, client, redis_server, monkeypatch):
    # The operations hooks (metrics, request id, stuck-edge and unknown-field bookkeeping)
    # add nothing to a stored batch: one pool connection (its transaction) and one Redis
    # call (the realtime cache's script), as without them.
    post(client, [sample("2026-11-28T09:00:00Z")]).close()  # the cache script is loaded
    pool, taken = get_pool(app), []
    getconn = pool.getconn
    monkeypatch.setattr(pool, "getconn", lambda *a, **k: taken.append(a) or getconn(*a, **k))
    redis = redis_server.client()
    before = redis_calls(redis)
    response = post(client, [sample("2026-11-28T10:00:00Z") | {"firmware": "2.1"}])
    assert response.status_code == 200
    response.close()  # and what runs once the answer has gone out
    after = redis_calls(redis)
    made = {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
    assert len(taken) == 1
    assert made == {"cmdstat_evalsha": 1, "cmdstat_get": 1, "cmdstat_set": 1}  # the script


def stored_unknown(db):
    row = db.execute(
        "SELECT unknown_fields FROM sungrow_device_status WHERE device_id = 'inverter-01'"
    ).fetchone()
    return row[0] if row else None


def test_unknown_field_counts_are_written_once_answered_and_by_no_thread(app_env, db, monkeypatch):
    monkeypatch.setattr(edges, "FLUSH_AFTER_S", 0.0)  # due at once, instead of seconds later
    app = create_app(app_env)
    try:
        client = app.test_client()
        threads = threading.active_count()
        response = post(client, [sample() | {"grid_frequency_hz": 50.0}])
        assert response.status_code == 200
        # Nothing works behind the requests' back: a write from a thread of its own would
        # borrow a pool connection at any moment.
        assert threading.active_count() == threads
        assert stored_unknown(db) is None  # not before the answer has gone out
        response.close()  # what a WSGI server does once the answer is sent
        assert stored_unknown(db) == 1
    finally:
        close_app(app)


def test_closing_the_app_writes_pending_counts_before_the_pool_closes(app_env, db):
    app = create_app(app_env)  # counts wait FLUSH_AFTER_S for a later request
    try:
        response = post(app.test_client(), [sample() | {"firmware": "2.1", "mppt3_w": 1.0}])
        response.close()
        assert stored_unknown(db) is None
    finally:
        close_app(app)  # as gunicorn's worker_exit: before the pool closes
    assert stored_unknown(db) == 2


@pytest.fixture
def own_servers():
    """A PostgreSQL and a Redis of this test's own, to stop."""
    cluster = PgCluster().start()
    redis_server = RedisServer().start()
    apply_schema(cluster.url(), "UTC", lambda line: None)
    yield cluster, redis_server
    cluster.destroy()
    redis_server.stop()


@pytest.mark.slow
def test_readiness_follows_postgresql_and_redis(own_servers):
    cluster, redis_server = own_servers
    app = create_app(make_env(cluster.url(), redis_server.url, RETRY_AFTER_S="9"))
    try:
        client = app.test_client()
        ready = client.get("/health/ready")
        assert (ready.status_code, ready.json) == (
            200,
            {
                "status": "ok",
                "database": "ok",
                "redis": "ok",
                "edition": "postgresql",
                "reasons": [],
            },
        )
        cluster.stop()
        down = client.get("/health/ready")
        assert down.status_code == 503 and down.headers["Retry-After"] == "9"
        assert down.json == {"detail": "Database unavailable, try again later."}
        assert client.get("/health").status_code == 200  # liveness does not change
        cluster.start()
        # The pool reconnects with a backoff of its own: ready again within seconds.
        deadline = time.monotonic() + 15
        while client.get("/health/ready").status_code != 200:
            assert time.monotonic() < deadline, "not ready after PostgreSQL came back"
        assert client.get("/health/ready").json["status"] == "ok"
        redis_server.process.kill()
        redis_server.process.wait()
        degraded = client.get("/health/ready")
        assert degraded.status_code == 200
        assert (degraded.json["status"], degraded.json["redis"]) == ("degraded", "unavailable")
    finally:
        close_app(app)


def test_json_lines_carry_the_request_and_no_secret(client):
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(JsonFormatter().format(record))

    handler = Keep()
    logging.getLogger("sungrow_server").addHandler(handler)
    try:
        # A refused batch whose status cannot be recorded logs inside the request.
        response = client.get("/v1/realtime?device_id=inverter-01", headers=AUTH)
    finally:
        logging.getLogger("sungrow_server").removeHandler(handler)
    assert response.status_code == 404
    access = logging.LogRecord("gunicorn.access", logging.INFO, "", 0, "%(m)s", None, None)
    access.args = {
        "m": "GET",
        "U": "/v1/realtime",
        "s": "404",
        "D": 1834,
        "h": "127.0.0.1",
        "{authorization}i": "Bearer token-01",
        "client": "203.0.113.9",  # gunicorn.conf.py's AccessLogger: the forwarded address
        "{sungrow.request_id}e": response.headers["X-Request-ID"],
        "{sungrow.device_id}e": "inverter-01",
    }
    line = json.loads(JsonAccessFormatter().format(access))
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert (line["method"], line["path"], line["status"]) == ("GET", "/v1/realtime", 404)
    assert (line["duration_ms"], line["client"], line["device"]) == (
        1.834,
        "203.0.113.9",
        "inverter-01",
    )
    assert "token-01" not in json.dumps(line)
    for text in records:
        assert "token-01" not in text and json.loads(text)["level"]
