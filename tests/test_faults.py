"""Faults caused on purpose: a slow or locked database, an exhausted pool, a killed worker."""

import json
import os
import signal
import threading
import time

import psycopg
import pytest

from sungrow_server import create_app
from sungrow_server.db.pool import get_pool
from sungrow_server.testing import Gunicorn, free_port
from tests.helpers import AUTH, close_app, make_env, sample, single_edition

TOKEN = "fault-token-01"


edition = single_edition("postgresql")


def batch(count: int, second: int = 0) -> list[dict]:
    return [
        sample(f"2026-11-28T10:{(second + i) // 60:02d}:{(second + i) % 60:02d}Z")
        for i in range(count)
    ]


def count_rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM sungrow_samples").fetchone()[0]


@pytest.fixture
def locked_table(database_url):
    """Hold an exclusive lock on sungrow_samples until the test releases it."""
    conn = psycopg.connect(database_url)
    conn.execute("LOCK TABLE sungrow_samples IN ACCESS EXCLUSIVE MODE")
    yield conn
    conn.rollback()
    conn.close()


def test_database_unreachable_is_503_everywhere(redis_url):
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    app = create_app(make_env(url, redis_url, DB_POOL_TIMEOUT_S="1", RETRY_AFTER_S="7"))
    try:
        client = app.test_client()
        responses = [
            client.post("/v1/ingest", json={"samples": batch(3)}, headers=AUTH),
            client.get("/v1/realtime?device_id=inverter-01", headers=AUTH),
            client.get("/v1/series?device_id=inverter-01&frame=day", headers=AUTH),
        ]
        for response in responses:
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "7"
            assert response.json == {"detail": "Database unavailable, try again later."}
    finally:
        close_app(app)


def test_statement_timeout_frees_the_worker(database_url, redis_url, locked_table):
    app = create_app(make_env(database_url, redis_url, STATEMENT_TIMEOUT_MS="300"))
    try:
        client = app.test_client()
        started = time.monotonic()
        response = client.post("/v1/ingest", json={"samples": batch(5)}, headers=AUTH)
        assert response.status_code == 503
        assert "Retry-After" in response.headers
        assert time.monotonic() - started < 3
        locked_table.rollback()
        assert count_rows(database_url) == 0
        retry = client.post("/v1/ingest", json={"samples": batch(5)}, headers=AUTH)
        assert retry.json == {"inserted": 5}
    finally:
        close_app(app)


def test_server_sessions_have_the_timeout_no_jit_and_utc(database_url, redis_url):
    # JIT compiling a plan over hundreds of chunks took seconds that statement_timeout
    # could not interrupt (a 15 s limit answered after 35 s in the bench): sessions run
    # without it.
    app = create_app(make_env(database_url, redis_url, STATEMENT_TIMEOUT_MS="1234"))
    try:
        with get_pool(app).connection() as conn:
            assert conn.execute("SHOW jit").fetchone()[0] == "off"
            assert conn.execute("SHOW statement_timeout").fetchone()[0] == "1234ms"
            assert conn.execute("SHOW TimeZone").fetchone()[0] == "UTC"
    finally:
        close_app(app)


def test_exhausted_pool_answers_503_in_bounded_time(database_url, redis_url):
    app = create_app(make_env(database_url, redis_url, DB_POOL_SIZE="1", DB_POOL_TIMEOUT_S="0.5"))
    pool = get_pool(app)
    holding = threading.Event()

    def slow_query():
        with pool.connection() as conn:
            holding.set()
            conn.execute("SELECT pg_sleep(3)")

    worker = threading.Thread(target=slow_query)
    worker.start()
    try:
        assert holding.wait(5)
        client = app.test_client()
        for path in ("/v1/realtime?device_id=inverter-01", "/v1/series?device_id=inverter-01"):
            started = time.monotonic()
            response = client.get(path, headers=AUTH)
            assert response.status_code == 503
            assert time.monotonic() - started < 2
    finally:
        worker.join()
        close_app(app)


def wait_for(predicate, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_worker_killed_mid_ingest_stores_all_or_nothing(
    database_url, redis_url, tmp_path, locked_table
):
    env = make_env(database_url, redis_url, DEVICE_TOKENS=f"{TOKEN}:inverter-01")
    server = Gunicorn(env, tmp_path).wait_ready()
    try:
        sent = batch(500)
        outcome = {}

        def post():
            try:
                outcome["status"] = server.ingest(sent, TOKEN)[0]
            except OSError as exc:
                outcome["error"] = exc

        client = threading.Thread(target=post)
        client.start()

        def ingest_waiting() -> bool:
            with psycopg.connect(database_url, autocommit=True) as conn:
                return bool(
                    conn.execute(
                        "SELECT 1 FROM pg_stat_activity WHERE application_name = 'sungrow-server' "
                        "AND wait_event_type = 'Lock'"
                    ).fetchone()
                )

        assert wait_for(ingest_waiting), "the ingest never reached the database"
        for pid in server.workers():
            os.kill(pid, signal.SIGKILL)
        client.join(10)
        assert outcome.get("status") != 200
        locked_table.rollback()  # the killed worker's INSERT may now run, but never commits

        def backend_gone() -> bool:
            with psycopg.connect(database_url, autocommit=True) as conn:
                return not conn.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE application_name = 'sungrow-server' "
                    "AND state <> 'idle'"
                ).fetchone()

        assert wait_for(backend_gone)
        assert count_rows(database_url) == 0
        # gunicorn replaces the workers; the edge daemon's retry stores the batch once.
        assert wait_for(lambda: server.workers() != [])
        status, _, body = server.ingest(sent, TOKEN)
        assert (status, json.loads(body)) == (200, {"inserted": 500})
        assert count_rows(database_url) == 500
    finally:
        server.stop()
