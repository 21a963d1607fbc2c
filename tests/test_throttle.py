"""Failed-authentication throttling: 429 with Retry-After, valid devices unaffected."""

import pytest

from sungrow_server import create_app
from sungrow_server.auth.throttle import FailedAuthThrottle
from tests.helpers import AUTH, close_app, make_env, single_edition

URL = "/v1/realtime?device_id=inverter-01"


edition = single_edition("postgresql")


@pytest.fixture
def throttled_app(database_url, redis_url):
    app = create_app(
        make_env(database_url, redis_url, AUTH_FAIL_LIMIT="3", AUTH_FAIL_WINDOW_S="60")
    )
    yield app
    close_app(app)


def attempt(client, address, token="wrong", forwarded=None):
    headers = {"Authorization": f"Bearer {token}"}
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    return client.get(URL, headers=headers, environ_base={"REMOTE_ADDR": address})


def test_repeated_failures_are_refused_with_retry_after(throttled_app):
    client = throttled_app.test_client()
    assert [attempt(client, "203.0.113.7").status_code for _ in range(3)] == [401, 401, 401]
    response = attempt(client, "203.0.113.7")
    assert response.status_code == 429
    assert response.json == {"detail": "Too many failed authentication attempts; try again later."}
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    # refused before the token is looked at: even the right token waits
    assert attempt(client, "203.0.113.7", token="token-01").status_code == 429


def test_other_addresses_and_valid_devices_are_not_affected(throttled_app):
    client = throttled_app.test_client()
    for _ in range(5):
        attempt(client, "203.0.113.7")
    assert attempt(client, "198.51.100.1", token="token-01").status_code == 404
    assert attempt(client, "198.51.100.2").status_code == 401
    for _ in range(10):
        assert (
            client.get(URL, headers=AUTH, environ_base={"REMOTE_ADDR": "198.51.100.3"}).status_code
            == 404
        )


def test_forwarded_for_is_trusted_only_from_the_proxy(throttled_app):
    client = throttled_app.test_client()
    # Behind nginx on 127.0.0.1 each client is told apart by X-Forwarded-For.
    for _ in range(3):
        attempt(client, "127.0.0.1", forwarded="203.0.113.7")
    assert attempt(client, "127.0.0.1", forwarded="203.0.113.7").status_code == 429
    assert (
        attempt(client, "127.0.0.1", forwarded="198.51.100.1", token="token-01").status_code == 404
    )
    # A client that is not the proxy cannot pick its address by sending the header.
    for _ in range(3):
        attempt(client, "192.0.2.50", forwarded="10.0.0.1")
    assert attempt(client, "192.0.2.50", forwarded="10.0.0.2").status_code == 429
    # Spoofed hops to the left of the proxy's own entry are ignored too.
    assert attempt(client, "127.0.0.1", forwarded="198.51.100.9, 203.0.113.7").status_code == 429


def test_zero_turns_it_off(database_url, redis_url):
    app = create_app(make_env(database_url, redis_url, AUTH_FAIL_LIMIT="0"))
    try:
        client = app.test_client()
        assert {attempt(client, "203.0.113.7").status_code for _ in range(30)} == {401}
    finally:
        close_app(app)


def test_window_expires(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("sungrow_server.auth.throttle.time.monotonic", lambda: now[0])
    throttle = FailedAuthThrottle(limit=2, window_s=10)
    throttle.failed("a")
    throttle.failed("a")
    assert throttle.retry_after("a") == 10
    now[0] += 9.5
    assert throttle.retry_after("a") == 1
    now[0] += 1
    assert throttle.retry_after("a") is None
    throttle.failed("a")
    assert throttle.retry_after("a") is None


def test_memory_is_bounded(monkeypatch):
    monkeypatch.setattr("sungrow_server.auth.throttle.MAX_TRACKED", 100)
    throttle = FailedAuthThrottle(limit=1, window_s=60)
    for number in range(1000):
        throttle.failed(f"10.0.{number // 256}.{number % 256}")
    assert len(throttle._windows) == 100
    assert throttle.retry_after("10.0.3.231") == 60  # the newest are kept
