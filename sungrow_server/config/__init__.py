"""Settings: the environment turned into typed, checked values, before anything starts."""

from .parsers import parse_device_tokens, redact_url
from .server import SERVER_PARSERS, ServerSettings, default_workers, load_server_settings
from .settings import (
    PARSERS,
    REQUIRED,
    ConfigError,
    Settings,
    get_settings,
    init_app,
    load_settings,
    read_environment,
)

__all__ = [
    "PARSERS",
    "REQUIRED",
    "SERVER_PARSERS",
    "ConfigError",
    "ServerSettings",
    "Settings",
    "default_workers",
    "get_settings",
    "init_app",
    "load_server_settings",
    "load_settings",
    "parse_device_tokens",
    "read_environment",
    "redact_url",
]
