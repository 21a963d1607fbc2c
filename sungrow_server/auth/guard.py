"""The bearer check before every /v1 request, and the device check inside the views."""

from flask import Flask, current_app, g, request

from ..config import get_settings
from ..errors import APIError
from .throttle import FailedAuthThrottle, client_address
from .tokens import TokenRegistry

CHALLENGE = {"WWW-Authenticate": "Bearer"}
TOKENS = "sungrow.tokens"
THROTTLE = "sungrow.throttle"


def init_app(app: Flask) -> None:
    """Hash the configured tokens once and set up the failed-auth throttle."""
    settings = get_settings(app)
    app.extensions[TOKENS] = TokenRegistry(settings.device_tokens)
    app.extensions[THROTTLE] = FailedAuthThrottle(
        settings.auth_fail_limit, settings.auth_fail_window_s
    )


def authenticate() -> None:
    """`before_request` of the api blueprint: 401 unless a known bearer token is presented.

    An address with too many recent failures gets 429 before its token is even looked
    at, so guessing cannot go faster than the throttle allows.
    """
    settings = get_settings()
    throttle: FailedAuthThrottle = current_app.extensions[THROTTLE]
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
    device = current_app.extensions[TOKENS].device_for(token.strip())
    if device is None:
        throttle.failed(address)
        raise APIError(401, "Invalid or expired token.", CHALLENGE)
    g.device_id = device


def require_device(device_id: str, detail: str = "Device ID does not match authenticated device."):
    """403 unless `device_id` is the authenticated device."""
    if device_id != g.device_id:
        raise APIError(403, detail)
