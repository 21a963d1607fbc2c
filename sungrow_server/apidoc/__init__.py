"""The API's own description: the OpenAPI document at /openapi.json."""

from .views import init_app

__all__ = ["init_app"]
