"""GET /v1/series: rollups from the continuous aggregates or, where absent, from raw samples."""

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from sungrow_server.db.aggregates import refresh_aggregates, views_present
from sungrow_server.series import query
from sungrow_server.series.request import frame_request
from tests.helpers import AUTH, edge_batches, sample

FIELDS = ("pv_power_w", "battery_power_w", "battery_soc_pct", "load_power_w", "export_power_w")


def today_utc() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def ingest(client, samples):
    for batch in edge_batches(samples):
        response = client.post("/v1/ingest", json={"samples": batch}, headers=AUTH)
        assert response.status_code == 200, response.json


def series(client, frame, device_id="inverter-01"):
    response = client.get(f"/v1/series?device_id={device_id}&frame={frame}", headers=AUTH)
    assert response.status_code == 200, response.json
    assert response.json["device_id"] == device_id
    assert response.json["frame"] == frame
    return response.json["series"]


def truncate(ts: datetime, resolution: str) -> datetime:
    if resolution == "hour":
        return ts.replace(minute=0, second=0, microsecond=0)
    if resolution == "day":
        return ts.replace(hour=0, minute=0, second=0, microsecond=0)
    return ts.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def recompute(samples, resolution, since=None):
    """The expected buckets, computed in Python from the raw samples (UTC site)."""
    groups = defaultdict(list)
    for item in samples:
        ts = datetime.fromisoformat(item["ts"]).astimezone(UTC)
        if since is None or ts >= since:
            groups[truncate(ts, resolution)].append(item)
    buckets = []
    for start in sorted(groups):
        rows = groups[start]
        bucket = {"bucket": start.isoformat()}
        for name in FIELDS:
            bucket[f"avg_{name}"] = sum(r[name] for r in rows) / len(rows)
        bucket["max_pv_power_w"] = max(r["pv_power_w"] for r in rows)
        bucket["sample_count"] = sum(r["sample_count"] for r in rows)
        buckets.append(bucket)
    return buckets


def assert_same(answer, expected):
    assert [b["bucket"] for b in answer] == [b["bucket"] for b in expected]
    for got, want in zip(answer, expected, strict=True):
        assert set(want) <= set(got)
        for key, value in want.items():
            assert got[key] == (value if key == "bucket" else pytest.approx(value, rel=1e-9)), key


def make_samples(start: datetime, count: int, step: timedelta, seed: int = 1) -> list[dict]:
    out = []
    for i in range(count):
        ts = start + i * step
        out.append(
            sample(
                ts.isoformat(),
                pv_power_w=float((i * 37 + seed) % 1000),
                battery_power_w=float((i * 13) % 400 - 200),
                battery_soc_pct=float((i * 7) % 101),
                load_power_w=float((i * 11 + seed) % 900),
                export_power_w=float((i * 17) % 600 - 300),
                sample_count=1 + i % 3,
            )
        )
    return out


@pytest.fixture
def history():
    """Two hours of today, two days before, and months of the previous year."""
    today = today_utc()
    data = make_samples(today + timedelta(minutes=5), 40, timedelta(minutes=3))
    data += make_samples(today - timedelta(days=2), 30, timedelta(hours=1), seed=2)
    data += make_samples(
        today.replace(month=1, day=1) - timedelta(days=90), 40, timedelta(days=2), seed=3
    )
    return data


@pytest.mark.parametrize(
    ("frame", "resolution", "since"),
    [
        ("day", "hour", lambda t: t),
        ("month", "day", lambda t: t.replace(day=1)),
        ("year", "month", lambda t: t.replace(month=1, day=1)),
        ("all", "month", lambda t: None),
    ],
)
def test_frames_match_recomputation(client, history, frame, resolution, since):
    ingest(client, history)
    assert_same(series(client, frame), recompute(history, resolution, since(today_utc())))


def test_averages_are_over_raw_samples_not_means_of_means(client):
    today = today_utc()
    one = sample((today + timedelta(hours=1)).isoformat(), pv_power_w=100.0)
    three = [
        sample((today + timedelta(hours=2, minutes=m)).isoformat(), pv_power_w=0.0)
        for m in (0, 1, 2)
    ]
    ingest(client, [one, *three])
    hours = series(client, "day")
    assert [h["avg_pv_power_w"] for h in hours] == [100.0, 0.0]
    (day,) = [d for d in series(client, "month") if d["bucket"] == today.isoformat()]
    assert day["avg_pv_power_w"] == 25.0
    assert day["max_pv_power_w"] == 100.0
    assert day["sample_count"] == 4


def test_fresh_data_is_in_every_frame_at_once(client, database_url, db):
    today = today_utc()
    ingest(client, make_samples(today, 10, timedelta(minutes=5)))
    if views_present(db):
        refresh_aggregates(db)
    late = sample((today + timedelta(hours=1)).isoformat(), pv_power_w=5000.0)
    ingest(client, [late])
    for frame in ("day", "month", "year", "all"):
        assert max(b["max_pv_power_w"] for b in series(client, frame)) == 5000.0, frame


def test_backfill_reaches_materialised_rollups(client, db):
    old_day = today_utc() - timedelta(days=40)
    first = make_samples(old_day, 10, timedelta(minutes=10))
    ingest(client, first)
    if views_present(db):
        refresh_aggregates(db)
    backfill = make_samples(old_day + timedelta(hours=5), 10, timedelta(minutes=10), seed=9)
    ingest(client, backfill)
    if views_present(db):
        refresh_aggregates(db)  # what the policies do on their next run
    expected = recompute(first + backfill, "month")
    assert_same(series(client, "all"), expected)


def test_other_devices_are_not_mixed_in(client, app):
    today = today_utc()
    mine = make_samples(today, 5, timedelta(minutes=1))
    ingest(client, mine)
    other = [dict(s, device_id="inverter-02", pv_power_w=99999.0) for s in mine]
    response = app.test_client().post(
        "/v1/ingest", json={"samples": other}, headers={"Authorization": "Bearer token-02"}
    )
    assert response.status_code == 200
    assert_same(series(client, "day"), recompute(mine, "hour"))


def test_no_data_is_an_empty_series(client):
    for frame in ("day", "month", "year", "all"):
        assert series(client, frame) == []


def test_frame_defaults_to_day(client):
    response = client.get("/v1/series?device_id=inverter-01", headers=AUTH)
    assert response.json["frame"] == "day"


@pytest.mark.parametrize("frame", ["week", "DAY", "", "hour"])
def test_bad_frame_is_422(client, frame):
    response = client.get(f"/v1/series?device_id=inverter-01&frame={frame}", headers=AUTH)
    assert response.status_code == 422
    assert response.json == {
        "detail": f"Invalid frame '{frame}'. Must be one of: ['all', 'day', 'month', 'year']."
    }


def test_missing_device_is_422(client):
    response = client.get("/v1/series?frame=day", headers=AUTH)
    assert response.status_code == 422
    assert response.json["detail"][0]["loc"] == ["query", "device_id"]


def test_missing_views_fall_back_to_raw_samples(client, db, history, edition):
    ingest(client, history)
    before = {frame: series(client, frame) for frame in ("day", "month", "year", "all")}
    for view in ("sungrow_monthly", "sungrow_daily", "sungrow_hourly"):
        db.execute(f"DROP MATERIALIZED VIEW IF EXISTS {view} CASCADE")
    for frame, answer in before.items():
        assert_same(series(client, frame), answer)


def test_other_database_errors_are_not_swallowed(client, db, caplog):
    # A broken object under the view's name: not a missing view, so no fallback.
    db.execute("DROP MATERIALIZED VIEW IF EXISTS sungrow_monthly CASCADE")
    db.execute("DROP MATERIALIZED VIEW IF EXISTS sungrow_daily CASCADE")
    db.execute("DROP MATERIALIZED VIEW IF EXISTS sungrow_hourly CASCADE")
    db.execute("CREATE VIEW sungrow_hourly AS SELECT 1 AS nothing")
    db.execute(
        "INSERT INTO sungrow_schema_state VALUES ('rollup_timezone', 'UTC') "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
    )
    with caplog.at_level(logging.ERROR):
        response = client.get("/v1/series?device_id=inverter-01&frame=day", headers=AUTH)
    assert response.status_code == 500
    assert response.json == {"detail": "Internal server error."}
    assert "UndefinedColumn" in caplog.text


# Another device's samples every 91 days since 2000: a TimescaleDB chunk for each (105).
SPREAD = """
INSERT INTO sungrow_samples (device_id, ts, pv_power_w, battery_power_w, battery_soc_pct,
                             load_power_w, export_power_w)
SELECT 'inverter-02', ts, 1, 0, 50, 1, 0
FROM generate_series(timestamptz '2000-01-01', '2026-01-01', interval '91 days') AS ts
"""
CHUNK_LOCKS = """
SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
WHERE l.pid = pg_backend_pid() AND c.relkind = 'r'
  AND c.relnamespace = '_timescaledb_internal'::regnamespace
"""


@pytest.mark.parametrize("edition", ["apache", "tsl"])
def test_frame_all_reads_only_the_chunks_of_the_devices_own_data(app, client, db, database_url):
    # frame=all once started at minus infinity: every chunk of the table was planned and
    # locked, whichever device made it (1,401 chunks: a request took 1.2 s, and eight at
    # once ran out of lock memory: 503). It starts at the device's first month now.
    db.execute(SPREAD)
    mine = make_samples(today_utc() - timedelta(days=3), 30, timedelta(hours=2))
    ingest(client, mine)
    if views_present(db):
        refresh_aggregates(db)
    assert_same(series(client, "all"), recompute(mine, "month"))
    chunks = db.execute("SELECT count(*) FROM show_chunks('sungrow_samples')").fetchone()[0]
    assert chunks > 100
    with app.app_context(), psycopg.connect(database_url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        request = frame_request("inverter-01", "all", "UTC")
        buckets = query.series(conn, request, "UTC" if views_present(db) else None)
        expected = recompute(mine, "month")
        assert [b["sample_count"] for b in buckets] == [b["sample_count"] for b in expected]
        assert conn.execute(CHUNK_LOCKS).fetchone()[0] <= 8  # its own month or two


def test_frame_all_reaches_back_to_a_late_batch_older_than_everything(client, db):
    # The device's first sample moves back when a batch older than all it stored arrives.
    recent = make_samples(today_utc() - timedelta(days=1), 12, timedelta(hours=1))
    older = make_samples(today_utc() - timedelta(days=200), 5, timedelta(minutes=5), seed=4)
    ingest(client, recent)
    ingest(client, older)
    assert_same(series(client, "all"), recompute(recent + older, "month"))
    first = db.execute("SELECT first_ts FROM sungrow_device_first").fetchall()
    assert first == [(today_utc() - timedelta(days=200),)]
