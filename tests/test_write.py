"""The write path under concurrency and over long histories: the derived columns stay
what the same samples sent one after the other give."""

import threading
from datetime import UTC, datetime, timedelta

import pytest

from sungrow_server.model.energy import RECOMPUTE_ALL
from tests.helpers import AUTH, sample

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
