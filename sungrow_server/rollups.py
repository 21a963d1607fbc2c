"""Series queries: buckets of a device's samples, from the coarsest exact rollup available."""

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from psycopg import Connection, errors, sql

from .buckets import ENERGIES, SeriesRequest, shape
from .energy import SUMS

RESOLUTIONS = ("5min", "hour", "day", "month")  # finest first
FRAMES = {"day": "hour", "month": "day", "year": "month", "all": "month"}
# The rollup views, by the resolution of their buckets.
VIEWS = {"hour": "sungrow_hourly", "day": "sungrow_daily", "month": "sungrow_monthly"}
SUMMED = (*ENERGIES, "covered_s")  # the query's last columns, in this order

# Buckets in the zone, counted from local midnight of 2000-01-01 (as the aggregates are):
# local 5-minute steps and hours, local days and months, DST-correct.
ORIGIN = "('2000-01-01'::timestamp AT TIME ZONE %(timezone)s)"
BUCKETS = {
    "5min": f"date_bin(INTERVAL '5 minutes', {{time}}, {ORIGIN})",
    "hour": f"date_bin(INTERVAL '1 hour', {{time}}, {ORIGIN})",
    "day": "date_trunc('day', {time}, %(timezone)s)",
    "month": "date_trunc('month', {time}, %(timezone)s)",
}
# The same sums from raw rows or from a rollup's sums and counts.
RAW = {
    "time": "ts",
    "n": "count(*)",
    "sum": "sum({name})",
    "max": "max({name})",
    "samples": "sum(sample_count)",
}
ROLLUP = {
    "time": "bucket",
    "n": "sum(n_rows)",
    "sum": "sum(sum_{name})",
    "max": "max(max_{name})",
    "samples": "sum(sample_count)",
}
QUERY = """
SELECT {bucket} AS b,
       {sum_pv} / {n}, {max_pv}, {sum_battery} / {n}, {sum_soc} / {n},
       {sum_load} / {n}, {sum_export} / {n}, ({samples})::bigint,
       {energies}
FROM {source}
WHERE device_id = %(device_id)s
  AND {time} >= %(start)s::timestamptz AND {time} < %(end)s::timestamptz
GROUP BY 1
ORDER BY 1
"""


def local_start(frame: str, timezone: str, now: datetime | None = None) -> datetime | None:
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


def frame_request(device_id: str, frame: str, timezone: str) -> SeriesRequest:
    """The request a frame stands for: from its local start, open-ended."""
    return SeriesRequest(device_id, FRAMES[frame], timezone, local_start(frame, timezone))


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


class RollupZone:
    """The zone the rollup views were built in (init-db records it), re-read every minute.

    A server whose TIMEZONE differs from it (changed, init-db not run again) answers
    from raw samples rather than from views bucketed in another zone.
    """

    TTL_S = 60.0

    def __init__(self):
        self._value: tuple[float, str | None] | None = None

    def get(self, conn: Connection) -> str | None:
        """The recorded zone, or None where there are no rollup views."""
        now = time.monotonic()
        if self._value is None or now - self._value[0] > self.TTL_S:
            try:
                row = conn.execute(
                    "SELECT value FROM sungrow_schema_state WHERE key = 'rollup_timezone'"
                ).fetchone()
            except errors.UndefinedTable:
                row = None
            self._value = (now, row[0] if row else None)
        return self._value[1]


def usable_views(request: SeriesRequest, site_timezone: str | None) -> list[str]:
    """Rollup levels that give exact buckets for the request, coarsest first.

    A level serves when its buckets nest in the requested ones (same zone for days and
    months; the same local hour grid for hours) and the range starts and ends on its
    bucket boundaries, so no bucket holds data from outside the range.
    """
    if site_timezone is None:
        return []
    finest = RESOLUTIONS.index(request.resolution)
    levels = []
    for level in ("month", "day", "hour"):
        if RESOLUTIONS.index(level) > finest:
            continue
        if level == "hour":
            if not same_hour_grid(request.timezone, site_timezone, request.start or request.end):
                continue
        elif request.timezone != site_timezone:
            continue
        bounds = [b for b in (request.start, request.end) if b is not None]
        if all(truncate(b, level, site_timezone) == b for b in bounds):
            levels.append(level)
    return levels


def same_hour_grid(zone_a: str, zone_b: str, moment: datetime | None) -> bool:
    """Whether local hours start at the same minutes in both zones."""
    moment = moment or datetime.now(UTC)
    offsets = [
        moment.astimezone(ZoneInfo(zone)).utcoffset() or timedelta(0) for zone in (zone_a, zone_b)
    ]
    return all(offset % timedelta(hours=1) == offsets[0] % timedelta(hours=1) for offset in offsets)


def build_query(request: SeriesRequest, level: str | None) -> sql.SQL:
    """The query that buckets from a rollup level, or from raw samples (None)."""
    parts = ROLLUP if level else RAW
    names = {
        "sum_pv": "pv_power_w",
        "sum_battery": "battery_power_w",
        "sum_soc": "battery_soc_pct",
        "sum_load": "load_power_w",
        "sum_export": "export_power_w",
    }
    text = QUERY.format(
        bucket=BUCKETS[request.resolution].format(time=parts["time"]),
        n=parts["n"],
        max_pv=parts["max"].format(name="pv_power_w"),
        samples=parts["samples"],
        source=VIEWS[level] if level else "sungrow_samples",
        time=parts["time"],
        energies=", ".join(SUMS[n] if level is None else f"sum({n})" for n in SUMMED),
        **{key: parts["sum"].format(name=name) for key, name in names.items()},
    )
    return sql.SQL(text)  # every piece above is a fixed fragment of this module


def series(conn: Connection, request: SeriesRequest, views_timezone: str | None) -> list[dict]:
    """The buckets, oldest first: from a rollup where one is exact, else from raw samples.

    `views_timezone` is the zone the rollup views are bucketed in (None: no views).

    A missing rollup view (SQLSTATE 42P01: none on this database edition) falls through
    to the next source; any other database error propagates.
    """
    params = {
        "device_id": request.device_id,
        "timezone": request.timezone,
        "start": request.start or "-infinity",
        "end": request.end or "infinity",
    }
    # Rows come in binary: 720 hourly rows of 15 columns are read in 3.3 ms, not 4.4.
    rows = None
    for level in usable_views(request, views_timezone):
        try:
            rows = conn.execute(build_query(request, level), params, binary=True).fetchall()
        except errors.UndefinedTable:
            if not conn.autocommit:
                conn.rollback()
            break
        break
    if rows is None:
        rows = conn.execute(build_query(request, None), params, binary=True).fetchall()
    return shape(rows, request)
