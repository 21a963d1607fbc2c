"""Bearer tokens: parsed once, checked in constant time, the device put on `g`."""

import hashlib
import hmac
import secrets

from flask import current_app, g, request

from .errors import APIError
from .throttle import FailedAuthThrottle, client_address

CHALLENGE = {"WWW-Authenticate": "Bearer"}


class TokenRegistry:
    """Maps bearer tokens to devices without comparing the token itself byte by byte.

    Each configured token is stored only as an HMAC-SHA256 under a key drawn at start-up.
    A presented token is hashed the same way (the same work whatever it holds) and looked
    up by its digest. How long the look-up takes depends only on that digest, which nobody
    without the key can predict or steer, so it tells nothing about how much of a token
    was right or which configured token came closest, and it costs the same with one
    device or thousands (a loop of `hmac.compare_digest` over every token would not).
    """

    def __init__(self, tokens: dict[str, str]):
        self._key = secrets.token_bytes(32)
        self._devices = {self._digest(token): device for token, device in tokens.items()}

    def _digest(self, token: str) -> bytes:
        return hmac.new(self._key, token.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    def device_for(self, token: str) -> str | None:
        """The device bound to `token`, or None."""
        return self._devices.get(self._digest(token))


def authenticate() -> None:
    """`before_request` of the api blueprint: 401 unless a known bearer token is presented.

    An address with too many recent failures gets 429 before its token is even looked
    at, so guessing cannot go faster than the throttle allows.
    """
    settings = current_app.config["SETTINGS"]
    throttle = current_app.extensions["sungrow.throttle"]
    address = client_address(request, settings.trusted_proxies)
    wait = throttle.retry_after(address)
    if wait is not None:
        raise APIError(
            429,
            "Too many failed authentication attempts; try again later.",
            {"Retry-After": str(wait)},
        )
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        throttle.failed(address)
        raise APIError(401, "Missing authorization credentials.", CHALLENGE)
    device = current_app.extensions["sungrow.tokens"].device_for(token.strip())
    if device is None:
        throttle.failed(address)
        raise APIError(401, "Invalid or expired token.", CHALLENGE)
    g.device_id = device


def require_device(device_id: str, detail: str = "Device ID does not match authenticated device."):
    """403 unless `device_id` is the authenticated device."""
    if device_id != g.device_id:
        raise APIError(403, detail)


def init_app(app) -> None:
    """Hash the configured tokens once and set up the failed-auth throttle."""
    settings = app.config["SETTINGS"]
    app.extensions["sungrow.tokens"] = TokenRegistry(settings.device_tokens)
    app.extensions["sungrow.throttle"] = FailedAuthThrottle(
        settings.auth_fail_limit, settings.auth_fail_window_s
    )
