"""GET /v1/realtime: the newest sample of a device (or of each device of a site), through
the Redis cache."""

from flask import Blueprint, current_app, request

from ..auth import require_device, require_site
from ..config import get_settings
from ..db.pool import get_pool
from ..errors import APIError
from ..web.query_args import DeviceArgsSchema, SiteArgsSchema, load_args, site_requested
from .cache import get_cache, sample_json
from .latest import latest_sample
from .site import site_realtime

bp = Blueprint("realtime", __name__)


class RealtimeQueryArgsSchema(DeviceArgsSchema):
    """Query arguments of GET /v1/realtime."""


class SiteRealtimeQueryArgsSchema(SiteArgsSchema):
    """Query arguments of GET /v1/realtime for a site."""


realtime_args_schema = RealtimeQueryArgsSchema()
site_realtime_args_schema = SiteRealtimeQueryArgsSchema()


@bp.get("/realtime")
def realtime():
    """Cached sample on a hit; on a miss read PostgreSQL and offer the answer to the cache."""
    if site_requested(request):
        return realtime_of_site()
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


def realtime_of_site():
    """Each member's newest sample, and their total."""
    site_id = load_args(site_realtime_args_schema, request)["site_id"]
    members = require_site(site_id)
    settings = get_settings()
    return site_realtime(
        get_cache(), get_pool(), site_id, members, settings.stale_after_s, settings.timezone
    )
