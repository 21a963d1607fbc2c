"""The independent recomputation: what every series answer must equal, worked out from the
raw samples in Python with zoneinfo, by the documented method; and data to feed it."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.helpers import sample

FIELDS = ("pv_power_w", "battery_power_w", "battery_soc_pct", "load_power_w", "export_power_w")
# zone -> a stretch of days around a DST change (or any, where the zone has none)
PERIODS = {
    "Europe/Berlin": ("2026-10-20", "2026-11-01"),  # 25 October has 25 hours
    "Australia/Adelaide": ("2026-09-28", "2026-10-10"),  # 4 October has 23 hours, +10:30
    "Asia/Kathmandu": ("2026-06-01", "2026-06-05"),  # +05:45
    "Asia/Kolkata": ("2026-03-27", "2026-04-03"),  # +05:30, across a month end
}


def local_bucket(ts: datetime, resolution: str, zone: str) -> datetime:
    """The bucket of `ts`, computed independently with zoneinfo."""
    tz = ZoneInfo(zone)
    if resolution in ("5min", "hour"):
        origin = datetime(2000, 1, 1, tzinfo=tz).astimezone(UTC)  # arithmetic in UTC, not wall time
        step = timedelta(minutes=5 if resolution == "5min" else 60)
        return origin + ((ts - origin) // step) * step
    local = ts.astimezone(tz)
    return datetime(local.year, local.month, 1 if resolution == "month" else local.day, tzinfo=tz)


MAX_GAP_S = 300


def derive(samples, site_zone):
    """Each sample's usable interval and PV energy, by the documented method, in Python."""
    out, prev = [], None
    tz = ZoneInfo(site_zone)
    for item in sorted(samples, key=lambda s: datetime.fromisoformat(s["ts"])):
        ts = datetime.fromisoformat(item["ts"])
        interval = (ts - prev[0]).total_seconds() if prev else None
        usable = interval if interval is not None and interval <= MAX_GAP_S else 0.0
        counter = item["pv_daily_kwh"]
        new_day = prev is None or prev[0].astimezone(tz).date() != ts.astimezone(tz).date()
        if counter is not None and new_day:
            pv = counter
        elif counter is not None and prev[1] is not None:
            pv = counter - prev[1] if counter >= prev[1] else counter
        else:
            pv = max(item["pv_power_w"], 0.0) * usable / 3.6e6
        out.append((ts, item, usable, pv))
        prev = (ts, counter)
    return out


def bucket_end(start, resolution, zone):
    if resolution in ("5min", "hour"):
        return start + timedelta(minutes=5 if resolution == "5min" else 60)
    local = start.astimezone(ZoneInfo(zone))
    if resolution == "day":
        nxt = local.date() + timedelta(days=1)
        return datetime(nxt.year, nxt.month, nxt.day, tzinfo=ZoneInfo(zone))
    return datetime(local.year + local.month // 12, local.month % 12 + 1, 1, tzinfo=ZoneInfo(zone))


def recompute(samples, resolution, zone, start, end, site_zone=None):
    groups = defaultdict(list)
    for ts, item, usable, pv in derive(samples, site_zone or zone):
        if start <= ts < end:
            groups[local_bucket(ts, resolution, zone)].append((item, usable, pv))
    out = []
    for bucket in sorted(groups):
        rows = [r[0] for r in groups[bucket]]
        entry = {"bucket": bucket.astimezone(UTC).isoformat()}
        entry["sample_count"] = sum(r["sample_count"] for r in rows)
        entry["max_pv_power_w"] = max(r["pv_power_w"] for r in rows)
        for name in FIELDS:
            entry[f"avg_{name}"] = sum(r[name] for r in rows) / len(rows)

        def energy(power, sign, members=groups[bucket]):
            return sum(max(sign * i[power], 0.0) * u for i, u, _ in members) / 3.6e6

        entry["pv_energy_kwh"] = sum(pv for _, _, pv in groups[bucket])
        entry["load_energy_kwh"] = energy("load_power_w", 1)
        entry["export_energy_kwh"] = energy("export_power_w", 1)
        entry["import_energy_kwh"] = energy("export_power_w", -1)
        entry["battery_charge_kwh"] = energy("battery_power_w", 1)
        entry["battery_discharge_kwh"] = energy("battery_power_w", -1)
        last = min(bucket_end(bucket, resolution, zone), end).astimezone(UTC)
        span = (last - max(bucket, start).astimezone(UTC)).total_seconds()
        entry["coverage"] = min(1.0, sum(u for _, u, _ in groups[bucket]) / span)
        out.append(entry)
    return out


def assert_same(answer, expected):
    assert [b["bucket"] for b in answer] == [b["bucket"] for b in expected]
    for got, want in zip(answer, expected, strict=True):
        for key, value in want.items():
            expected = value if key == "bucket" else pytest.approx(value, rel=1e-9, abs=1e-9)
            assert got[key] == expected, (got["bucket"], key)


def make_data(first_day: str, last_day: str, zone: str, gap_hours: int = 7) -> tuple[list, list]:
    """5-minute samples with a gap in the middle, the inverter's daily counter (restarting
    at local midnight, reset once by a reboot, missing for a while), and late samples."""
    tz = ZoneInfo(zone)
    start = datetime.fromisoformat(first_day).replace(tzinfo=tz).astimezone(UTC)
    end = datetime.fromisoformat(last_day).replace(tzinfo=tz).astimezone(UTC)
    gap = (start + (end - start) / 2, start + (end - start) / 2 + timedelta(hours=gap_hours))
    data, late, i, ts, counter, day = [], [], 0, start, 0.0, None
    while ts < end:
        pv = float((i * 37) % 5000)
        if ts.astimezone(tz).date() != day:
            day, counter = ts.astimezone(tz).date(), 0.0
        counter += pv * 300 / 3.6e6
        if i == 400:
            counter = 0.0  # the inverter rebooted
        reported = None if 600 <= i < 640 else round(counter, 3)
        item = sample(
            ts.isoformat(),
            pv_power_w=pv,
            pv_daily_kwh=reported,
            battery_power_w=float((i * 13) % 3000 - 1500),
            battery_soc_pct=float(i % 101),
            load_power_w=float((i * 11) % 2000),
            export_power_w=float((i * 17) % 4000 - 2000),
            sample_count=1 + i % 4,
        )
        if not gap[0] <= ts < gap[1]:
            (late if i % 7 == 3 and ts < start + timedelta(days=2) else data).append(item)
        ts += timedelta(minutes=5)
        i += 1
    return data, late


def recompute_site(samples_by_device, resolution, zone, start, end, site_zone=None):
    """A site's buckets, summed by hand from each member's recomputation: energies, average
    powers, peaks and sample counts summed, state of charge averaged over the members with
    samples in the bucket, coverage the lowest of all members (none: 0)."""
    members = [
        {b["bucket"]: b for b in recompute(samples, resolution, zone, start, end, site_zone)}
        for samples in samples_by_device.values()
    ]
    out = []
    for bucket in sorted({start for member in members for start in member}):
        present = [member[bucket] for member in members if bucket in member]
        entry = {"bucket": bucket}
        for key in present[0]:
            if key not in ("bucket", "coverage", "avg_battery_soc_pct"):
                entry[key] = sum(b[key] for b in present)
        entry["avg_battery_soc_pct"] = sum(b["avg_battery_soc_pct"] for b in present) / len(present)
        entry["coverage"] = min(
            member[bucket]["coverage"] if bucket in member else 0.0 for member in members
        )
        out.append(entry)
    return out
