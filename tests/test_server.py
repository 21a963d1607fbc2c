"""The server as users run it: gunicorn with gunicorn.conf.py, over real HTTP."""

import gzip
import json
import os
import time

import psycopg
import pytest

from sungrow_server.db.initdb import apply_schema
from sungrow_server.testing import Gunicorn, PgCluster
from tests.helpers import make_env, sample, single_edition

pytestmark = pytest.mark.slow
SECRET_TOKEN = "tok-very-secret-4242"


edition = single_edition("postgresql")


@pytest.fixture
def server_env(database_url, redis_url):
    return make_env(database_url, redis_url, DEVICE_TOKENS=f"{SECRET_TOKEN}:inverter-01")


@pytest.fixture
def server(server_env, tmp_path):
    running = Gunicorn(server_env, tmp_path).wait_ready()
    yield running
    running.stop()


def test_bad_environment_stops_gunicorn_with_one_line(tmp_path):
    env = {"DEVICE_TOKENS": "a:b", "CACHE_TTL_S": "0"}
    started = time.monotonic()
    gunicorn = Gunicorn(env, tmp_path)
    for name in ("DATABASE_URL", "REDIS_URL"):
        assert name not in os.environ
    code = gunicorn.process.wait(15)
    output = gunicorn.log.read_text().strip()
    assert code != 0
    assert time.monotonic() - started < 10
    assert output.splitlines() == [
        "sungrow-server: Missing required environment variables: DATABASE_URL, REDIS_URL. "
        "Invalid environment variables: CACHE_TTL_S (must be an integer >= 1)"
    ]


def test_serves_the_contract_and_logs_no_secret(server, server_env):
    status, _, body = server.ingest([sample()], SECRET_TOKEN)
    assert (status, json.loads(body)) == (200, {"inserted": 1})
    auth = {"Authorization": f"Bearer {SECRET_TOKEN}"}
    status, headers, body = server.request("GET", "/v1/realtime?device_id=inverter-01", None, auth)
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["ts"] == "2026-11-28T10:00:00+00:00"
    status, headers, _ = server.request("GET", "/v1/series?device_id=inverter-01", None, {})
    assert status == 401 and headers["WWW-Authenticate"] == "Bearer"
    server.stop()
    log = server.log.read_text()
    assert log.count("sungrow-server settings:") == 1
    assert SECRET_TOKEN not in log
    assert "POST /v1/ingest" in log  # the access log goes to stdout


def test_chunked_body_over_limit_is_413(server):
    conn = server.connection()
    head = b'{"samples": [], "pad": "'
    chunks = [head] + [b"x" * 65536] * 20 + [b'"}']
    conn.request(
        "POST",
        "/v1/ingest",
        body=iter(chunks),
        headers={"Authorization": f"Bearer {SECRET_TOKEN}", "Content-Type": "application/json"},
        encode_chunked=True,
    )
    response = conn.getresponse()
    assert response.status == 413
    assert json.loads(response.read()) == {"detail": "Request body exceeds limit of 1048576 bytes."}


def test_chunked_gzip_body_is_accepted(server, db):
    payload = gzip.compress(json.dumps({"samples": [sample()]}).encode())
    conn = server.connection()
    conn.request(
        "POST",
        "/v1/ingest",
        body=iter([payload[:10], payload[10:]]),
        headers={
            "Authorization": f"Bearer {SECRET_TOKEN}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
        encode_chunked=True,
    )
    response = conn.getresponse()
    assert (response.status, json.loads(response.read())) == (200, {"inserted": 1})


def test_content_length_shorter_than_body_stores_nothing(server, db):
    body = json.dumps({"samples": [sample()]}).encode()
    headers = {
        "Authorization": f"Bearer {SECRET_TOKEN}",
        "Content-Type": "application/json",
        "Content-Length": str(len(body) - 5),
    }
    conn = server.connection()
    conn.putrequest("POST", "/v1/ingest")
    for key, value in headers.items():
        conn.putheader(key, value)
    conn.endheaders()
    conn.send(body)
    response = conn.getresponse()
    assert response.status == 400
    assert db.execute("SELECT count(*) FROM sungrow_samples").fetchone() == (0,)


def test_postgresql_down_is_503_then_recovers_without_restart(redis_url, tmp_path):
    cluster = PgCluster().start()
    url = cluster.url()
    apply_schema(url, "UTC", lambda line: None)
    server = Gunicorn(
        make_env(
            url, redis_url, DEVICE_TOKENS=f"{SECRET_TOKEN}:inverter-01", DB_POOL_TIMEOUT_S="1"
        ),
        tmp_path,
    ).wait_ready()
    try:
        sent = [sample(f"2026-11-28T10:00:{s:02d}Z", pv_power_w=float(s)) for s in range(40)]
        assert server.ingest(sent[:10], SECRET_TOKEN)[0] == 200
        cluster.stop()
        for start in range(10, 40, 10):
            status, headers, body = server.ingest(sent[start : start + 10], SECRET_TOKEN)
            assert status == 503, body
            assert headers["Retry-After"].isdigit()
            assert "detail" in json.loads(body)
        cluster.start()
        # An edge daemon retries every batch that was not acknowledged with 200.
        deadline = time.monotonic() + 15
        pending = [sent[i : i + 10] for i in range(10, 40, 10)]
        while pending and time.monotonic() < deadline:
            if server.ingest(pending[0], SECRET_TOKEN)[0] == 200:
                pending.pop(0)
            else:
                time.sleep(0.2)
        assert not pending, "the server did not recover within 15 s of PostgreSQL's restart"
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT pv_power_w FROM sungrow_samples ORDER BY ts").fetchall()
        assert [row[0] for row in rows] == [float(s) for s in range(40)]
        assert "Traceback" not in server.log.read_text()
    finally:
        server.stop()
        cluster.destroy()


def test_workers_are_replaced_after_max_requests(server_env, tmp_path):
    # A worker gives the memory of a huge request back only when it exits: gunicorn
    # replaces each after MAX_REQUESTS requests (a tenth of it as jitter), and no
    # request is refused meanwhile.
    env = {**server_env, "WORKERS": "1", "MAX_REQUESTS": "5"}
    server = Gunicorn(env, tmp_path).wait_ready(workers=1)
    try:
        seen = set(server.workers())
        for _ in range(16):
            assert server.request("GET", "/health")[0] == 200
            seen.update(server.workers())
        assert len(seen) >= 3
    finally:
        server.stop()
    assert "Autorestarting worker after current request" in server.log.read_text()
