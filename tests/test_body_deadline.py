"""Bodies slow to come, straight to gunicorn (no nginx in front): each has a deadline, a
worker waits for only so many slow ones at once, and an error answered before its body
came stops reading it. Trickling uploads leave the server answering everyone else."""

import io
import json
import socket
import time

import psycopg
import pytest

from sungrow_server.testing import Gunicorn
from tests.helpers import (
    AUTH,
    Trickle,
    batch_body,
    make_env,
    new_database,
    sample,
    single_edition,
    stored_rows,
)

edition = single_edition("postgresql")
REALTIME = "/v1/realtime?device_id=inverter-01"


@pytest.fixture(scope="module")
def database(clusters):
    cluster = clusters.get("postgresql")
    with new_database(cluster, clusters.template("postgresql")) as janitor:
        yield cluster.url(janitor.dbname)


@pytest.fixture(scope="module")
def server(database, redis_server, tmp_path_factory):
    # A short deadline, to see it pass within the test; otherwise the defaults (here, on
    # 2 cores, 4 workers of 8 threads).
    env = make_env(database, redis_server.url, BODY_READ_TIMEOUT_S="1")
    running = Gunicorn(env, tmp_path_factory.mktemp("gunicorn")).wait_ready()
    assert running.ingest([sample()], "token-01")[0] == 200
    yield running
    running.stop()


def stored_between(database: str, start: str, end: str) -> int:
    """How many samples the server stored in [start, end)."""
    with psycopg.connect(database) as conn:
        query = "SELECT count(*) FROM sungrow_samples WHERE ts >= %s AND ts < %s"
        return conn.execute(query, (start, end)).fetchone()[0]


def connector(server: Gunicorn, source: str):
    # From an address of their own: failed authentications are throttled per address.
    address = ("127.0.0.1", server.port)
    return lambda: socket.create_connection(address, timeout=10, source_address=(source, 0))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("token", "source"), [("token-01", "127.0.0.2"), ("no-token", "127.0.0.3")]
)
def test_trickling_uploads_leave_gunicorn_answering(server, database, token, source):
    bodies = [batch_body(sample(f"2026-11-28T11:{s // 60:02d}:{s % 60:02d}Z")) for s in range(64)]
    trickle = Trickle(connector(server, source), bodies, token, interval=0.5)
    try:
        for _ in range(4):
            # Answered within two seconds, or TimeoutError.
            status, _, body = server.request("GET", REALTIME, None, AUTH, timeout=2)
            assert (status, json.loads(body)["ts"]) == (200, "2026-11-28T10:00:00+00:00")
            time.sleep(0.25)
        answers = trickle.answers()
    finally:
        trickle.close()
    if token == "token-01":
        # A slow body holds one of the worker's slots until its deadline; the bodies that
        # find no slot free are sent away as soon as they are seen to be slow.
        assert {status for status, _, _ in answers} == {408, 503}
        for status, headers, body in answers:
            if status == 408:
                assert body == {"detail": "Request body not received within 1 s."}
            else:
                assert body == {"detail": "Too many slow uploads in progress; try again later."}
                assert headers["Retry-After"] == "5"
    else:
        # Refused before the body is read, and the rest of it is not waited for.
        assert {status for status, _, _ in answers} <= {401, 429}
    assert stored_between(database, "2026-11-28T11:00Z", "2026-11-28T12:00Z") == 0


@pytest.mark.slow
def test_a_body_slow_to_come_but_within_the_deadline_is_stored(server, database):
    ts = "2026-11-28T13:00:00+00:00"
    trickle = Trickle(
        connector(server, "127.0.0.1"), [batch_body(sample(ts))], "token-01", interval=0.1
    )
    try:
        time.sleep(0.5)  # slow: it holds a slot now
        trickle.finish()
        [(status, _, body)] = trickle.answers()
    finally:
        trickle.close()
    assert (status, body) == (200, {"inserted": 1})
    assert stored_between(database, ts, "2026-11-28T13:00:01Z") == 1


class SlowStream(io.BytesIO):
    """A request body that comes a byte at a time, `pause` seconds apart."""

    def __init__(self, data: bytes, pause: float):
        super().__init__(data)
        self.pause = pause

    def read(self, size: int | None = -1) -> bytes:
        time.sleep(self.pause)
        return super().read(1 if size else 0)

    def readinto(self, buffer) -> int:
        piece = self.read(len(buffer))
        buffer[: len(piece)] = piece
        return len(piece)


@pytest.fixture
def app_env(database_url, redis_url):
    return make_env(database_url, redis_url, BODY_READ_TIMEOUT_S="0.3")


def test_a_body_over_the_deadline_is_408_and_stores_nothing(client, db):
    # Without gunicorn's socket (here Flask's test client) the deadline is checked between
    # reads: the same answer, a little later.
    body = batch_body(sample())
    response = client.post(
        "/v1/ingest",
        input_stream=SlowStream(body, 0.1),
        headers={**AUTH, "Content-Type": "application/json", "Content-Length": str(len(body))},
    )
    assert response.status_code == 408
    assert response.json == {"detail": "Request body not received within 0.3 s."}
    assert stored_rows(db) == []
