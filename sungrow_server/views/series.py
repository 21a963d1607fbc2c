"""GET /v1/series: hourly, daily and monthly rollups of one device."""

from datetime import UTC

from flask import Blueprint, current_app, request

from ..auth import require_device
from ..errors import APIError
from ..rollups import FRAMES, series
from ..schemas import series_args_schema
from .args import load_args

bp = Blueprint("series", __name__)


@bp.get("/series")
def get_series():
    """The buckets of one frame, oldest first, each starting at an ISO 8601 UTC timestamp."""
    args = load_args(series_args_schema, request)
    device_id, frame = args["device_id"], args["frame"]
    if frame not in FRAMES:
        raise APIError(422, f"Invalid frame {frame!r}. Must be one of: {sorted(FRAMES)}.")
    require_device(device_id)
    timezone = current_app.config["SETTINGS"].timezone
    with current_app.extensions["sungrow.pool"].connection() as conn:
        buckets = series(conn, device_id, frame, timezone)
    for bucket in buckets:
        bucket["bucket"] = bucket["bucket"].astimezone(UTC).isoformat()
    return {"device_id": device_id, "frame": frame, "series": buckets}
