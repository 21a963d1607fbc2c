"""GET /v1/series: a device's rollups by frame or by explicit range, as JSON or CSV."""

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, request

from ..auth import require_device
from ..buckets import FIELDS, SeriesRequest, bucket_count
from ..errors import APIError
from ..rollups import FRAMES, RESOLUTIONS, RollupZone, frame_request, series
from ..schemas import series_args_schema
from .args import load_args

bp = Blueprint("series", __name__)
bp.record_once(lambda state: state.app.extensions.setdefault("sungrow.rollup_zone", RollupZone()))
MAX_BUCKETS = 10000


@bp.get("/series")
def get_series():
    """Buckets oldest first, each starting at an ISO 8601 UTC timestamp."""
    args = load_args(series_args_schema, request)
    site_timezone = current_app.config["SETTINGS"].timezone
    query = parse_request(args, args.get("tz", site_timezone))
    require_device(query.device_id)
    with current_app.extensions["sungrow.pool"].connection() as conn:
        views_timezone = current_app.extensions["sungrow.rollup_zone"].get(conn)
        if views_timezone != site_timezone:
            views_timezone = None  # built for another zone: init-db has not been run again
        buckets = series(conn, query, views_timezone)
    if wants_csv(args):
        return csv_response(query, buckets)
    for bucket in buckets:
        bucket["bucket"] = bucket["bucket"].astimezone(UTC).isoformat()
    answer = {"device_id": query.device_id}
    if "frame" in args or "start" not in args:
        answer["frame"] = args.get("frame", "day")
    else:
        answer["from"] = query.start.astimezone(UTC).isoformat()
        answer["to"] = query.end.astimezone(UTC).isoformat()
    answer.update(resolution=query.resolution, timezone=query.timezone, series=buckets)
    return answer


def parse_request(args: dict, timezone: str) -> SeriesRequest:
    """A frame (default `day`) or a from/to range with a resolution; 422 for anything else."""
    ranged = "start" in args or "end" in args
    if "frame" in args and ranged:
        raise APIError(422, "Give either frame or from/to, not both.")
    if not ranged:
        frame = args.get("frame", "day")
        if frame not in FRAMES:
            raise APIError(422, f"Invalid frame {frame!r}. Must be one of: {sorted(FRAMES)}.")
        if "resolution" in args:
            raise APIError(422, "resolution goes with from and to; a frame has its own.")
        return frame_request(args["device_id"], frame, timezone)
    if "start" not in args or "end" not in args:
        raise APIError(422, "A range needs both from and to.")
    resolution = args.get("resolution", "hour")
    if resolution not in RESOLUTIONS:
        raise APIError(
            422, f"Invalid resolution {resolution!r}. Must be one of: {list(RESOLUTIONS)}."
        )
    start, end = (local_bound(args[key], timezone) for key in ("start", "end"))
    if start >= end:
        raise APIError(422, "from must be earlier than to.")
    query = SeriesRequest(args["device_id"], resolution, timezone, start, end)
    if bucket_count(query) > MAX_BUCKETS:
        raise APIError(
            422,
            f"The range holds up to {bucket_count(query)} {resolution} buckets; the limit is "
            f"{MAX_BUCKETS}. Use a coarser resolution or a shorter range.",
        )
    return query


def local_bound(value: date | datetime, timezone: str) -> datetime:
    """A date means local midnight in the zone; a datetime is already an instant."""
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=ZoneInfo(timezone))


def wants_csv(args: dict) -> bool:
    """`format=csv`, or an Accept header that prefers text/csv."""
    if "format" in args:
        return args["format"] == "csv"
    return request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"


def csv_response(query: SeriesRequest, buckets: list[dict]):
    """One row per bucket, with its local date and time, ready for a spreadsheet."""
    zone = ZoneInfo(query.timezone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["bucket_utc", "local_date", "local_time", *FIELDS[1:]])
    for bucket in buckets:
        local = bucket["bucket"].astimezone(zone)
        writer.writerow(
            [
                bucket["bucket"].astimezone(UTC).isoformat(),
                local.date().isoformat(),
                local.strftime("%H:%M"),
                *(bucket[name] for name in FIELDS[1:]),
            ]
        )
    device = "".join(c if c.isalnum() or c in "-_." else "_" for c in query.device_id)
    name = f"sungrow-{device[:64]}-{query.resolution}.csv"
    return current_app.response_class(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
