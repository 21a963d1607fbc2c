"""The bearer check before every /v1 request, and the role and scope checks in the views."""

from flask import Flask, current_app, g, request

from ..config import get_settings
from ..db.pool import get_pool
from ..db.redis_client import get_redis
from ..errors import APIError
from ..web.cors import is_preflight
from .grants import DEVICE, Grant
from .store import TokenStore
from .throttle import FailedAuthThrottle, client_address
from .tokens import TokenRegistry

CHALLENGE = {"WWW-Authenticate": "Bearer"}
TOKENS = "sungrow.tokens"
STORE = "sungrow.token_store"
THROTTLE = "sungrow.throttle"

DEVICE_MISMATCH = "Device ID does not match authenticated device."
READ_ONLY = "Token is read-only."
SITE_DENIED = "Site ID is not readable with this token."


def init_app(app: Flask) -> None:
    """Hash the configured tokens once, attach the database's token store and set up the
    failed-auth throttle."""
    settings = get_settings(app)
    grants = {device: Grant.for_device(device) for device in settings.device_tokens.values()}
    app.extensions[TOKENS] = (TokenRegistry(settings.device_tokens), grants)
    app.extensions[STORE] = TokenStore(get_pool(app))
    app.extensions[THROTTLE] = FailedAuthThrottle(
        settings.auth_fail_limit, settings.auth_fail_window_s, get_redis(app)
    )


def get_token_store(app: Flask | None = None) -> TokenStore:
    """The token store of `app` (default: the current app)."""
    return (app or current_app).extensions[STORE]


def authenticate() -> None:
    """`before_request` of the api blueprint: 401 unless a known bearer token is presented.

    An address with too many recent failures gets 429 before its token is even looked
    at, so guessing cannot go faster than the throttle allows. A token of DEVICE_TOKENS
    is found without the database; any other in the token store (auth/store.py).
    """
    if is_preflight(request):
        return
    settings = get_settings()
    throttle: FailedAuthThrottle = current_app.extensions[THROTTLE]
    address = client_address(request, settings.trusted_proxies)
    _refuse_if_throttled(throttle.retry_after(address))
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        _refuse_if_throttled(throttle.failed(address))
        raise APIError(401, "Missing authorization credentials.", CHALLENGE)
    token = token.strip()
    registry, device_grants = current_app.extensions[TOKENS]
    device = registry.device_for(token)
    if device is not None:
        g.grant, g.device_id, g.sites = device_grants[device], device, {}
        return
    store = get_token_store()
    grant, snapshot = store.grant_for(token)
    if grant is None:
        _refuse_if_throttled(throttle.failed(address))
        raise APIError(401, "Invalid or expired token.", CHALLENGE)
    g.grant, g.device_id, g.sites = grant, grant.device_id, snapshot.sites
    store.used(grant)


def _refuse_if_throttled(wait: int | None) -> None:
    if wait is not None:
        raise APIError(
            429,
            "Too many failed authentication attempts; try again later.",
            {"Retry-After": str(wait)},
        )


def require_device(device_id: str, detail: str = DEVICE_MISMATCH) -> None:
    """403 unless the token may read `device_id` (a device token: its own device only)."""
    if device_id == g.device_id:
        return
    if not g.grant.reads_device(device_id, g.sites):
        raise APIError(403, detail)


def require_writer() -> None:
    """403 for a read-only token: it writes nothing."""
    if g.grant.role != DEVICE:
        raise APIError(403, READ_ONLY)


def require_site(site_id: str) -> tuple[str, ...]:
    """The members of a site the token may read: 403 outside its scope, 404 unknown."""
    if not g.grant.reads_site(site_id):
        raise APIError(403, SITE_DENIED)
    members = g.sites.get(site_id)
    if members is None:
        raise APIError(404, f"No site '{site_id}'.")
    return members
