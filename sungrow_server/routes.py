"""The app's URLs: health, the dashboard, the metrics and the API document at the root;
ingest, realtime, series and devices under /v1, behind the bearer check."""

from flask import Blueprint, Flask

from .apidoc.views import bp as apidoc_bp
from .auth import authenticate
from .dashboard.views import bp as dashboard_bp
from .devices import bp as devices_bp
from .health.views import bp as health_bp
from .ingest.views import bp as ingest_bp
from .ops.views import bp as metrics_bp
from .realtime.views import bp as realtime_bp
from .series.views import bp as series_bp


def register_blueprints(app: Flask) -> None:
    """Every blueprint, with authentication on the `api` parent of the /v1 ones."""
    api = Blueprint("api", __name__, url_prefix="/v1")
    api.before_request(authenticate)
    api.register_blueprint(ingest_bp)
    api.register_blueprint(realtime_bp)
    api.register_blueprint(series_bp)
    api.register_blueprint(devices_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(apidoc_bp)
    app.register_blueprint(metrics_bp)
    app.register_blueprint(api)
