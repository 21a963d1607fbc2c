"""What a series request asks for: one device's buckets of a resolution over a range."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ..errors import APIError
from ..model.localtime import frame_start, local_midnight

RESOLUTIONS = ("5min", "hour", "day", "month")  # finest first
# Each frame's resolution; its range starts at local midnight, the first of the month or
# of the year (model/localtime.frame_start) and is open-ended.
FRAMES = {"day": "hour", "month": "day", "year": "month", "all": "month"}
# Shortest length of a bucket, to bound how many buckets a range can have.
MIN_LENGTH = {
    "5min": timedelta(minutes=5),
    "hour": timedelta(hours=1),
    "day": timedelta(hours=23),
    "month": timedelta(days=28),
}
MAX_BUCKETS = 10000


@dataclass(frozen=True)
class SeriesRequest:
    """One device's buckets of `resolution` in `timezone` over [start, end) (a site's
    request has no device: series/site.py asks it of each member)."""

    device_id: str
    resolution: str
    timezone: str
    start: datetime | None = None
    end: datetime | None = None


def bucket_count(request: SeriesRequest) -> int:
    """At most how many buckets the request's range can hold."""
    span = request.end.astimezone(UTC) - request.start.astimezone(UTC)
    return int(span / MIN_LENGTH[request.resolution]) + 1


def frame_request(device_id: str, frame: str, timezone: str) -> SeriesRequest:
    """The request a frame stands for: from its local start, open-ended."""
    return SeriesRequest(device_id, FRAMES[frame], timezone, frame_start(frame, timezone))


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
        return frame_request(args.get("device_id", ""), frame, timezone)
    if "start" not in args or "end" not in args:
        raise APIError(422, "A range needs both from and to.")
    resolution = args.get("resolution", "hour")
    if resolution not in RESOLUTIONS:
        raise APIError(
            422, f"Invalid resolution {resolution!r}. Must be one of: {list(RESOLUTIONS)}."
        )
    start, end = (instant(args[key], timezone) for key in ("start", "end"))
    if start >= end:
        raise APIError(422, "from must be earlier than to.")
    query = SeriesRequest(args.get("device_id", ""), resolution, timezone, start, end)
    if bucket_count(query) > MAX_BUCKETS:
        raise APIError(
            422,
            f"The range holds up to {bucket_count(query)} {resolution} buckets; the limit is "
            f"{MAX_BUCKETS}. Use a coarser resolution or a shorter range.",
        )
    return query


def instant(value: date | datetime, timezone: str) -> datetime:
    """A range bound as an instant: a date means local midnight in the zone."""
    if isinstance(value, datetime):
        return value
    return local_midnight(value, timezone)
