"""The server's settings: read from the environment (and an optional `.env`), typed and
checked before anything starts."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import click
from dotenv import dotenv_values
from flask import current_app

from . import ops_parsers, parsers

REQUIRED = ("DATABASE_URL", "REDIS_URL", "DEVICE_TOKENS")
# Shorter DEVICE_TOKENS are warned about, not refused: that would lock edges out.
SHORT_TOKEN = 16
EXTENSION = "sungrow.settings"


class ConfigError(click.ClickException):
    """One clear line naming every bad variable; click prints it and exits 1."""


@dataclass(frozen=True)
class Settings:
    """Everything the server reads from its environment, already checked."""

    database_url: str = field(repr=False)
    redis_url: str = field(repr=False)
    device_tokens: dict[str, str] = field(repr=False)
    cache_ttl_s: int = 5
    max_samples_per_request: int = 1000
    max_request_bytes: int = 1048576
    body_read_timeout_s: float = 10.0
    timezone: str = "UTC"
    db_pool_size: int = 10
    db_pool_timeout_s: float = 5.0
    statement_timeout_ms: int = 15000
    redis_timeout_ms: int = 100
    retry_after_s: int = 5
    auth_fail_limit: int = 20
    auth_fail_window_s: int = 60
    trusted_proxies: frozenset[str] = frozenset({"127.0.0.1", "::1"})
    stale_after_s: int = 600
    cors_allow_origins: tuple[str, ...] = ()
    max_batch_span_s: int = 30 * 86400
    metrics_allow: tuple = ops_parsers.networks("127.0.0.1,::1")
    alert_webhook_url: str | None = field(default=None, repr=False)
    alert_webhook_format: str = "json"

    def warnings(self) -> list[str]:
        """Lines to log at start-up about settings that work but should change."""
        short = sorted({d for t, d in self.device_tokens.items() if len(t) < SHORT_TOKEN})
        if not short:
            return []
        many = len(short) > 1
        return [
            f"DEVICE_TOKENS: the token{'s' if many else ''} of {', '.join(short)} "
            f"{'are' if many else 'is'} shorter than {SHORT_TOKEN} characters, easier to "
            "guess; replace with long random ones (flask --app sungrow_server token create "
            "--device ID makes one)"
        ]

    def redact(self, text: str) -> str:
        """`text` without the passwords or whole URLs of the database and of Redis."""
        return parsers.redact_secrets(text, self.database_url, self.redis_url)

    def summary(self) -> str:
        """One secret-free line describing the settings in force."""
        return (
            f"sungrow-server settings: database={parsers.redact_url(self.database_url)} "
            f"redis={parsers.redact_url(self.redis_url)} devices={len(self.device_tokens)} "
            f"timezone={self.timezone} cache_ttl_s={self.cache_ttl_s} "
            f"max_samples_per_request={self.max_samples_per_request} "
            f"max_request_bytes={self.max_request_bytes} "
            f"body_read_timeout_s={self.body_read_timeout_s:g} "
            f"max_batch_span_s={self.max_batch_span_s} db_pool_size={self.db_pool_size} "
            f"db_pool_timeout_s={self.db_pool_timeout_s:g} "
            f"statement_timeout_ms={self.statement_timeout_ms} "
            f"redis_timeout_ms={self.redis_timeout_ms} "
            f"auth_fail_limit={self.auth_fail_limit}/{self.auth_fail_window_s}s "
            f"trusted_proxies={','.join(sorted(self.trusted_proxies)) or '-'} "
            f"stale_after_s={self.stale_after_s} "
            f"cors_allow_origins={','.join(self.cors_allow_origins) or '-'} "
            f"metrics_allow={','.join(map(str, self.metrics_allow)) or '-'} "
            f"alert_webhook={self.alert_webhook_format if self.alert_webhook_url else '-'}"
        )


# variable -> (settings attribute, parser); absent optional variables keep the default.
PARSERS = {
    "DATABASE_URL": ("database_url", parsers.database_url),
    "REDIS_URL": ("redis_url", parsers.redis_url),
    "DEVICE_TOKENS": ("device_tokens", parsers.parse_device_tokens),
    "CACHE_TTL_S": ("cache_ttl_s", parsers.int_at_least(1)),
    "MAX_SAMPLES_PER_REQUEST": ("max_samples_per_request", parsers.int_at_least(1)),
    "MAX_REQUEST_BYTES": ("max_request_bytes", parsers.int_at_least(1)),
    "BODY_READ_TIMEOUT_S": ("body_read_timeout_s", parsers.positive_float),
    "TIMEZONE": ("timezone", parsers.timezone),
    "DB_POOL_SIZE": ("db_pool_size", parsers.int_at_least(1)),
    "DB_POOL_TIMEOUT_S": ("db_pool_timeout_s", parsers.positive_float),
    "STATEMENT_TIMEOUT_MS": ("statement_timeout_ms", parsers.int_at_least(1)),
    "REDIS_TIMEOUT_MS": ("redis_timeout_ms", parsers.int_at_least(1)),
    "RETRY_AFTER_S": ("retry_after_s", parsers.int_at_least(1)),
    "AUTH_FAIL_LIMIT": ("auth_fail_limit", parsers.int_at_least(0)),
    "AUTH_FAIL_WINDOW_S": ("auth_fail_window_s", parsers.int_at_least(1)),
    "TRUSTED_PROXIES": ("trusted_proxies", parsers.addresses),
    "STALE_AFTER_S": ("stale_after_s", parsers.int_at_least(1)),
    "CORS_ALLOW_ORIGINS": ("cors_allow_origins", parsers.origins),
    "MAX_BATCH_SPAN_S": ("max_batch_span_s", parsers.int_at_least(1)),
    "METRICS_ALLOW": ("metrics_allow", ops_parsers.networks),
    "ALERT_WEBHOOK_URL": ("alert_webhook_url", ops_parsers.webhook_url),
    "ALERT_WEBHOOK_FORMAT": ("alert_webhook_format", ops_parsers.choice("json", "ntfy")),
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
    values, problems = parsers.parse_all(environ, PARSERS)
    messages = []
    if missing:
        messages.append("Missing required environment variables: " + ", ".join(missing))
    if problems:
        messages.append("Invalid environment variables: " + "; ".join(problems))
    if messages:
        raise ConfigError(". ".join(messages))
    return Settings(**values)


def init_app(app, settings: Settings) -> None:
    """Make `settings` the app's settings."""
    app.extensions[EXTENSION] = settings


def get_settings(app=None) -> Settings:
    """The settings of `app` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]
