"""HTTP blueprints: health outside authentication, the rest under the `api` parent."""

from flask import Blueprint, Flask

from ..auth import authenticate


def register_blueprints(app: Flask) -> None:
    """Health and /openapi.json at the root; ingest, realtime and series under /v1, behind auth."""
    from .. import openapi
    from . import health, ingest, realtime, series

    api = Blueprint("api", __name__, url_prefix="/v1")
    api.before_request(authenticate)
    api.register_blueprint(ingest.bp)
    api.register_blueprint(realtime.bp)
    api.register_blueprint(series.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(api)
