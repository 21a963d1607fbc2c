"""GET /v1/devices: what the presented token can read, devices with how fresh their data
is, and sites with their members; where a dashboard or a script starts."""

from .views import bp, init_app, register_device_fields

__all__ = ["bp", "init_app", "register_device_fields"]
