"""Series queries: from the continuous aggregates, or from raw samples where they are absent."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from psycopg import Connection, errors, sql

FRAMES = {
    "day": ("hour", "sungrow_hourly"),
    "month": ("day", "sungrow_daily"),
    "year": ("month", "sungrow_monthly"),
    "all": ("month", "sungrow_monthly"),
}

AVERAGED = ("pv_power_w", "battery_power_w", "battery_soc_pct", "load_power_w", "export_power_w")
FIELDS = (
    "bucket",
    "avg_pv_power_w",
    "max_pv_power_w",
    "avg_battery_power_w",
    "avg_battery_soc_pct",
    "avg_load_power_w",
    "avg_export_power_w",
    "sample_count",
)

FROM_AGGREGATE = sql.SQL(
    """
SELECT bucket,
       sum_pv_power_w / n_rows, max_pv_power_w,
       sum_battery_power_w / n_rows, sum_battery_soc_pct / n_rows,
       sum_load_power_w / n_rows, sum_export_power_w / n_rows,
       sample_count
FROM {view}
WHERE device_id = %(device_id)s AND bucket >= %(start)s::timestamptz
ORDER BY bucket
"""
)

# The same numbers from raw rows, with PostgreSQL's own bucketing: local hours (counted
# from local midnight of 2000-01-01, as the aggregates are), local days and months.
BUCKETS = {
    "hour": "date_bin(INTERVAL '1 hour', ts, '2000-01-01'::timestamp AT TIME ZONE %(timezone)s)",
    "day": "date_trunc('day', ts, %(timezone)s)",
    "month": "date_trunc('month', ts, %(timezone)s)",
}
FROM_SAMPLES = """
SELECT {bucket} AS bucket,
       sum(pv_power_w) / count(*), max(pv_power_w),
       sum(battery_power_w) / count(*), sum(battery_soc_pct) / count(*),
       sum(load_power_w) / count(*), sum(export_power_w) / count(*),
       sum(sample_count)::bigint
FROM sungrow_samples
WHERE device_id = %(device_id)s AND ts >= %(start)s::timestamptz
GROUP BY 1
ORDER BY 1
"""


def frame_start(frame: str, timezone: str, now: datetime | None = None) -> datetime | None:
    """Local midnight today, the local first of the month or of the year; None for `all`."""
    local = (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone))
    if frame == "day":
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    elif frame == "month":
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elif frame == "year":
        start = local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    else:
        return None
    # Re-attach the zone so that a midnight in another DST period gets its own offset.
    return start.replace(tzinfo=None).replace(tzinfo=ZoneInfo(timezone))


def series(conn: Connection, device_id: str, frame: str, timezone: str) -> list[dict]:
    """The buckets of a frame, oldest first, from the aggregate or (42P01) from raw samples."""
    resolution, view = FRAMES[frame]
    start = frame_start(frame, timezone)
    params = {"device_id": device_id, "start": start if start else "-infinity"}
    try:
        rows = conn.execute(FROM_AGGREGATE.format(view=sql.Identifier(view)), params).fetchall()
    except errors.UndefinedTable:
        if not conn.autocommit:
            conn.rollback()
        rows = series_from_samples(conn, params, resolution, timezone)
    return [dict(zip(FIELDS, row, strict=True)) for row in rows]


def series_from_samples(conn: Connection, params: dict, resolution: str, timezone: str) -> list:
    """Rows of (bucket, averages..., sample_count) computed from sungrow_samples."""
    query = FROM_SAMPLES.format(bucket=BUCKETS[resolution])
    return conn.execute(query, {**params, "timezone": timezone}).fetchall()
