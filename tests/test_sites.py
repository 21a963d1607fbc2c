"""Sites: several devices read as one, by series and realtime, on each database edition;
the `site` commands."""

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sungrow_server import create_app
from sungrow_server.db.aggregates import refresh_aggregates, views_present
from tests.helpers import (
    API_EDITIONS,
    AUTH,
    bearer,
    cli,
    close_app,
    make_env,
    make_token,
    sample,
    single_edition,
)
from tests.reference import assert_same, make_data, recompute_site

# Series and realtime run on every edition (rollups, hypertables); the commands and the
# scope checks, the same everywhere, on plain PostgreSQL.
edition = single_edition("postgresql")
EVERY_EDITION = pytest.mark.parametrize("edition", API_EDITIONS)
ZONE = "Europe/Berlin"
FIRST, LAST = "2026-10-24", "2026-10-28"  # 25 October has 25 hours
SILENT = (datetime(2026, 10, 27, 9, tzinfo=UTC), datetime(2026, 10, 27, 10, tzinfo=UTC))
TOKEN_OF = {"inverter-01": AUTH, "inverter-02": bearer("token-02")}


@pytest.fixture
def berlin_app(database_url, redis_url):
    """The app in Europe/Berlin, after init-db has built what the zone needs."""
    app = create_app(make_env(database_url, redis_url, TIMEZONE=ZONE))
    assert cli(app, "init-db").exit_code == 0
    yield app
    close_app(app)


def ingest(client, samples):
    for at in range(0, len(samples), 1000):
        batch = samples[at : at + 1000]
        headers = TOKEN_OF[batch[0]["device_id"]]
        response = client.post("/v1/ingest", json={"samples": batch}, headers=headers)
        assert response.status_code == 200, response.json


def two_inverters() -> dict[str, list[dict]]:
    """Four days around a DST change from two inverters; the second is smaller, never has
    the first one's seven-hour gap, and falls silent for one hour (SILENT)."""
    first, late = make_data(FIRST, LAST, ZONE)
    second, _ = make_data(FIRST, LAST, ZONE, gap_hours=0)
    second = [
        {
            **item,
            "device_id": "inverter-02",
            "pv_power_w": item["pv_power_w"] / 2,
            "battery_soc_pct": 100 - item["battery_soc_pct"],
        }
        for item in second
        if not SILENT[0] <= datetime.fromisoformat(item["ts"]) < SILENT[1]
    ]
    return {"inverter-01": first + late, "inverter-02": second}


@pytest.fixture
def roof(berlin_app, db):
    """Two inverters' data stored (and rolled up where there are aggregates), a site `roof`
    of both, and a read-only token for it."""
    client = berlin_app.test_client()
    data = two_inverters()
    for samples in data.values():
        ingest(client, samples)
    if views_present(db):
        refresh_aggregates(db)
    created = cli(
        berlin_app, "site", "create", "roof", "--device", "inverter-01", "--device", "inverter-02"
    )
    assert created.exit_code == 0, created.output
    token = make_token(berlin_app, "--site", "roof", "--read-only")
    return client, data, bearer(token)


def site_series(client, headers, **params):
    query = "&".join(f"{key}={value}" for key, value in {"site_id": "roof", **params}.items())
    return client.get(f"/v1/series?{query}", headers=headers)


@EVERY_EDITION
def test_site_series_is_the_sum_of_its_devices(roof):
    client, data, headers = roof
    start = datetime.fromisoformat(FIRST).replace(tzinfo=ZoneInfo(ZONE))
    end = datetime.fromisoformat(LAST).replace(tzinfo=ZoneInfo(ZONE))
    for resolution in ("5min", "hour", "day", "month"):
        response = site_series(
            client, headers, **{"from": FIRST, "to": LAST, "resolution": resolution}
        )
        assert response.status_code == 200, response.json
        answer = response.json
        assert answer["site_id"] == "roof" and answer["devices"] == ["inverter-01", "inverter-02"]
        assert list(answer)[2:] == ["from", "to", "resolution", "timezone", "series"]
        assert answer["timezone"] == ZONE
        assert_same(answer["series"], recompute_site(data, resolution, ZONE, start, end))
    answer = site_series(client, headers, frame="all").json
    assert answer["frame"] == "all" and answer["resolution"] == "month"
    always = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    assert_same(answer["series"], recompute_site(data, "month", ZONE, *always))
    kolkata = "Asia/Kolkata"  # hours at :30, so never from Berlin's rollups
    params = {"from": "2026-10-24", "to": "2026-10-27", "resolution": "hour", "tz": kolkata}
    bounds = (
        datetime(2026, 10, 24, tzinfo=ZoneInfo(kolkata)),
        datetime(2026, 10, 27, tzinfo=ZoneInfo(kolkata)),
    )
    answer = site_series(client, headers, **params).json
    expected = recompute_site(data, "hour", kolkata, *bounds, site_zone=ZONE)
    assert_same(answer["series"], expected)
    # the same as CSV
    response = site_series(client, headers, format="csv", **{"from": FIRST, "to": LAST})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="sungrow-site-roof-hour.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    expected = recompute_site(data, "hour", ZONE, start, end)
    assert [row["bucket_utc"] for row in rows] == [bucket["bucket"] for bucket in expected]
    for row, bucket in zip(rows, expected, strict=True):
        for name, value in bucket.items():
            if name != "bucket":
                assert float(row[name]) == pytest.approx(value, rel=1e-9, abs=1e-9), name


@EVERY_EDITION
def test_a_silent_member_lowers_the_sites_coverage(roof):
    client, _, headers = roof
    params = {"from": "2026-10-27T08:00:00Z", "to": "2026-10-27T11:00:00Z", "resolution": "hour"}
    site = {b["bucket"][11:16]: b for b in site_series(client, headers, **params).json["series"]}
    device = client.get(
        "/v1/series?device_id=inverter-01&" + "&".join(f"{k}={v}" for k, v in params.items()),
        headers=AUTH,
    ).json["series"]
    assert [b["coverage"] for b in device] == [1.0, 1.0, 1.0]
    assert site["08:00"]["coverage"] == 1.0 and site["08:00"]["incomplete"] is False
    # 09:00-10:00: inverter-02 sent nothing; the site still has inverter-01's bucket
    assert site["09:00"]["coverage"] == 0.0 and site["09:00"]["incomplete"] is True
    assert site["09:00"]["sample_count"] == device[1]["sample_count"]
    assert site["09:00"]["avg_battery_soc_pct"] == device[1]["avg_battery_soc_pct"]
    # 10:00: its first sample after the silence follows a gap, so 5 minutes are missing
    assert site["10:00"]["coverage"] == pytest.approx(55 / 60)


@EVERY_EDITION
def test_site_realtime_sums_the_members(berlin_app, redis_server):
    client = berlin_app.test_client()
    now = datetime.now(UTC).replace(microsecond=0)
    cli(berlin_app, "site", "create", "roof", "--device", "inverter-01", "--device", "inverter-02")
    cli(berlin_app, "site", "add-device", "roof", "inverter-03")
    ingest(client, [sample((now - timedelta(seconds=20)).isoformat(), pv_power_w=1000.0)])
    newest = sample(
        (now - timedelta(seconds=5)).isoformat(),
        device_id="inverter-02",
        pv_power_w=500.0,
        pv_daily_kwh=1.25,
        battery_soc_pct=80.0,
        export_power_w=-100.0,
    )
    ingest(client, [newest])
    headers = bearer(make_token(berlin_app, "--site", "roof", "--read-only"))
    response = client.get("/v1/realtime?site_id=roof", headers=headers)
    assert response.status_code == 200, response.json
    answer = response.json
    assert answer["site_id"] == "roof"
    assert [d["device_id"] for d in answer["devices"]] == [
        "inverter-01",
        "inverter-02",
        "inverter-03",
    ]
    assert answer["devices"][1] == {**newest, "ts": (now - timedelta(seconds=5)).isoformat()}
    assert answer["devices"][2] == {"device_id": "inverter-03", "ts": None}
    assert answer["total"] == {
        "ts": (now - timedelta(seconds=5)).isoformat(),
        "pv_power_w": 1500.0,
        "battery_power_w": 500.0,
        "load_power_w": 1600.0,
        "export_power_w": 50.0,
        "pv_daily_kwh": 3.5 + 1.25,
        "battery_soc_pct": (64.0 + 80.0) / 2,
        "devices_reporting": 2,
    }
    # the same from PostgreSQL when the cache holds nothing
    redis_server.client().delete("realtime:inverter-01", "realtime:inverter-02")
    assert client.get("/v1/realtime?site_id=roof", headers=headers).json == answer


def test_site_total_leaves_out_stale_readings_and_yesterdays_counter(berlin_app):
    client = berlin_app.test_client()
    now = datetime.now(UTC)
    cli(berlin_app, "site", "create", "roof", "--device", "inverter-01", "--device", "inverter-02")
    ingest(client, [sample((now - timedelta(seconds=30)).isoformat(), pv_daily_kwh=2.0)])
    yesterday = datetime.now(ZoneInfo(ZONE)).replace(hour=0, minute=0) - timedelta(hours=2)
    old = sample(yesterday.isoformat(), device_id="inverter-02", pv_daily_kwh=9.0)
    ingest(client, [old])
    headers = bearer(make_token(berlin_app, "--all", "--read-only"))
    total = client.get("/v1/realtime?site_id=roof", headers=headers).json["total"]
    assert total["devices_reporting"] == 1
    assert total["pv_power_w"] == 1200.0
    assert total["pv_daily_kwh"] == 2.0  # inverter-02's 9 kWh were yesterday's


@pytest.mark.parametrize(
    ("token_args", "query", "status", "detail"),
    [
        ((), "/v1/series?site_id=roof", 403, "Site ID is not readable with this token."),
        ((), "/v1/realtime?site_id=roof", 403, "Site ID is not readable with this token."),
        (
            ("--device", "inverter-01", "--read-only"),
            "/v1/series?site_id=roof",
            403,
            "Site ID is not readable with this token.",
        ),
        (("--site", "roof", "--read-only"), "/v1/realtime?site_id=attic", 403, None),
        (("--all", "--read-only"), "/v1/realtime?site_id=cellar", 404, "No site 'cellar'."),
        (("--all", "--read-only"), "/v1/series?site_id=cellar", 404, "No site 'cellar'."),
        (
            ("--site", "roof", "--read-only"),
            "/v1/realtime?site_id=roof&device_id=inverter-01",
            422,
            "Give either device_id or site_id, not both.",
        ),
        (
            ("--site", "roof", "--read-only"),
            "/v1/series?site_id=roof&device_id=inverter-01",
            422,
            "Give either device_id or site_id, not both.",
        ),
        (("--site", "roof", "--read-only"), "/v1/series?site_id=", 422, None),
        (("--site", "roof", "--read-only"), "/v1/series?site_id=roof&frame=week", 422, None),
        (("--site", "roof", "--read-only"), "/v1/realtime?device_id=inverter-09", 403, None),
    ],
)
def test_site_errors(app, client, token_args, query, status, detail):
    cli(app, "site", "create", "roof", "--device", "inverter-01", "--device", "inverter-02")
    cli(app, "site", "create", "attic", "--device", "inverter-09")
    headers = bearer(make_token(app, *token_args)) if token_args else AUTH
    response = client.get(query, headers=headers)
    assert response.status_code == status, response.json
    if detail:
        assert response.json == {"detail": detail}
    if query.endswith("site_id="):
        assert response.json["detail"][0]["loc"] == ["query", "site_id"]


def test_members_of_a_site_are_readable_one_by_one(app, client):
    ingest(client, [sample(device_id="inverter-02")])
    cli(app, "site", "create", "roof", "--device", "inverter-01", "--device", "inverter-02")
    headers = bearer(make_token(app, "--site", "roof", "--read-only"))
    response = client.get("/v1/realtime?device_id=inverter-02", headers=headers)
    assert response.status_code == 200 and response.json["device_id"] == "inverter-02"


def test_site_commands(app, db):
    assert "No sites" in cli(app, "site", "list").output
    made = cli(app, "site", "create", "roof", "--device", "inverter-02", "--device", "inverter-01")
    assert made.exit_code == 0 and made.output == "Site roof: inverter-01, inverter-02.\n"
    assert cli(app, "site", "create", "roof", "--device", "x").exit_code == 1
    assert cli(app, "site", "add-device", "roof", "inverter-03", "inverter-01").output == (
        "Site roof: 1 device added.\n"
    )
    assert cli(app, "site", "remove-device", "roof", "inverter-01").exit_code == 0
    missing = cli(app, "site", "remove-device", "roof", "inverter-01")
    assert missing.exit_code == 1 and "has no device inverter-01" in missing.output
    assert cli(app, "site", "list").output == "roof: inverter-02, inverter-03\n"
    unknown = cli(app, "site", "add-device", "attic", "inverter-01")
    assert unknown.exit_code == 1 and "No site 'attic'." in unknown.output
    bad = cli(app, "site", "create", "my roof", "--device", "a")
    assert bad.exit_code == 2 and "site id" in bad.output
    assert cli(app, "site", "create", "attic").exit_code == 2  # at least one --device
    make_token(app, "--site", "roof", "--read-only")
    refused = cli(app, "site", "delete", "roof")
    assert refused.exit_code == 1 and "in the scope of token 1: revoke it first" in refused.output
    assert cli(app, "token", "revoke", "1").exit_code == 0
    assert cli(app, "site", "delete", "roof").output == "Site roof deleted.\n"
    assert db.execute("SELECT count(*) FROM sungrow_site_devices").fetchone() == (0,)
    assert "No sites" in cli(app, "site", "list").output


def test_a_site_change_reaches_readers(app, client):
    ingest(client, [sample(device_id="inverter-02")])
    cli(app, "site", "create", "roof", "--device", "inverter-01")
    headers = bearer(make_token(app, "--site", "roof", "--read-only"))
    assert client.get("/v1/realtime?device_id=inverter-02", headers=headers).status_code == 403
    cli(app, "site", "add-device", "roof", "inverter-02")
    assert client.get("/v1/realtime?device_id=inverter-02", headers=headers).status_code == 200
    answer = client.get("/v1/realtime?site_id=roof", headers=headers).json
    assert [d["device_id"] for d in answer["devices"]] == ["inverter-01", "inverter-02"]


def test_site_realtime_without_redis_reads_postgresql(database_url):
    from sungrow_server.testing import free_port

    app = create_app(make_env(database_url, f"redis://127.0.0.1:{free_port()}/0"))
    try:
        client = app.test_client()
        ingest(client, [sample(datetime.now(UTC).isoformat(), pv_power_w=700.0)])
        cli(app, "site", "create", "roof", "--device", "inverter-01", "--device", "inverter-02")
        headers = bearer(make_token(app, "--site", "roof", "--read-only"))
        answer = client.get("/v1/realtime?site_id=roof", headers=headers).json
        assert answer["devices"][0]["pv_power_w"] == 700.0
        assert answer["devices"][1] == {"device_id": "inverter-02", "ts": None}
        assert answer["total"]["pv_power_w"] == 700.0 and answer["total"]["devices_reporting"] == 1
    finally:
        close_app(app)
