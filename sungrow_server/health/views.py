"""Liveness and readiness, outside authentication."""

from flask import Blueprint

from ..db.pool import get_pool
from ..ops.readiness import readiness
from ..realtime.cache import get_cache

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    """200 while the process serves requests (also `GET /` for clients other than browsers)."""
    return {"status": "ok"}


@bp.get("/health/ready")
def ready():
    """200 while PostgreSQL answers within a second (`degraded` without Redis or with
    rollups left stale); 503 with Retry-After, as every 503, when it does not."""
    return readiness(get_pool(), get_cache())
