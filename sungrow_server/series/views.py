"""GET /v1/series: a device's (or a site's) rollups by frame or by explicit range, as JSON
or CSV."""

from datetime import UTC

from flask import Blueprint, request

from ..auth import require_device, require_site
from ..config import get_settings
from ..db.pool import get_pool
from ..web.query_args import load_args, site_requested
from .args import series_args_schema, site_series_args_schema
from .csv_format import csv_response, wants_csv
from .query import series
from .request import parse_request
from .site import site_series
from .sources import views_timezone

bp = Blueprint("series", __name__)


@bp.get("/series")
def get_series():
    """Buckets oldest first, each starting at an ISO 8601 UTC timestamp."""
    site = site_requested(request)
    args = load_args(site_series_args_schema if site else series_args_schema, request)
    site_timezone = get_settings().timezone
    query = parse_request(args, args.get("tz", site_timezone))
    if site:
        members = require_site(args["site_id"])
    else:
        require_device(query.device_id)
    with get_pool().connection() as conn:
        views = views_timezone(conn, site_timezone)
        buckets = site_series(conn, query, members, views) if site else series(conn, query, views)
    if wants_csv(args, request):
        return csv_response(query, buckets, f"site-{args['site_id']}" if site else None)
    for bucket in buckets:
        bucket["bucket"] = bucket["bucket"].astimezone(UTC).isoformat()
    if site:
        answer = {"site_id": args["site_id"], "devices": list(members)}
    else:
        answer = {"device_id": query.device_id}
    if "frame" in args or "start" not in args:
        answer["frame"] = args.get("frame", "day")
    else:
        answer["from"] = query.start.astimezone(UTC).isoformat()
        answer["to"] = query.end.astimezone(UTC).isoformat()
    answer.update(resolution=query.resolution, timezone=query.timezone, series=buckets)
    return answer
