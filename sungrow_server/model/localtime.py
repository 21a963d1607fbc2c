"""Local-time arithmetic: days, months and hours of a zone, always computed on instants.

Python adds a timedelta to a zoned datetime on the wall clock, which made an hour 2 h
long on the night a DST zone's clocks go back; so every sum here is taken in UTC and
every local boundary is rebuilt from its local date with the zone re-attached.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_day(ts: datetime, zone: ZoneInfo) -> tuple[date, datetime, datetime]:
    """The local date of `ts` in `zone`, and when that day starts and ends (in UTC)."""
    day = ts.astimezone(zone).date()
    start = datetime.combine(day, time(), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
    if not start <= ts < end:  # a zone whose midnight is skipped or repeated: no shortcut
        start = end = ts
    return day, start, end


def local_midnight(value: date, timezone: str) -> datetime:
    """Midnight at the start of a local date."""
    return datetime(value.year, value.month, value.day, tzinfo=ZoneInfo(timezone))


def frame_start(frame: str, timezone: str, now: datetime | None = None) -> datetime | None:
    """Local midnight today, the local first of the month or of the year; None for `all`."""
    local = (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone))
    midnight = {"hour": 0, "minute": 0, "second": 0, "microsecond": 0}
    if frame == "day":
        start = local.replace(**midnight)
    elif frame == "month":
        start = local.replace(day=1, **midnight)
    elif frame == "year":
        start = local.replace(month=1, day=1, **midnight)
    else:
        return None
    # Re-attach the zone so that a midnight in another DST period gets its own offset.
    return start.replace(tzinfo=None).replace(tzinfo=ZoneInfo(timezone))


def truncate(moment: datetime, resolution: str, timezone: str) -> datetime:
    """The start of the bucket (hour, day or month, local) that holds `moment`."""
    zone = ZoneInfo(timezone)
    moment = moment.astimezone(UTC)  # arithmetic on instants, not on wall-clock times
    local = moment.astimezone(zone)
    if resolution == "hour":
        return moment - timedelta(
            minutes=local.minute, seconds=local.second, microseconds=local.microsecond
        )
    local = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if resolution == "month":
        local = local.replace(day=1)
    return local.replace(tzinfo=None).replace(tzinfo=zone)


def bucket_end(start: datetime, resolution: str, timezone: str) -> datetime:
    """Where the day or month bucket that begins at `start` ends: the next local midnight,
    or the local first of the next month."""
    zone = ZoneInfo(timezone)
    local = start.astimezone(zone)
    if resolution == "day":
        following = local.date() + timedelta(days=1)
        return datetime(following.year, following.month, following.day, tzinfo=zone)
    year, month = divmod(local.year * 12 + local.month, 12)
    return datetime(year, month + 1, 1, tzinfo=zone)


def same_hour_grid(zone_a: str, zone_b: str, moment: datetime | None) -> bool:
    """Whether local hours start at the same minutes in both zones."""
    moment = moment or datetime.now(UTC)
    offsets = [
        moment.astimezone(ZoneInfo(zone)).utcoffset() or timedelta(0) for zone in (zone_a, zone_b)
    ]
    return all(offset % timedelta(hours=1) == offsets[0] % timedelta(hours=1) for offset in offsets)
