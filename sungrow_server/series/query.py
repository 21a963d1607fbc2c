"""The series SQL: buckets of a device's samples, from a rollup view or from raw rows."""

from dataclasses import replace
from datetime import datetime

from psycopg import Connection, errors, sql

from ..model.energy import SUMS
from ..model.localtime import truncate
from ..model.rollups import VIEWS
from .request import SeriesRequest
from .shape import ENERGIES, shape
from .sources import usable_views

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


def first_sample_time(conn: Connection, device_id: str) -> datetime | None:
    """When the device's first stored sample lies (sql/004: kept by the write path)."""
    row = conn.execute(
        "SELECT first_ts FROM sungrow_device_first WHERE device_id = %s", (device_id,)
    ).fetchone()
    return row[0] if row else None


def series(conn: Connection, request: SeriesRequest, views_timezone: str | None) -> list[dict]:
    """The buckets, oldest first: from a rollup where one is exact, else from raw samples.

    `views_timezone` is the zone the rollup views are bucketed in (None: no views).

    A missing rollup view (SQLSTATE 42P01: none on this database edition) falls through
    to the next source; any other database error propagates.
    """
    if request.start is None:
        # frame=all: from the month of the device's first sample, so that only the chunks
        # that can hold its data are read, not every chunk of the table since 2000.
        first = first_sample_time(conn, request.device_id)
        if first is None:
            return []
        request = replace(request, start=truncate(first, request.resolution, request.timezone))
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
