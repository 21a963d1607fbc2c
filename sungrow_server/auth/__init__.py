"""Who may call /v1: bearer tokens, the failed-authentication throttle, the device check."""

from .guard import authenticate, init_app, require_device

__all__ = ["authenticate", "init_app", "require_device"]
