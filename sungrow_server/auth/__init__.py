"""Who may call /v1: bearer tokens (DEVICE_TOKENS and the database's), their roles and
scopes, the failed-authentication throttle, and the checks the views make."""

from .grants import DEVICE, READ_ONLY, ROLES, Grant
from .guard import (
    authenticate,
    get_token_store,
    init_app,
    require_device,
    require_site,
    require_writer,
)

__all__ = [
    "DEVICE",
    "READ_ONLY",
    "ROLES",
    "Grant",
    "authenticate",
    "get_token_store",
    "init_app",
    "require_device",
    "require_site",
    "require_writer",
]
