"""No token, password or URL with a password in any log line; timing that tells nothing."""

import json
import logging
import os
import statistics
import subprocess
import sys
import time

import psycopg
import pytest
from psycopg_pool import PoolTimeout

from sungrow_server import create_app
from sungrow_server.auth.tokens import TokenRegistry
from sungrow_server.config import ConfigError, Settings, load_settings
from sungrow_server.db.initdb import apply_schema
from sungrow_server.db.pool import POOL_LOG_FILTER, build_pool
from sungrow_server.testing import REPO, Gunicorn, PgCluster, RedisServer
from tests.helpers import cli, close_app, make_env, make_token, sample

TOKEN = "Zq8-very-secret-device-token-Zq8"
DB_PASSWORD = "pg-pass-Kx71"
REDIS_PASSWORD = "redis-pass-Jw42"


@pytest.mark.slow
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_error_paths_log_no_secret(tmp_path, log_format):
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
        LOG_FORMAT=log_format,
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
    if log_format == "json":  # every line an object; the failures logged as warnings
        lines = [json.loads(line) for line in log.splitlines() if line.strip()]
        assert {"warning", "info"} <= {line["level"] for line in lines}
        assert all(line["request_id"] for line in lines if line["logger"] == "access")
        log = log.replace('"level": "warning"', "WARNING")
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


# URLs that libpq cannot read, and whose error it words by quoting them, password and all.
BAD_URLS = {
    "percent-escape": (
        "postgresql://postgres:Sup3r%ZZsecret@127.0.0.1:5432/x",
        "has a % that is not followed by two hex digits; write a % in a password as %25",
    ),
    "ipv6-host": (
        "postgresql://postgres:Sup3rsecret@[::1:5432/x",
        "has an IPv6 host address without its closing ]",
    ),
    "unescaped-at": (
        "postgresql://postgres:Sup3r@secret@127.0.0.1:5432/x",
        "has an @ in the user or password; write it as %40",
    ),
}


def assert_no_secret(text: str, url: str) -> None:
    for secret in ("Sup3r", "secret", url, url.split("@")[0]):
        assert secret not in text


@pytest.mark.parametrize(("url", "flaw"), BAD_URLS.values(), ids=BAD_URLS)
def test_a_database_url_libpq_cannot_read_is_named_never_shown(url, flaw):
    with pytest.raises(ConfigError) as error:
        load_settings(make_env(url, "redis://127.0.0.1:6379/0"))
    message = error.value.format_message()
    assert message == f"Invalid environment variables: DATABASE_URL ({flaw})"
    assert_no_secret(message, url)


@pytest.mark.slow
@pytest.mark.parametrize(("url", "flaw"), BAD_URLS.values(), ids=BAD_URLS)
def test_gunicorn_and_init_db_stop_at_once_naming_the_variable(url, flaw, tmp_path):
    # They once started: gunicorn answered 503 to everything and logged libpq's message
    # (`invalid percent-encoded token: "Sup3r%ZZsecret"`) on every retry; init-db printed it.
    env = make_env(url, "redis://127.0.0.1:6379/0")
    server = Gunicorn(env, tmp_path)
    assert server.process.wait(15) == 1
    log = server.log.read_text()
    assert log.splitlines() == [
        f"sungrow-server: Invalid environment variables: DATABASE_URL ({flaw})"
    ]
    assert_no_secret(log, url)
    init_db = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "sungrow_server", "init-db"],
        env={**os.environ, **env, "PYTHONPATH": str(REPO)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert init_db.returncode == 1
    assert init_db.stderr.splitlines() == [
        f"Error: Invalid environment variables: DATABASE_URL ({flaw})"
    ]
    assert_no_secret(init_db.stdout + init_db.stderr, url)


@pytest.mark.parametrize(("url", "flaw"), BAD_URLS.values(), ids=BAD_URLS)
def test_libpqs_own_messages_are_redacted(url, flaw, caplog):
    # Should such a URL get past the settings (they refuse it), what libpq says of it
    # is still never logged or printed as it is: the pool's log records are filtered...
    settings = Settings(url, "redis://:Sup3r-redis@127.0.0.1:1/0", {}, db_pool_timeout_s=0.5)
    try:
        with caplog.at_level(logging.WARNING, logger="psycopg.pool"):
            pool = build_pool(settings)
            with pytest.raises(PoolTimeout):
                pool.getconn()
            pool.close()
    finally:
        del POOL_LOG_FILTER.settings[url]
    assert "error connecting" in caplog.text
    assert_no_secret(caplog.text, url)
    # ...and what init-db and the 503 handler print or log goes through the same words.
    with pytest.raises(psycopg.Error) as raised:
        psycopg.connect(url, connect_timeout=1)
    said = str(raised.value)
    assert "secret" in said or "Sup3r" in said  # libpq quotes it (the control)
    assert_no_secret(settings.redact(said), url)
