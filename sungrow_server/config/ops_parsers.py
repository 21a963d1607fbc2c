"""Parsers of the operations settings: METRICS_ALLOW, ALERT_WEBHOOK_URL and
ALERT_WEBHOOK_FORMAT, LOG_FORMAT. Each returns the typed value or raises ValueError."""

import ipaddress
from urllib.parse import urlsplit


def networks(raw: str) -> tuple:
    """Comma-separated IP addresses or CIDR networks (`10.0.0.0/8`), or `none` for none."""
    if raw.strip().lower() == "none":
        return ()
    found = []
    for part in raw.split(","):
        if part.strip():
            try:
                found.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise ValueError(
                    "must be comma-separated IP addresses or networks, or none"
                ) from None
    return tuple(found)


def choice(*allowed: str):
    """A parser of one of `allowed` (case-insensitive), returned in lower case."""

    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise ValueError("must be one of " + ", ".join(allowed))
        return value

    return parse


def webhook_url(raw: str) -> str:
    """An http:// or https:// URL."""
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return raw.strip()
