"""GET /metrics: Prometheus text format, only for addresses in METRICS_ALLOW."""

import ipaddress

from flask import Blueprint, Flask, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST

from ..auth.throttle import client_address
from ..config import get_settings
from ..db.aggregates import views_present
from ..db.pool import get_pool
from ..errors import APIError
from . import metrics
from .collector import DatabaseCollector
from .pool_stats import SAMPLER

COLLECTOR = "sungrow.metrics_collector"
bp = Blueprint("metrics", __name__)


def init_app(app: Flask) -> None:
    """The scrape-time collector of the app's database."""
    devices = set(get_settings(app).device_tokens.values())
    app.extensions[COLLECTOR] = DatabaseCollector(
        get_pool(app), devices, lambda conn: bool(views_present(conn))
    )


def allowed(address: str, networks) -> bool:
    """Whether the client address lies in one of the networks."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in networks)


@bp.get("/metrics")
def metrics_view():
    """Every worker's metrics and the database's; 404 for addresses not allowed."""
    settings = get_settings()
    if not allowed(client_address(request, settings.trusted_proxies), settings.metrics_allow):
        raise APIError(404, "Not Found")
    current_app.extensions[SAMPLER].sample()
    body = metrics.exposition(current_app.extensions[COLLECTOR])
    return current_app.response_class(body, content_type=CONTENT_TYPE_LATEST)
