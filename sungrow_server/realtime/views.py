"""GET /v1/realtime: the newest sample of a device, through the Redis cache."""

from flask import Blueprint, current_app, request

from ..auth import require_device
from ..db.pool import get_pool
from ..errors import APIError
from ..web.query_args import DeviceArgsSchema, load_args
from .cache import get_cache, sample_json
from .latest import latest_sample

bp = Blueprint("realtime", __name__)


class RealtimeQueryArgsSchema(DeviceArgsSchema):
    """Query arguments of GET /v1/realtime."""


realtime_args_schema = RealtimeQueryArgsSchema()


@bp.get("/realtime")
def realtime():
    """Cached sample on a hit; on a miss read PostgreSQL and offer the answer to the cache."""
    device_id = load_args(realtime_args_schema, request)["device_id"]
    require_device(device_id)
    cache = get_cache()
    body = cache.get(device_id)
    if body is None:
        with get_pool().connection() as conn:
            sample = latest_sample(conn, device_id)
        if sample is None:
            raise APIError(404, f"No data found for device_id '{device_id}'.")
        body = sample_json(sample)
        cache.offer(sample, body)
    return current_app.response_class(body, mimetype="application/json")
