"""Failed-authentication throttling: 429 with Retry-After, valid devices unaffected."""

import pytest

from sungrow_server import create_app
from sungrow_server.auth.throttle import FailedAuthThrottle, throttle_key
from sungrow_server.testing import Gunicorn, free_port
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


def test_memory_is_bounded_for_addresses_under_the_limit(monkeypatch):
    monkeypatch.setattr("sungrow_server.auth.throttle.MAX_TRACKED", 100)
    throttle = FailedAuthThrottle(limit=5, window_s=60)
    for number in range(1000):
        throttle.failed(f"10.0.{number // 256}.{number % 256}")
    assert len(throttle._windows) == 100
    for _ in range(4):  # the newest are kept: one more failure puts it over the limit
        throttle.failed("10.0.3.231")
    assert throttle.retry_after("10.0.3.231") == 60


@pytest.mark.parametrize("redis_up", [True, False])
def test_an_address_over_the_limit_stays_over_it_whatever_others_do(redis_server, redis_up):
    # Once, 10,000 failures from other addresses pushed a throttled one out of the table
    # and it got plain 401s again: a guesser with a few addresses could go on forever.
    client = redis_server.client() if redis_up else dead_redis()
    if redis_up:
        client.flushall()
    throttle = FailedAuthThrottle(limit=3, window_s=60, client=client)
    for _ in range(3):
        throttle.failed("203.0.113.7")
    assert throttle.retry_after("203.0.113.7") is not None
    for number in range(10001):
        throttle.failed(f"10.{number // 65536}.{number // 256 % 256}.{number % 256}")
    assert throttle.retry_after("203.0.113.7") is not None


def dead_redis():
    """A client of a port nobody listens on: every call fails at once."""
    from sungrow_server.db.redis_client import build_redis

    return build_redis(f"redis://127.0.0.1:{free_port()}/0", 100)


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.4", "198.51.100.4"),
        ("", ""),
    ],
)
def test_ipv6_is_counted_by_its_64(address, key):
    assert throttle_key(address) == key


def test_one_ipv6_subscriber_cannot_dodge_by_changing_address(throttled_app):
    client = throttled_app.test_client()
    for host in ("1", "2", "3"):  # three addresses of one /64
        assert attempt(client, "127.0.0.1", forwarded=f"2001:db8:1:2::{host}").status_code == 401
    assert attempt(client, "127.0.0.1", forwarded="2001:db8:1:2:ffff::9").status_code == 429
    assert attempt(client, "127.0.0.1", forwarded="2001:db8:1:3::1").status_code == 401


def test_failures_count_across_workers(database_url, redis_url):
    # Two apps on one Redis are two gunicorn workers: once the limit counted per worker.
    env = make_env(database_url, redis_url, AUTH_FAIL_LIMIT="3", AUTH_FAIL_WINDOW_S="60")
    workers = [create_app(env), create_app(env)]
    try:
        first, second = (app.test_client() for app in workers)
        assert attempt(first, "203.0.113.7").status_code == 401
        assert attempt(second, "203.0.113.7").status_code == 401
        assert attempt(first, "203.0.113.7").status_code == 401  # the third, on either
        for client in (second, first, second):
            response = attempt(client, "203.0.113.7")
            assert response.status_code == 429
            assert 1 <= int(response.headers["Retry-After"]) <= 60
        # both now refuse even the right token before looking at it
        assert attempt(first, "203.0.113.7", token="token-01").status_code == 429
        assert attempt(second, "203.0.113.7", token="token-01").status_code == 429
        assert attempt(second, "198.51.100.1", token="token-01").status_code == 404
    finally:
        for app in workers:
            close_app(app)


def test_without_redis_each_worker_counts_alone(database_url):
    env = make_env(database_url, f"redis://127.0.0.1:{free_port()}/0", AUTH_FAIL_LIMIT="3")
    app = create_app(env)
    try:
        client = app.test_client()
        assert [attempt(client, "203.0.113.7").status_code for _ in range(4)] == [401] * 3 + [429]
    finally:
        close_app(app)


@pytest.mark.slow
def test_two_gunicorn_workers_share_the_count(database_url, redis_url, tmp_path):
    env = make_env(database_url, redis_url, WORKERS="2", AUTH_FAIL_LIMIT="3")
    server = Gunicorn(env, tmp_path).wait_ready(workers=2)
    wrong = {"Authorization": "Bearer wrong"}
    try:
        statuses = [server.request("GET", URL, None, wrong)[0] for _ in range(23)]
    finally:
        server.stop()
    assert statuses == [401] * 3 + [429] * 20
