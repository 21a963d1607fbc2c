"""The write path under concurrency and over long histories: the derived columns stay
what the same samples sent one after the other give."""

import random
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sungrow_server import create_app
from sungrow_server.model.energy import INTERVAL, PV_ENERGY, RECOMPUTE_ALL
from tests.helpers import AUTH, close_app, make_env, sample

TOKEN_02 = {"Authorization": "Bearer token-02"}
DERIVED = """
SELECT ts, pv_power_w, interval_s, pv_energy_kwh FROM sungrow_samples
WHERE device_id = %s ORDER BY ts
"""


def samples(device_id: str, start: datetime, steps: range) -> list[dict]:
    """Samples 5 s apart without the inverter's counter: energy is power times interval."""
    return [
        sample(
            (start + timedelta(seconds=5 * step)).isoformat(),
            device_id=device_id,
            pv_power_w=float(1000 + 7 * step),
            pv_daily_kwh=None,
        )
        for step in steps
    ]


def post(client, batch: list[dict], headers: dict) -> tuple[int, dict]:
    response = client.post("/v1/ingest", json={"samples": batch}, headers=headers)
    return response.status_code, response.json


def together(app, first: list[dict], second: list[dict]) -> list[tuple[int, dict]]:
    """Both batches of inverter-01 posted at the same moment, from two threads."""
    start = threading.Barrier(2)
    answers = [None, None]

    def send(index: int, batch: list[dict]) -> None:
        client = app.test_client()
        start.wait()
        answers[index] = post(client, batch, AUTH)

    threads = [threading.Thread(target=send, args=pair) for pair in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


# Each trial: one stored sample, then two batches of 50 that follow it, either one after
# the other (A 14:00:05-14:04:10, B 14:04:15-14:08:20) or interleaved (A the even steps,
# B the odd ones). Unserialised, B was derived from a snapshot without A.
SHAPES = {
    "adjacent": (range(1, 51), range(51, 101)),
    "interleaved": (range(2, 101, 2), range(1, 101, 2)),
}
TRIALS = 6


def test_concurrent_batches_derive_what_sequential_ones_do(app, db):
    client = app.test_client()
    day = datetime(2026, 6, 1, 14, tzinfo=UTC)
    for trial in range(TRIALS):
        for offset, (steps_a, steps_b) in enumerate(SHAPES.values()):
            start = day + timedelta(days=2 * trial + offset)
            for device, headers in (("inverter-01", AUTH), ("inverter-02", TOKEN_02)):
                assert post(client, samples(device, start, range(1)), headers)[0] == 200
            # inverter-02: one after the other; inverter-01: both at once.
            for steps in (steps_a, steps_b):
                assert post(client, samples("inverter-02", start, steps), TOKEN_02) == (
                    200,
                    {"inserted": 50},
                )
            answers = together(
                app, samples("inverter-01", start, steps_a), samples("inverter-01", start, steps_b)
            )
            assert answers == [(200, {"inserted": 50})] * 2
    concurrent = db.execute(DERIVED, ("inverter-01",)).fetchall()
    sequential = db.execute(DERIVED, ("inverter-02",)).fetchall()
    assert len(concurrent) == TRIALS * 2 * 101
    assert concurrent == sequential
    assert {interval for _, _, interval, _ in concurrent} == {None, 5.0}
    assert db.execute(RECOMPUTE_ALL, {"timezone": "UTC"}).rowcount == 0
    pv_kwh = sum(energy for *_, energy in concurrent)
    assert pv_kwh == pytest.approx(sum(energy for *_, energy in sequential))


def irregular_samples(device_id: str, count: int, rng: random.Random) -> list[dict]:
    """Samples 5 s apart with longer steps and gaps now and then, across local midnights,
    with the inverter's counter mostly there, restarting each local day and once reset."""
    zone = ZoneInfo("Europe/Berlin")
    ts, day, counter, out = datetime(2026, 3, 28, 22, 30, tzinfo=UTC), None, 0.0, []
    for i in range(count):
        ts += timedelta(seconds=rng.choice([5] * 20 + [60, 290, 310, 3600, 7 * 3600]))
        if ts.astimezone(zone).date() != day:
            day, counter = ts.astimezone(zone).date(), 0.0
        pv = float(rng.randrange(0, 5000))
        counter = 0.0 if i == count // 2 else counter + pv * 5 / 3.6e6
        kwh = None if rng.random() < 0.1 else round(counter, 4)
        out.append(sample(ts.isoformat(), device_id=device_id, pv_power_w=pv, pv_daily_kwh=kwh))
    return out


@pytest.fixture
def berlin_app(database_url, redis_url):
    app = create_app(make_env(database_url, redis_url, TIMEZONE="Europe/Berlin"))
    yield app
    close_app(app)


def test_late_batches_in_any_order_derive_what_a_recomputation_does(berlin_app, db):
    # Random batches of random samples (new, repeated, between and around stored ones):
    # after each, the stored derived columns are what init-db's recomputation gives.
    rng = random.Random(11)  # noqa: S311 - reproducible test data, not a secret
    data = irregular_samples("inverter-01", 800, rng)
    client = berlin_app.test_client()
    for _ in range(40):
        batch = rng.sample(data, rng.choice([1, 2, 5, 30, 120]))
        assert client.post("/v1/ingest", json={"samples": batch}, headers=AUTH).status_code == 200
        assert db.execute(RECOMPUTE_ALL, {"timezone": "Europe/Berlin"}).rowcount == 0
    for at in range(0, len(data), 400):  # then everything, most of it repeats
        chunk = {"samples": data[at : at + 400]}
        assert client.post("/v1/ingest", json=chunk, headers=AUTH).status_code == 200
    assert db.execute("SELECT count(*) FROM sungrow_samples").fetchone() == (800,)
    assert db.execute(RECOMPUTE_ALL, {"timezone": "Europe/Berlin"}).rowcount == 0


# A year of 1-minute samples with their derived columns, as the write path stores them.
YEAR = """
INSERT INTO sungrow_samples (device_id, ts, pv_power_w, battery_power_w, battery_soc_pct,
                             load_power_w, export_power_w, interval_s, pv_energy_kwh)
SELECT 'inverter-01', ts, 1000, 0, 50, 500, 0,
       CASE WHEN ts > '2025-01-01' THEN 60 END,
       CASE WHEN ts > '2025-01-01' THEN 1000 * 60 / 3600000.0 ELSE 0 END
FROM generate_series(timestamptz '2025-01-01', '2026-01-01', interval '1 minute') AS ts
"""
AROUND = f"""
SELECT ts, interval_s, pv_energy_kwh, {INTERVAL}, {PV_ENERGY} FROM (
    SELECT *, lag(ts) OVER w AS prev_ts, lag(pv_daily_kwh) OVER w AS prev_kwh
    FROM sungrow_samples
    WHERE device_id = 'inverter-01' AND ts >= %(at)s::timestamptz - interval '5 minutes'
      AND ts <= %(at)s::timestamptz + interval '5 minutes'
    WINDOW w AS (ORDER BY ts)
) AS m
WHERE prev_ts IS NOT NULL
"""


@pytest.mark.parametrize("edition", ["postgresql"])
def test_a_late_batch_costs_what_its_samples_cost(database_url, redis_url, db):
    # Two samples a year apart, between the rows of a year of data (525,601 rows). The
    # merge once read every stored row between its first and last sample (14 s here, 53 s
    # over a year of 5 s samples): past statement_timeout on every retry, so the edge
    # retried the batch forever. Each sample's neighbours are now found by index probes,
    # so it takes milliseconds however much is stored between them; a 1 s timeout proves
    # the bound with a wide margin, and 5 s samples would only widen the old cost.
    db.execute(YEAR)
    env = make_env(
        database_url, redis_url, STATEMENT_TIMEOUT_MS="1000", MAX_BATCH_SPAN_S=str(400 * 86400)
    )
    app = create_app(env)
    try:
        late = [
            sample(ts, pv_power_w=2000.0, pv_daily_kwh=None)
            for ts in ("2025-01-01T12:00:30+00:00", "2025-12-31T12:00:30+00:00")
        ]
        response = app.test_client().post("/v1/ingest", json={"samples": late}, headers=AUTH)
        assert (response.status_code, response.json) == (200, {"inserted": 2})
        for item in late:
            rows = db.execute(AROUND, {"at": item["ts"], "timezone": "UTC"}).fetchall()
            assert len(rows) == 10  # 11:56 to 12:05 with the new one, each after its previous
            for ts, interval, energy, expected_interval, expected_energy in rows:
                assert (interval, energy) == (float(expected_interval), expected_energy), ts
            by_time = {ts.isoformat(): (interval, energy) for ts, interval, energy, *_ in rows}
            assert by_time[item["ts"]] == (30.0, 2000 * 30 / 3.6e6)
            following = item["ts"].replace(":00:30", ":01:00")
            assert by_time[following] == (30.0, 1000 * 30 / 3.6e6)
    finally:
        close_app(app)
        # Dropped unwritten: DROP DATABASE would first write the year out (5 s here).
        db.execute("TRUNCATE sungrow_samples")
