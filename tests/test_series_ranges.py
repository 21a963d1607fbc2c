"""Series in the site's zone or a requested one, over explicit ranges, as JSON or CSV.

Every answer is compared with a recomputation from the raw samples in Python, on each
database edition, over data with DST changes, gaps and late samples.
"""

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import sql

from sungrow_server import create_app
from sungrow_server.config import get_settings
from sungrow_server.db.aggregates import refresh_aggregates, views_present
from tests.helpers import AUTH, close_app, make_env, sample
from tests.reference import PERIODS, assert_same, make_data, recompute


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
    zone = get_settings(zone_app).timezone
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
        expected = recompute(data + late, resolution, zone, start, end, site_zone="UTC")
        assert_same(response.json["series"], expected)


def test_frames_answer_in_the_requested_zone(client):
    now = datetime.now(UTC)
    data = [sample((now - timedelta(minutes=10 * i)).isoformat()) for i in range(30)]
    ingest(client, data)
    zone = "Pacific/Kiritimati"  # UTC+14: its today starts on yesterday's UTC date
    answer = get(client, frame="day", tz=zone).json
    today = datetime.now(ZoneInfo(zone)).replace(hour=0, minute=0, second=0, microsecond=0)
    expected = recompute(data, "hour", zone, today, today + timedelta(days=1), site_zone="UTC")
    for bucket in expected:
        bucket.pop("coverage")  # the current hour's share depends on the clock
    assert answer["timezone"] == zone and answer["frame"] == "day"
    assert_same(answer["series"], expected)


def test_timestamps_with_offsets_bound_the_range(client):
    data, late = make_data("2026-05-01", "2026-05-02", "UTC")
    data += late
    ingest(client, data)
    bounds = {
        "from": "2026-05-01T10:30:00%2B02:00",
        "to": "2026-05-01T12:00:00Z",
    }  # 08:30-12:00 UTC
    answer = get(client, resolution="hour", **bounds).json["series"]
    start, end = datetime(2026, 5, 1, 8, 30, tzinfo=UTC), datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert_same(answer, recompute(data, "hour", "UTC", start, end))
    assert answer[0]["coverage"] == pytest.approx(1.0)  # measured over the half hour asked for
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
    from sungrow_server.series.request import SeriesRequest
    from sungrow_server.series.sources import usable_views

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


def test_daily_pv_is_the_inverters_own_counter(client):
    # One day of 1-minute samples whose counter runs ahead of the integrated power (as a
    # real one does), sent second half first: the day's PV is the counter's final value.
    start = datetime(2026, 6, 10, tzinfo=UTC)
    day = [
        sample((start + timedelta(minutes=m)).isoformat(), pv_power_w=1000.0, pv_daily_kwh=m * 0.02)
        for m in range(1440)
    ]
    ingest(client, day[720:])
    ingest(client, day[:720])
    answer = get(client, **{"from": "2026-06-10", "to": "2026-06-11", "resolution": "day"}).json
    (bucket,) = answer["series"]
    assert bucket["pv_energy_kwh"] == pytest.approx(1439 * 0.02)
    hours = get(client, **{"from": "2026-06-10", "to": "2026-06-11", "resolution": "hour"}).json
    assert sum(h["pv_energy_kwh"] for h in hours["series"]) == pytest.approx(1439 * 0.02)


@pytest.mark.parametrize("zone_app", ["Europe/Berlin"], indirect=True)
def test_counter_across_a_25_hour_day_sent_backwards(zone_app):
    # 25 October 2026 in Berlin lasts 25 hours: its first and last samples are almost 25
    # hours apart and still one counter day, wherever each arrives in the order.
    client = zone_app.test_client()
    first = sample("2026-10-25T00:00:30+02:00", pv_power_w=0.0, pv_daily_kwh=0.1)
    last = sample("2026-10-25T23:59:30+01:00", pv_power_w=0.0, pv_daily_kwh=10.0)
    after = sample("2026-10-26T00:00:30+01:00", pv_power_w=0.0, pv_daily_kwh=0.2)
    ingest(client, [after])
    ingest(client, [last])
    ingest(client, [first])
    days = get(client, **{"from": "2026-10-25", "to": "2026-10-27", "resolution": "day"}).json
    assert [d["pv_energy_kwh"] for d in days["series"]] == [pytest.approx(10.0), 0.2]


def test_coverage_tells_dark_from_missing(client):
    start = datetime(2026, 6, 10, tzinfo=UTC)
    dark = [
        sample((start + timedelta(minutes=5 * i)).isoformat(), pv_power_w=0.0) for i in range(24)
    ]
    half = [
        sample(
            (start + timedelta(hours=3, minutes=5 * i)).isoformat(),
            pv_power_w=0.0,
            pv_daily_kwh=None,
        )
        for i in range(6)
    ]
    ingest(client, dark + half)
    params = {"from": "2026-06-10T00:00:00Z", "to": "2026-06-10T05:00:00Z", "resolution": "hour"}
    hours = {h["bucket"][11:16]: h for h in get(client, **params).json["series"]}
    assert hours["01:00"]["pv_energy_kwh"] == 0.0
    assert hours["01:00"]["coverage"] == 1.0 and hours["01:00"]["incomplete"] is False
    # 02:00-03:00 has no samples at all: no bucket; 03:00 has half an hour after a gap
    assert "02:00" not in hours
    assert hours["03:00"]["coverage"] == pytest.approx(25 / 60)  # the first interval is a gap
    assert hours["03:00"]["incomplete"] is True
    assert hours["03:00"]["pv_energy_kwh"] == 0.0


def test_energy_signs_follow_the_api(client):
    start = datetime(2026, 6, 10, tzinfo=UTC)
    rows = [
        sample(
            (start + timedelta(seconds=10 * i)).isoformat(),
            pv_daily_kwh=None,
            pv_power_w=3600.0,
            load_power_w=1800.0,
            export_power_w=-720.0 if i % 2 else 1440.0,  # importing, then exporting
            battery_power_w=360.0 if i % 2 else -180.0,  # charging, then discharging
        )
        for i in range(361)
    ]
    ingest(client, rows)
    params = {"from": "2026-06-10T00:00:00Z", "to": "2026-06-10T01:00:10Z", "resolution": "hour"}
    (hour, _) = get(client, **params).json["series"]
    # 360 ten-second intervals; the first sample has no predecessor
    assert hour["pv_energy_kwh"] == pytest.approx(3600 * 3590 / 3.6e6)
    assert hour["load_energy_kwh"] == pytest.approx(1800 * 3590 / 3.6e6)
    assert hour["import_energy_kwh"] == pytest.approx(720 * 1800 / 3.6e6)
    assert hour["export_energy_kwh"] == pytest.approx(1440 * 1790 / 3.6e6)
    assert hour["battery_charge_kwh"] == pytest.approx(360 * 1800 / 3.6e6)
    assert hour["battery_discharge_kwh"] == pytest.approx(180 * 1790 / 3.6e6)


@pytest.mark.parametrize("session_zone", ["UTC", "Europe/Berlin", "America/New_York"])
def test_coverage_does_not_depend_on_the_databases_own_zone(database_url, redis_url, session_zone):
    """A PostgreSQL set up in a DST zone (Debian's initdb takes the machine's) hands out
    timestamps in that zone; an hour is still 3600 s on the night the clocks go back."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET timezone = {}").format(
                sql.Identifier(conn.info.dbname), sql.Literal(session_zone)
            )
        )
    app = create_app(make_env(database_url, redis_url, TIMEZONE="Europe/Berlin"))
    try:
        assert app.test_cli_runner().invoke(args=["init-db"]).exit_code == 0
        client = app.test_client()
        start = datetime(2026, 10, 24, 20, tzinfo=UTC)
        ingest(client, [sample((start + timedelta(minutes=5 * i)).isoformat()) for i in range(96)])
        params = {
            "from": "2026-10-24T22:00:00Z",
            "to": "2026-10-25T04:00:00Z",
            "resolution": "hour",
        }
        hours = get(client, **params).json["series"]
        assert [h["bucket"][11:16] for h in hours] == [
            "22:00",
            "23:00",
            "00:00",
            "01:00",
            "02:00",
            "03:00",
        ]
        assert [h["coverage"] for h in hours] == [1.0] * 6
        assert [h["incomplete"] for h in hours] == [False] * 6
    finally:
        close_app(app)


@pytest.mark.parametrize("edition", ["postgresql"])
@pytest.mark.parametrize(
    ("params", "loc", "msg"),
    [
        # the ends of the years Python holds overflowed in local time: 500s
        ({"from": "0001-01-01", "to": "0001-01-02", "tz": "Asia/Tokyo"}, "from to", "years"),
        (
            {"from": "9999-12-31T00:00:00-05:00", "to": "9999-12-31T23:59:59-05:00"},
            "from to",
            "years",
        ),
        ({"from": "1899-12-31", "to": "1900-01-02"}, "from", "years"),
        ({"from": "2999-12-01", "to": "3000-01-01"}, "to", "years"),
        # 20261101 was UTC midnight where 2026-11-01 is local midnight
        ({"from": "20261101", "to": "2026-11-02", "tz": "Europe/Berlin"}, "from", "bound"),
        ({"from": "2026-11-01", "to": "2026-W45-1"}, "to", "bound"),
        ({"from": "2026-11-01T00:00", "to": "2026-11-02"}, "from", "bound"),
        ({"from": "2026-11-01T00:00:00.0000001Z", "to": "2026-11-02"}, "from", "bound"),
        ({"from": "2026-11-01", "to": "2026-11-02", "tz": "localtime"}, "tz", "zone"),
        ({"from": "2026-11-01", "to": "2026-11-02", "tz": "posixrules"}, "tz", "zone"),
        ({"from": "2026-11-01", "to": "2026-11-02", "tz": "right/UTC"}, "tz", "zone"),
        ({"from": "2026-11-01", "to": "2026-11-02", "tz": "posix/Europe/Berlin"}, "tz", "zone"),
        ({"frame": "day", "tz": "Factory"}, "tz", "zone"),
    ],
)
def test_range_bounds_and_zones_the_server_cannot_answer_are_422(client, params, loc, msg):
    texts = {
        "years": "Input should be a date or date-time in the years 1900 to 2999",
        "bound": "Input should be a date YYYY-MM-DD or an RFC 3339 date-time such as "
        "2026-11-01T00:00:00Z",
        "zone": "Unknown time zone; use an IANA name such as Europe/Berlin",
    }
    response = get(client, **{key: value.replace("+", "%2B") for key, value in params.items()})
    assert response.status_code == 422
    assert response.json["detail"] == [
        {"loc": ["query", name], "msg": texts[msg], "type": "value_error"} for name in loc.split()
    ]


@pytest.mark.parametrize("edition", ["postgresql"])
@pytest.mark.parametrize(
    "params",
    [
        {"from": "1900-01-01", "to": "1900-02-01", "tz": "Asia/Kolkata", "resolution": "day"},
        {"from": "2999-12-01", "to": "2999-12-31T23:00:00-05:00", "resolution": "day"},
        {"from": "2026-11-01T00:00:00.5z", "to": "2026-11-02 00:00:00+01:00"},
        {"frame": "all", "tz": "US/Eastern"},
        {"frame": "all", "tz": "Etc/GMT-14"},
    ],
)
def test_the_edges_of_what_is_answered(client, params):
    response = get(client, **{key: value.replace("+", "%2B") for key, value in params.items()})
    assert response.status_code == 200, response.json
    assert response.json["series"] == []
