"""Series in the site's zone or a requested one, over explicit ranges, as JSON or CSV.

Every answer is compared with a recomputation from the raw samples in Python, on each
database edition, over data with DST changes, gaps and late samples.
"""

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sungrow_server import create_app
from sungrow_server.schema import refresh_aggregates, views_present
from tests.conftest import AUTH, close_app, make_env, sample

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


def recompute(samples, resolution, zone, start, end):
    groups = defaultdict(list)
    for item in samples:
        ts = datetime.fromisoformat(item["ts"])
        if start <= ts < end:
            groups[local_bucket(ts, resolution, zone).astimezone(UTC)].append(item)
    out = []
    for bucket in sorted(groups):
        rows = groups[bucket]
        entry = {"bucket": bucket.isoformat(), "sample_count": sum(r["sample_count"] for r in rows)}
        entry["max_pv_power_w"] = max(r["pv_power_w"] for r in rows)
        for name in FIELDS:
            entry[f"avg_{name}"] = sum(r[name] for r in rows) / len(rows)
        out.append(entry)
    return out


def assert_same(answer, expected):
    assert [b["bucket"] for b in answer] == [b["bucket"] for b in expected]
    for got, want in zip(answer, expected, strict=True):
        for key, value in want.items():
            assert got[key] == (value if key == "bucket" else pytest.approx(value, rel=1e-9)), key


def make_data(first_day: str, last_day: str, zone: str, gap_hours: int = 7) -> tuple[list, list]:
    """5-minute samples with a gap in the middle; and late samples for the first days."""
    start = datetime.fromisoformat(first_day).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    end = datetime.fromisoformat(last_day).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    gap = (start + (end - start) / 2, start + (end - start) / 2 + timedelta(hours=gap_hours))
    data, late, i, ts = [], [], 0, start
    while ts < end:
        item = sample(
            ts.isoformat(),
            pv_power_w=float((i * 37) % 5000),
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


def ingest(client, samples):
    for at in range(0, len(samples), 1000):
        response = client.post(
            "/v1/ingest", json={"samples": samples[at : at + 1000]}, headers=AUTH
        )
        assert response.status_code == 200, response.json


def get(client, **params):
    query = "&".join(
        f"{key}={value}" for key, value in {"device_id": "inverter-01", **params}.items()
    )
    return client.get(f"/v1/series?{query}", headers=AUTH)


@pytest.fixture
def zone_app(request, database_url, redis_url):
    """The app with TIMEZONE set, after init-db has (re)built what the zone needs."""
    app = create_app(make_env(database_url, redis_url, TIMEZONE=request.param))
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    yield app
    close_app(app)


@pytest.mark.parametrize("zone_app", list(PERIODS), indirect=True)
def test_site_zone_ranges_match_recomputation(zone_app, db):
    zone = zone_app.config["SETTINGS"].timezone
    client = zone_app.test_client()
    first, last = PERIODS[zone]
    data, late = make_data(first, last, zone)
    ingest(client, data)
    if views_present(db):
        refresh_aggregates(db)
    ingest(client, late)  # an edge flushing its spool, into materialised buckets
    if views_present(db):
        refresh_aggregates(db)  # the policies' next run
    start = datetime.fromisoformat(first).replace(tzinfo=ZoneInfo(zone))
    end = datetime.fromisoformat(last).replace(tzinfo=ZoneInfo(zone))
    for resolution in ("5min", "hour", "day", "month"):
        response = get(client, **{"from": first, "to": last, "resolution": resolution})
        assert response.status_code == 200, response.json
        assert response.json["timezone"] == zone
        assert response.json["resolution"] == resolution
        assert_same(response.json["series"], recompute(data + late, resolution, zone, start, end))


@pytest.mark.parametrize("zone_app", ["Europe/Berlin"], indirect=True)
def test_dst_days_are_single_buckets(zone_app):
    client = zone_app.test_client()
    data, late = make_data("2026-10-24", "2026-10-27", "Europe/Berlin", gap_hours=0)
    ingest(client, data + late)
    days = get(client, **{"from": "2026-10-24", "to": "2026-10-27", "resolution": "day"}).json
    starts = [d["bucket"] for d in days["series"]]
    assert starts == [
        "2026-10-23T22:00:00+00:00",
        "2026-10-24T22:00:00+00:00",  # 25 October, 25 hours long
        "2026-10-25T23:00:00+00:00",
    ]
    hours = get(client, **{"from": "2026-10-25", "to": "2026-10-26", "resolution": "hour"}).json
    assert len(hours["series"]) == 25
    assert sum(h["sample_count"] for h in hours["series"]) == days["series"][1]["sample_count"]


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "Australia/Adelaide", "America/New_York"])
def test_tz_parameter_overrides_site_zone(client, zone):
    first, last = PERIODS.get(zone, ("2026-03-06", "2026-03-10"))  # New York: 8 March DST
    data, late = make_data(first, last, zone)
    ingest(client, data + late)
    start = datetime.fromisoformat(first).replace(tzinfo=ZoneInfo(zone))
    end = datetime.fromisoformat(last).replace(tzinfo=ZoneInfo(zone))
    for resolution in ("hour", "day", "month"):
        response = get(client, tz=zone, **{"from": first, "to": last, "resolution": resolution})
        assert response.json["timezone"] == zone
        assert_same(response.json["series"], recompute(data + late, resolution, zone, start, end))


def test_frames_answer_in_the_requested_zone(client):
    now = datetime.now(UTC)
    data = [sample((now - timedelta(minutes=10 * i)).isoformat()) for i in range(30)]
    ingest(client, data)
    zone = "Pacific/Kiritimati"  # UTC+14: its today starts on yesterday's UTC date
    answer = get(client, frame="day", tz=zone).json
    today = datetime.now(ZoneInfo(zone)).replace(hour=0, minute=0, second=0, microsecond=0)
    expected = recompute(data, "hour", zone, today, today + timedelta(days=1))
    assert answer["timezone"] == zone and answer["frame"] == "day"
    assert_same(answer["series"], expected)


def test_timestamps_with_offsets_bound_the_range(client):
    data, _ = make_data("2026-05-01", "2026-05-02", "UTC")
    ingest(client, data)
    bounds = {
        "from": "2026-05-01T10:30:00%2B02:00",
        "to": "2026-05-01T12:00:00Z",
    }  # 08:30-12:00 UTC
    answer = get(client, resolution="hour", **bounds).json["series"]
    start, end = datetime(2026, 5, 1, 8, 30, tzinfo=UTC), datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert_same(answer, recompute(data, "hour", "UTC", start, end))
    assert answer[0]["bucket"] == "2026-05-01T08:00:00+00:00"
    assert answer[0]["sample_count"] == sum(
        s["sample_count"]
        for s in data
        if start <= datetime.fromisoformat(s["ts"]) < start + timedelta(minutes=30)
    )


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"tz": "Mars/Olympus"}, None),
        ({"from": "2026-05-02", "to": "2026-05-01"}, "from must be earlier than to."),
        ({"from": "2026-05-01", "to": "2026-05-01"}, "from must be earlier than to."),
        ({"from": "2026-05-01"}, "A range needs both from and to."),
        (
            {"frame": "day", "from": "2026-05-01", "to": "2026-05-02"},
            "Give either frame or from/to, not both.",
        ),
        (
            {"from": "2026-05-01", "to": "2026-05-02", "resolution": "week"},
            "Invalid resolution 'week'. Must be one of: ['5min', 'hour', 'day', 'month'].",
        ),
        (
            {"frame": "day", "resolution": "hour"},
            "resolution goes with from and to; a frame has its own.",
        ),
        ({"from": "yesterday", "to": "2026-05-02"}, None),
        ({"from": "2020-01-01", "to": "2026-01-01", "resolution": "5min"}, None),
        ({"format": "xml"}, None),
    ],
)
def test_bad_series_requests_are_422(client, params, detail):
    response = get(client, **params)
    assert response.status_code == 422
    if detail:
        assert response.json == {"detail": detail}
    else:
        assert response.json["detail"]


def test_too_many_buckets_names_the_limit(client):
    response = get(client, **{"from": "2020-01-01", "to": "2026-01-01", "resolution": "hour"})
    assert response.status_code == 422
    assert "the limit is 10000" in response.json["detail"]


@pytest.mark.parametrize("how", ["format", "accept"])
def test_csv(client, how):
    data, _ = make_data("2026-03-28", "2026-03-31", "Europe/Berlin")
    ingest(client, data)
    params = {"from": "2026-03-28", "to": "2026-03-31", "resolution": "day", "tz": "Europe/Berlin"}
    json_answer = get(client, **params).json["series"]
    if how == "format":
        response = get(client, format="csv", **params)
    else:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        response = client.get(
            f"/v1/series?device_id=inverter-01&{query}", headers={**AUTH, "Accept": "text/csv"}
        )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["local_date"] for r in rows] == ["2026-03-28", "2026-03-29", "2026-03-30"]
    assert all(r["local_time"] == "00:00" for r in rows)
    assert [r["bucket_utc"] for r in rows] == [b["bucket"] for b in json_answer]
    assert [float(r["avg_pv_power_w"]) for r in rows] == [b["avg_pv_power_w"] for b in json_answer]
    assert [int(r["sample_count"]) for r in rows] == [b["sample_count"] for b in json_answer]


def test_coarsest_exact_rollup_is_chosen():
    from sungrow_server.rollups import SeriesRequest, usable_views

    def request(resolution, zone, start, end):
        return SeriesRequest(
            "d", resolution, zone, datetime.fromisoformat(start), datetime.fromisoformat(end)
        )

    berlin = "Europe/Berlin"
    aligned_months = request("month", berlin, "2026-01-01T00:00+01:00", "2026-07-01T00:00+02:00")
    assert usable_views(aligned_months, berlin) == ["month", "day", "hour"]
    mid_day = request("day", berlin, "2026-01-01T12:00+01:00", "2026-01-05T00:00+01:00")
    assert usable_views(mid_day, berlin) == ["hour"]
    mid_hour = request("day", berlin, "2026-01-01T12:30+01:00", "2026-01-05T00:00+01:00")
    assert usable_views(mid_hour, berlin) == []
    # Paris shares Berlin's hours but days are only exact in the views' own zone
    paris = request("day", "Europe/Paris", "2026-01-01T00:00+01:00", "2026-01-05T00:00+01:00")
    assert usable_views(paris, berlin) == ["hour"]
    # Kolkata's hours start at :30, so Berlin's hourly rollup cannot serve it
    kolkata = request("day", "Asia/Kolkata", "2026-01-01T00:00+05:30", "2026-01-05T00:00+05:30")
    assert usable_views(kolkata, berlin) == []
    # 5-minute buckets always come from raw samples; no views recorded means none
    assert (
        usable_views(request("5min", berlin, "2026-01-01T00:00Z", "2026-01-02T00:00Z"), berlin)
        == []
    )
    assert usable_views(aligned_months, None) == []
