"""No token, password or URL with a password in any log line; timing that tells nothing."""

import json
import statistics
import time

import pytest

from sungrow_server import create_app
from sungrow_server.auth.tokens import TokenRegistry
from sungrow_server.db.initdb import apply_schema
from sungrow_server.testing import Gunicorn, PgCluster, RedisServer
from tests.helpers import cli, close_app, make_env, make_token, sample

TOKEN = "Zq8-very-secret-device-token-Zq8"
DB_PASSWORD = "pg-pass-Kx71"
REDIS_PASSWORD = "redis-pass-Jw42"


@pytest.mark.slow
def test_error_paths_log_no_secret(tmp_path):
    cluster = PgCluster().start()
    redis_server = RedisServer().start()
    database_url = f"postgresql://postgres:{DB_PASSWORD}@127.0.0.1:{cluster.port}/postgres"
    apply_schema(database_url, "UTC", lambda line: None)
    # Redis has no password configured, so every AUTH with one fails: the Redis error path.
    redis_url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{redis_server.port}/0"
    env = make_env(
        database_url,
        redis_url,
        DEVICE_TOKENS=f"{TOKEN}:inverter-01",
        AUTH_FAIL_LIMIT="5",
        WORKERS="1",  # the throttle counts per worker; one worker sees every attempt
        DB_POOL_TIMEOUT_S="1",
        LOG_LEVEL="debug",
    )
    admin = create_app(env)  # the token commands, as a user runs them beside the server
    reader = make_token(admin, "--device", "inverter-01", "--read-only", "--label", "phone")
    writer = make_token(admin, "--device", "inverter-01", "--label", "edge")
    listing = cli(admin, "token", "list").output
    server = Gunicorn(env, tmp_path).wait_ready()
    good = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    database_tokens, bodies = [], []
    try:
        statuses = [
            server.ingest([sample()], TOKEN)[0],  # 200, with a failing Redis
            server.request("GET", "/v1/realtime?device_id=inverter-01", None, good)[0],
            server.request("GET", "/v1/realtime?device_id=inverter-02", None, good)[0],
            server.request("POST", "/v1/ingest", b"{not json", good)[0],
            server.request("POST", "/v1/ingest", json.dumps({"samples": [{"x": 1}]}), good)[0],
            server.request("POST", "/v1/ingest", b"x" * 1048577, good)[0],
            server.request("GET", "/v1/series?device_id=inverter-01&frame=week", None, good)[0],
            server.request("DELETE", "/v1/ingest", None, good)[0],
        ]
        body = json.dumps({"samples": [sample()]})
        for near_miss in (TOKEN[:-1], TOKEN + "x", TOKEN.upper(), "", TOKEN[:-1], TOKEN[1:]):
            # as if through nginx, from one client address
            headers = {
                **good,
                "Authorization": f"Bearer {near_miss}",
                "X-Forwarded-For": "203.0.113.9",
            }
            statuses.append(server.request("POST", "/v1/ingest", body, headers)[0])
        for token, method, path, body, address in (
            (reader, "GET", "/v1/realtime?device_id=inverter-01", None, "198.51.100.5"),
            (reader, "POST", "/v1/ingest", json.dumps({"samples": [sample()]}), "198.51.100.5"),
            (reader, "GET", "/v1/series?device_id=inverter-02", None, "198.51.100.5"),
            (writer, "POST", "/v1/ingest", json.dumps({"samples": [sample()]}), "198.51.100.5"),
            (writer[:-1], "GET", "/v1/devices", None, "198.51.100.6"),
            (reader + "x", "GET", "/v1/devices", None, "198.51.100.6"),
            (reader.upper(), "GET", "/v1/devices", None, "198.51.100.6"),
        ):
            headers = {**good, "Authorization": f"Bearer {token}", "X-Forwarded-For": address}
            status, _, answer = server.request(method, path, body, headers)
            database_tokens.append(status)
            bodies.append(answer.decode())
        assert database_tokens == [200, 403, 403, 200, 401, 401, 401]
        cluster.stop()
        statuses.append(server.ingest([sample("2026-11-28T10:00:05Z")], TOKEN)[0])
        statuses.append(server.request("GET", "/v1/series?device_id=inverter-01", None, good)[0])
        assert statuses[:8] == [200, 200, 403, 400, 422, 413, 422, 405]
        assert statuses[8:13] == [401] * 5 and statuses[13] == 429
        assert statuses[14:] == [503, 503]
    finally:
        server.stop()
        close_app(admin)
        cluster.destroy()
        redis_server.stop()
    log = server.log.read_text()
    for token in (reader, writer, reader[:-1], writer[:-1], reader + "x", reader.upper()):
        assert token not in log
        assert token not in listing
        assert not any(token in body for body in bodies)
    assert "WARNING" in log  # the Redis and database failures were logged
    for secret in (
        TOKEN,
        TOKEN[:-1],
        TOKEN[1:],
        DB_PASSWORD,
        REDIS_PASSWORD,
        database_url,
        redis_url,
    ):
        assert secret not in log


def median_duration(check, token: str, rounds: int, calls: int) -> list[float]:
    durations = []
    for _ in range(rounds):
        started = time.perf_counter_ns()
        for _ in range(calls):
            check(token)
        durations.append(time.perf_counter_ns() - started)
    return durations


def timing_ratio(check, valid: str) -> float:
    """Median time for a token right but for its last character over one wrong from the first."""
    near = valid[:-1] + ("a" if valid[-1] != "a" else "b")
    far = ("a" if valid[0] != "a" else "b") + valid[1:]
    near_times, far_times = [], []
    for _ in range(40):  # interleaved, so drift in machine load hits both alike
        near_times += median_duration(check, near, 5, 200)
        far_times += median_duration(check, far, 5, 200)
    return statistics.median(near_times) / statistics.median(far_times)


def leaky_check(valid: str):
    """A comparison that stops at the first differing character: the positive control."""

    def check(token: str) -> bool:
        for mine, theirs in zip(token, valid, strict=False):
            if mine != theirs:
                return False
        return len(token) == len(valid)

    return check


def test_token_check_time_does_not_depend_on_how_much_is_right():
    valid = "k" * 96
    registry = TokenRegistry({valid: "inverter-01", "other" * 10: "inverter-02"})
    # The method sees a leak where there is one...
    assert timing_ratio(leaky_check(valid), valid) > 1.5
    # ...and none in the registry.
    assert 0.85 < timing_ratio(registry.device_for, valid) < 1.15
