"""Typed, validated settings read from the environment (and an optional `.env`)."""

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from dotenv import dotenv_values

REQUIRED = ("DATABASE_URL", "REDIS_URL", "DEVICE_TOKENS")


class ConfigError(click.ClickException):
    """One clear line naming every bad variable; click prints it and exits 1."""


@dataclass(frozen=True)
class Settings:
    """Everything the server reads from its environment, already checked."""

    database_url: str
    redis_url: str
    device_tokens: dict[str, str] = field(repr=False)
    cache_ttl_s: int = 5
    max_samples_per_request: int = 1000
    max_request_bytes: int = 1048576
    timezone: str = "UTC"
    db_pool_size: int = 10
    db_pool_timeout_s: float = 5.0
    statement_timeout_ms: int = 15000
    redis_timeout_ms: int = 100
    retry_after_s: int = 5
    auth_fail_limit: int = 20
    auth_fail_window_s: int = 60
    trusted_proxies: frozenset[str] = frozenset({"127.0.0.1", "::1"})

    def summary(self) -> str:
        """One secret-free line describing the settings in force."""
        return (
            f"sungrow-server settings: database={redact_url(self.database_url)} "
            f"redis={redact_url(self.redis_url)} devices={len(self.device_tokens)} "
            f"timezone={self.timezone} cache_ttl_s={self.cache_ttl_s} "
            f"max_samples_per_request={self.max_samples_per_request} "
            f"max_request_bytes={self.max_request_bytes} db_pool_size={self.db_pool_size} "
            f"db_pool_timeout_s={self.db_pool_timeout_s:g} "
            f"statement_timeout_ms={self.statement_timeout_ms} "
            f"redis_timeout_ms={self.redis_timeout_ms} "
            f"auth_fail_limit={self.auth_fail_limit}/{self.auth_fail_window_s}s "
            f"trusted_proxies={','.join(sorted(self.trusted_proxies)) or '-'}"
        )


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***`, and no query string."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def parse_device_tokens(raw: str) -> dict[str, str]:
    """`token:device_id,...` into {token: device_id}; ValueError names the flaw, never a token."""
    tokens: dict[str, str] = {}
    for index, part in enumerate(raw.split(","), start=1):
        part = part.strip()
        if not part:
            raise ValueError(f"pair {index} is empty")
        if ":" not in part:
            raise ValueError(f"pair {index} has no ':' between token and device id")
        token, device_id = (piece.strip() for piece in part.split(":", 1))
        if not token or not device_id:
            raise ValueError(f"pair {index} has an empty token or device id")
        if token in tokens:
            raise ValueError(f"pair {index} repeats a token")
        tokens[token] = device_id
    return tokens


def _database_url(raw: str) -> str:
    match = re.fullmatch(r"(postgres(?:ql)?)(\+[A-Za-z0-9_]+)?(://.+)", raw.strip())
    if not match:
        raise ValueError("must be a postgresql:// URL")
    return "postgresql" + match.group(3)


def _redis_url(raw: str) -> str:
    if urlsplit(raw.strip()).scheme not in ("redis", "rediss", "unix"):
        raise ValueError("must be a redis://, rediss:// or unix:// URL")
    return raw.strip()


def _int_at_least(minimum: int):
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"must be an integer >= {minimum}") from None
        if value < minimum:
            raise ValueError(f"must be an integer >= {minimum}")
        return value

    return parse


def _positive_float(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("must be a number > 0") from None
    if not 0 < value < float("inf"):
        raise ValueError("must be a number > 0")
    return value


def _addresses(raw: str) -> frozenset[str]:
    if raw.strip().lower() == "none":
        return frozenset()
    addresses = set()
    for part in raw.split(","):
        if part.strip():
            try:
                addresses.add(str(ipaddress.ip_address(part.strip())))
            except ValueError:
                raise ValueError("must be comma-separated IP addresses, or none") from None
    return frozenset(addresses)


def _timezone(raw: str) -> str:
    name = raw.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone name such as Europe/Berlin") from None
    return name


# variable -> (settings attribute, parser); absent optional variables keep the default.
PARSERS = {
    "DATABASE_URL": ("database_url", _database_url),
    "REDIS_URL": ("redis_url", _redis_url),
    "DEVICE_TOKENS": ("device_tokens", parse_device_tokens),
    "CACHE_TTL_S": ("cache_ttl_s", _int_at_least(1)),
    "MAX_SAMPLES_PER_REQUEST": ("max_samples_per_request", _int_at_least(1)),
    "MAX_REQUEST_BYTES": ("max_request_bytes", _int_at_least(1)),
    "TIMEZONE": ("timezone", _timezone),
    "DB_POOL_SIZE": ("db_pool_size", _int_at_least(1)),
    "DB_POOL_TIMEOUT_S": ("db_pool_timeout_s", _positive_float),
    "STATEMENT_TIMEOUT_MS": ("statement_timeout_ms", _int_at_least(1)),
    "REDIS_TIMEOUT_MS": ("redis_timeout_ms", _int_at_least(1)),
    "RETRY_AFTER_S": ("retry_after_s", _int_at_least(1)),
    "AUTH_FAIL_LIMIT": ("auth_fail_limit", _int_at_least(0)),
    "AUTH_FAIL_WINDOW_S": ("auth_fail_window_s", _int_at_least(1)),
    "TRUSTED_PROXIES": ("trusted_proxies", lambda raw: _addresses(raw)),
}


def read_environment(env_file: str | None = ".env") -> dict[str, str]:
    """The process environment over the values of `env_file` (when it exists)."""
    values = {}
    if env_file and os.path.isfile(env_file):
        values = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    values.update(os.environ)
    return values


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from `environ` (default: the environment and `.env`), or ConfigError."""
    if environ is None:
        environ = read_environment()
    missing = [name for name in REQUIRED if not str(environ.get(name, "")).strip()]
    values, problems = {}, []
    for name, (attribute, parse) in PARSERS.items():
        raw = environ.get(name)
        if name in missing or raw is None or not str(raw).strip():
            continue
        try:
            values[attribute] = parse(str(raw))
        except ValueError as exc:
            problems.append(f"{name} ({exc})")
    messages = []
    if missing:
        messages.append("Missing required environment variables: " + ", ".join(missing))
    if problems:
        messages.append("Invalid environment variables: " + "; ".join(problems))
    if messages:
        raise ConfigError(". ".join(messages))
    return Settings(**values)


def default_workers() -> int:
    """Two worker processes per usable core.

    A worker runs Python on one core at a time, and gunicorn spreads keep-alive
    connections unevenly over its workers: with one worker per core, one core idles while
    the other queues requests (bench: 1000-sample ingest batches 100k samples/s with 2
    workers on 2 cores, 130k with 4).
    """
    return 2 * len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class ServerSettings:
    """How gunicorn serves the app (read by gunicorn.conf.py)."""

    bind: str = "127.0.0.1:8000"
    workers: int = field(default_factory=default_workers)
    threads: int = 8
    timeout_s: int = 30
    keepalive_s: int = 5
    log_level: str = "info"


SERVER_PARSERS = {
    "BIND": ("bind", str.strip),
    "WORKERS": ("workers", _int_at_least(1)),
    "THREADS": ("threads", _int_at_least(1)),
    "TIMEOUT_S": ("timeout_s", _int_at_least(1)),
    "KEEPALIVE_S": ("keepalive_s", _int_at_least(1)),
    "LOG_LEVEL": ("log_level", lambda raw: _log_level(raw)),
}


def _log_level(raw: str) -> str:
    level = raw.strip().lower()
    if level not in ("debug", "info", "warning", "error", "critical"):
        raise ValueError("must be one of debug, info, warning, error, critical")
    return level


def load_server_settings(environ: Mapping[str, str] | None = None) -> ServerSettings:
    """gunicorn's settings from `environ` (default: the environment and `.env`)."""
    if environ is None:
        environ = read_environment()
    values, problems = {}, []
    for name, (attribute, parse) in SERVER_PARSERS.items():
        raw = environ.get(name)
        if raw is None or not str(raw).strip():
            continue
        try:
            values[attribute] = parse(str(raw))
        except ValueError as exc:
            problems.append(f"{name} ({exc})")
    if problems:
        raise ConfigError("Invalid environment variables: " + "; ".join(problems))
    return ServerSettings(**values)
