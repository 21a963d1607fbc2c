"""Liveness: answers while the process serves requests, without touching any backend."""

from flask import Blueprint

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    """200 while the process serves requests (also `GET /` for clients other than browsers)."""
    return {"status": "ok"}
