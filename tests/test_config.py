"""Settings: required variables, types and rules of API.md, one clear line on error."""

import os

import pytest

from sungrow_server.config import (
    ConfigError,
    load_server_settings,
    load_settings,
    parse_device_tokens,
    redact_url,
)

VALID = {
    "DATABASE_URL": "postgresql://sungrow:pw@db:5432/sungrow",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DEVICE_TOKENS": "tok-a:inverter-01",
}


def test_defaults():
    settings = load_settings(VALID)
    assert settings.cache_ttl_s == 5
    assert settings.max_samples_per_request == 1000
    assert settings.max_request_bytes == 1048576
    assert settings.timezone == "UTC"
    assert settings.device_tokens == {"tok-a": "inverter-01"}


def test_missing_variables_are_named_in_one_line():
    with pytest.raises(ConfigError) as error:
        load_settings({"DEVICE_TOKENS": "a:b"})
    assert error.value.format_message() == (
        "Missing required environment variables: DATABASE_URL, REDIS_URL"
    )


def test_blank_counts_as_missing():
    with pytest.raises(ConfigError, match=r"Missing required environment variables: REDIS_URL$"):
        load_settings({**VALID, "REDIS_URL": "  "})


def test_missing_and_invalid_are_reported_together():
    with pytest.raises(ConfigError) as error:
        load_settings({"DATABASE_URL": "mysql://x", "DEVICE_TOKENS": "a:b", "CACHE_TTL_S": "0"})
    message = error.value.format_message()
    assert "\n" not in message
    assert "Missing required environment variables: REDIS_URL" in message
    assert "DATABASE_URL" in message and "CACHE_TTL_S" in message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgres://u@h/db", "postgresql://u@h/db"),
        ("postgresql+asyncpg://u:p@h:5432/db", "postgresql://u:p@h:5432/db"),
        ("postgresql+psycopg://u@h/db?sslmode=require", "postgresql://u@h/db?sslmode=require"),
    ],
)
def test_database_url_driver_suffix_is_ignored(raw, expected):
    assert load_settings({**VALID, "DATABASE_URL": raw}).database_url == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://u@h/db"),
        ("REDIS_URL", "http://h"),
        ("CACHE_TTL_S", "0"),
        ("CACHE_TTL_S", "five"),
        ("CACHE_TTL_S", "1.5"),
        ("MAX_SAMPLES_PER_REQUEST", "-1"),
        ("MAX_REQUEST_BYTES", "0"),
        ("TIMEZONE", "Mars/Olympus"),
        ("DB_POOL_TIMEOUT_S", "nan"),
    ],
)
def test_invalid_values_are_named(name, value):
    with pytest.raises(ConfigError) as error:
        load_settings({**VALID, name: value})
    assert error.value.format_message().startswith(f"Invalid environment variables: {name} (")


def test_integers_are_parsed():
    settings = load_settings(
        {
            **VALID,
            "CACHE_TTL_S": " 9 ",
            "MAX_SAMPLES_PER_REQUEST": "30",
            "MAX_REQUEST_BYTES": "2048",
        }
    )
    assert (settings.cache_ttl_s, settings.max_samples_per_request, settings.max_request_bytes) == (
        9,
        30,
        2048,
    )


def test_tokens_are_trimmed():
    assert parse_device_tokens(" a : inverter-01 ,b:inverter-02 ") == {
        "a": "inverter-01",
        "b": "inverter-02",
    }


def test_device_may_have_several_tokens():
    assert parse_device_tokens("a:inv,b:inv") == {"a": "inv", "b": "inv"}


@pytest.mark.parametrize(
    ("raw", "flaw"),
    [
        ("a:b,,c:d", "pair 2 is empty"),
        ("a:b,", "pair 2 is empty"),
        ("secret-no-colon", "pair 1 has no ':'"),
        (":inverter", "pair 1 has an empty token"),
        ("secret:", "pair 1 has an empty token or device id"),
        ("secret:a,secret:b", "pair 2 repeats a token"),
        # a header arrives decoded as Latin-1: this token could never match
        ("ok-token:a,secret-tökén:b", "pair 2 has a token with characters other than ASCII"),
    ],
)
def test_bad_tokens_are_errors_that_reveal_no_token(raw, flaw):
    with pytest.raises(ConfigError) as error:
        load_settings({**VALID, "DEVICE_TOKENS": raw})
    message = error.value.format_message()
    assert flaw in message
    assert "secret" not in message


def test_summary_has_no_secret():
    settings = load_settings({**VALID, "REDIS_URL": "redis://:redispw@cache:6379/0"})
    summary = settings.summary()
    assert "pw@" not in summary and "redispw" not in summary and "tok-a" not in summary
    assert "postgresql://sungrow:***@db:5432/sungrow" in summary
    assert "devices=1" in summary
    assert "tok-a" not in repr(settings)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:p@h/db?password=x", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("redis://:pw@h:6379/1", "redis://:***@h:6379/1"),
    ],
)
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def test_server_settings():
    server = load_server_settings({"BIND": "0.0.0.0:9000", "WORKERS": "3", "LOG_LEVEL": "WARNING"})
    assert (server.bind, server.workers, server.threads, server.log_level) == (
        "0.0.0.0:9000",
        3,
        8,
        "warning",
    )
    with pytest.raises(ConfigError, match="WORKERS"):
        load_server_settings({"WORKERS": "0"})


def test_workers_are_recycled_unless_max_requests_is_0():
    assert load_server_settings({}).max_requests == 10000
    assert load_server_settings({"MAX_REQUESTS": "0"}).max_requests == 0
    with pytest.raises(ConfigError, match=r"MAX_REQUESTS \(must be an integer >= 0\)"):
        load_server_settings({"MAX_REQUESTS": "-1"})


def test_default_workers_are_two_per_usable_core():
    cores = len(os.sched_getaffinity(0))
    assert load_server_settings({}).workers == 2 * cores


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10.0.0.5, ::1", {"10.0.0.5", "::1"}),
        ("none", set()),
        ("0:0:0:0:0:0:0:1", {"::1"}),
    ],
)
def test_trusted_proxies(raw, expected):
    assert load_settings({**VALID, "TRUSTED_PROXIES": raw}).trusted_proxies == expected


def test_trusted_proxies_must_be_addresses():
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        load_settings({**VALID, "TRUSTED_PROXIES": "nginx.local"})


def test_short_tokens_are_warned_about_without_the_token():
    settings = load_settings(
        {**VALID, "DEVICE_TOKENS": "x:inverter-01,y:inverter-02,a-long-random-token-1:inverter-03"}
    )
    (line,) = settings.warnings()
    assert line.startswith("DEVICE_TOKENS: the tokens of inverter-01, inverter-02 are shorter")
    assert "inverter-03" not in line and "a-long" not in line
    assert load_settings({**VALID, "DEVICE_TOKENS": "sixteen-chars-ok:d"}).warnings() == []
    assert "the token of d is" in load_settings({**VALID, "DEVICE_TOKENS": "k:d"}).warnings()[0]


def test_cors_origins_are_read_as_browsers_send_them():
    raw = "https://Dash.Example.org/, http://localhost:3000, https://dash.example.org:443"
    settings = load_settings({**VALID, "CORS_ALLOW_ORIGINS": raw})
    assert settings.cors_allow_origins == ("https://dash.example.org", "http://localhost:3000")
    assert "cors_allow_origins=https://dash.example.org,http://localhost:3000" in (
        settings.summary()
    )
    assert load_settings(VALID).cors_allow_origins == ()


@pytest.mark.parametrize(
    "raw", ["*", "dash.example.org", "https://dash.example.org/app", "ftp://x", "https://u:p@h"]
)
def test_cors_origins_must_be_origins(raw):
    with pytest.raises(ConfigError) as error:
        load_settings({**VALID, "CORS_ALLOW_ORIGINS": raw})
    assert "CORS_ALLOW_ORIGINS (must be comma-separated origins" in error.value.format_message()


def test_body_read_timeout():
    assert load_settings(VALID).body_read_timeout_s == 10
    assert load_settings({**VALID, "BODY_READ_TIMEOUT_S": "2.5"}).body_read_timeout_s == 2.5
    assert (
        "body_read_timeout_s=2.5 "
        in load_settings({**VALID, "BODY_READ_TIMEOUT_S": "2.5"}).summary()
    )
    with pytest.raises(ConfigError) as error:
        load_settings({**VALID, "BODY_READ_TIMEOUT_S": "0"})
    assert error.value.format_message() == (
        "Invalid environment variables: BODY_READ_TIMEOUT_S (must be a number > 0)"
    )


@pytest.mark.parametrize("name", ["localtime", "posixrules", "Factory", "right/UTC", "posix/UTC"])
def test_timezone_must_name_a_places_zone(name):
    # zoneinfo opens these files, but they name no place's zone: the machine's own
    # setting, a template, an unset machine, and copies (right/ counts leap seconds,
    # which PostgreSQL applies and Python does not).
    with pytest.raises(ConfigError) as error:
        load_settings({**VALID, "TIMEZONE": name})
    assert error.value.format_message() == (
        "Invalid environment variables: TIMEZONE "
        "(must be an IANA time zone name such as Europe/Berlin)"
    )


@pytest.mark.parametrize("name", ["UTC", "Etc/GMT+5", "US/Eastern", "America/Argentina/Salta"])
def test_timezone_takes_iana_names_and_links(name):
    assert load_settings({**VALID, "TIMEZONE": f" {name} "}).timezone == name
