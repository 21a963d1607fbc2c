"""Metrics and JSON logs of the server as deployed: gunicorn with two workers."""

import json
import tempfile
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sungrow_server.testing import Gunicorn
from tests.helpers import make_env, sample, single_edition

pytestmark = pytest.mark.slow
TOKEN = "ops-secret-token-7731"
edition = single_edition("postgresql")


def counters(server) -> dict:
    status, _, body = server.request("GET", "/metrics")
    assert status == 200
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            found[s.name, tuple(sorted(s.labels.items()))] = s.value
    return found


def test_two_workers_are_counted_together_and_log_json(database_url, redis_url, tmp_path):
    env = make_env(
        database_url,
        redis_url,
        DEVICE_TOKENS=f"{TOKEN}:inverter-01",
        WORKERS="2",
        LOG_FORMAT="json",
        METRICS_ALLOW="127.0.0.1",
    )
    server = Gunicorn(env, tmp_path).wait_ready(workers=2)
    ids = []
    try:
        for batch in range(12):  # a new connection each: both workers take some
            samples = [sample(f"2026-11-28T10:{batch:02d}:{s:02d}Z") for s in range(0, 15, 5)]
            status, headers, _ = server.ingest(samples, TOKEN)
            assert status == 200
            ids.append(headers["X-Request-ID"])
        for _ in range(2):
            bad = [sample("2026-11-28T11:00:00Z", battery_soc_pct=101)]
            assert server.ingest(bad, TOKEN)[0] == 422
        status, headers, _ = server.request(
            "GET", "/health", None, {"X-Request-ID": "from-nginx-1"}
        )
        assert headers["X-Request-ID"] == "from-nginx-1"
        pids = {str(pid) for pid in server.workers()}
        multiproc = next(  # gunicorn.conf.py's fresh directory, where the workers write
            path
            for path in Path(tempfile.gettempdir()).glob("sungrow-metrics-*")
            if pids & {file.stem.rsplit("_", 1)[1] for file in path.glob("counter_*.db")}
        )
        writers = {path.stem.rsplit("_", 1)[1] for path in multiproc.glob("counter_*.db")}
        assert pids <= writers  # both workers counted
        for _ in range(4):  # whichever worker answers, it adds up both
            found = counters(server)
            stored = found["sungrow_ingest_samples_stored_total", (("device", "inverter-01"),)]
            assert stored == 36
            refused = (("device", "inverter-01"), ("status", "422"))
            assert found["sungrow_ingest_refused_total", refused] == 2
        outside = {"X-Forwarded-For": "203.0.113.5"}  # through nginx, from outside
        status, headers, _ = server.request("GET", "/metrics", None, outside)
        assert status == 404
        outside_id = headers["X-Request-ID"]
    finally:
        server.stop()
    assert not multiproc.exists()  # the metrics of a run end with it
    log = server.log.read_text()
    assert TOKEN not in log
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    access = [line for line in lines if line.get("logger") == "access"]
    logged = {line["request_id"] for line in access}
    assert set(ids) <= logged and "from-nginx-1" in logged
    ingest = next(line for line in access if line["request_id"] == ids[0])
    assert (ingest["method"], ingest["path"], ingest["status"]) == ("POST", "/v1/ingest", 200)
    assert ingest["device"] == "inverter-01" and ingest["client"] == "127.0.0.1"
    assert ingest["duration_ms"] > 0
    forwarded = next(line for line in access if line["request_id"] == outside_id)
    assert (forwarded["client"], forwarded["status"]) == ("203.0.113.5", 404)
    assert any(line.get("message", "").startswith("sungrow-server settings:") for line in lines)
