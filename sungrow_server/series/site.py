"""A site's series: each member's buckets from the device series, combined bucket by bucket."""

from dataclasses import replace
from datetime import datetime

from psycopg import Connection

from .query import series
from .request import SeriesRequest
from .shape import COMPLETE_COVERAGE, ENERGIES, FIELDS

# Fields summed over the members that have the bucket: energies, average powers (the
# site's mean power is the sum of its members' means), peaks (an upper bound of the
# site's peak: members' peaks need not fall on the same instant) and sample counts.
SUMMED = tuple(
    name
    for name in FIELDS
    if name in ENERGIES or (name.endswith("_power_w")) or name == "sample_count"
)
SOC = "avg_battery_soc_pct"


def site_series(
    conn: Connection, request: SeriesRequest, members: tuple[str, ...], views_timezone: str | None
) -> list[dict]:
    """The site's buckets, oldest first, from each member's buckets (exactly the device
    series, from the same rollup or raw source) over the same range and zone.

    A bucket's `coverage` is the lowest of the members', counting a member without the
    bucket as 0, so an inverter that fell silent shows; `avg_battery_soc_pct` is the mean
    over the members that have samples in it; `incomplete` is set when any member's is.
    """
    per_member = [
        series(conn, replace(request, device_id=member), views_timezone) for member in members
    ]
    by_start: dict[datetime, list[dict]] = {}
    for buckets in per_member:
        for bucket in buckets:
            by_start.setdefault(bucket["bucket"], []).append(bucket)
    return [combine(start, by_start[start], len(members)) for start in sorted(by_start)]


def combine(start: datetime, buckets: list[dict], members: int) -> dict:
    """One site bucket from the buckets its members have at `start` (`members` in all)."""
    combined = {"bucket": start}
    for name in FIELDS[1:]:
        if name in SUMMED:
            combined[name] = sum(bucket[name] for bucket in buckets)
        elif name == SOC:
            combined[name] = sum(bucket[name] for bucket in buckets) / len(buckets)
    missing = len(buckets) < members
    combined["coverage"] = 0.0 if missing else min(bucket["coverage"] for bucket in buckets)
    combined["incomplete"] = (
        missing
        or any(bucket["incomplete"] for bucket in buckets)
        or combined["coverage"] < COMPLETE_COVERAGE
    )
    return combined
