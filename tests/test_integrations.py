"""The integrations of docs/INTEGRATIONS.md as documented: Home Assistant's REST sensors
read real answers, and Grafana's role reads the rollups and nothing else, on each edition.

Neither Home Assistant nor Grafana runs here: the YAML's templates are rendered with
Jinja (the engine Home Assistant's templates are) against real answers of the server,
and the documented SQL runs as the role with Grafana's $__timeFilter macro expanded.
"""

import re
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import yaml
from jinja2 import Environment, StrictUndefined
from psycopg import errors

from sungrow_server import create_app
from sungrow_server.db.aggregates import refresh_aggregates
from sungrow_server.testing import REPO
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

DOC = (REPO / "docs" / "INTEGRATIONS.md").read_text()
edition = single_edition("postgresql")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.S)


def rest_config() -> dict:
    """The documented `rest:` entry, with `!secret` read as the name of the secret."""
    loader = type("Loader", (yaml.SafeLoader,), {})
    loader.add_constructor("!secret", lambda loader, node: f"<secret {node.value}>")
    # a SafeLoader that also knows !secret: safe
    yamls = [yaml.load(block, loader) for block in blocks("yaml") if "rest:" in block]  # noqa: S506
    (config,) = yamls
    (entry,) = config["rest"]
    return entry


def render(template: str, answer: dict) -> str:
    return (
        Environment(undefined=StrictUndefined, autoescape=True)
        .from_string(template)
        .render(value_json=answer)
    )


def test_home_assistant_sensors_read_a_real_answer(app, client):
    now = datetime.now(UTC)
    newest = sample((now - timedelta(seconds=5)).isoformat(), pv_daily_kwh=7.25)
    client.post("/v1/ingest", json={"samples": [newest]}, headers=AUTH)
    entry = rest_config()
    assert entry["headers"] == {"Authorization": "<secret sungrow_authorization>"}
    assert 'sungrow_authorization: "Bearer ' in DOC
    path = entry["resource"].removeprefix("https://sungrow.example.org")
    reader = bearer(make_token(app, "--device", "inverter-01", "--read-only"))
    response = client.get(path, headers=reader)
    assert response.status_code == 200
    states = {}
    for sensor in entry["sensor"]:
        state = render(sensor["value_template"], response.json)
        states[sensor["name"]] = float(state)  # every sensor is numeric
        if "availability" in sensor:
            assert render(sensor["availability"], response.json) == "True"
    assert states["Sungrow PV power"] == newest["pv_power_w"]
    assert states["Sungrow battery charge"] == newest["battery_soc_pct"]
    (energy,) = [s for s in entry["sensor"] if s["state_class"] == "total_increasing"]
    assert energy["device_class"] == "energy" and energy["unit_of_measurement"] == "kWh"
    assert states[energy["name"]] == 7.25
    assert {s["unique_id"] for s in entry["sensor"]} == {
        f"sungrow_inverter_01_{name}"
        for name in (
            "pv_power",
            "pv_daily",
            "battery_power",
            "battery_soc",
            "load_power",
            "export_power",
        )
    }


def test_home_assistant_site_variant_reads_the_total(app, client):
    client.post(
        "/v1/ingest", json={"samples": [sample(datetime.now(UTC).isoformat())]}, headers=AUTH
    )
    cli(app, "site", "create", "roof", "--device", "inverter-01", "--device", "inverter-02")
    reader = bearer(make_token(app, "--site", "roof", "--read-only"))
    answer = client.get("/v1/realtime?site_id=roof", headers=reader).json
    for sensor in rest_config()["sensor"]:
        # as the document says: the same templates, read under `total`
        template = sensor["value_template"].replace("value_json.", "value_json.total.")
        float(render(template, answer))  # a number, not None or an error
        if "availability" in sensor:
            availability = sensor["availability"].replace("value_json.", "value_json.total.")
            assert render(availability, answer) == "True"
    for quoted in re.findall(r"`\{\{ (value_json\.total\.\w+) \}\}`", DOC):
        assert render("{{ " + quoted + " }}", answer) != ""


def as_role(database_url: str, role: str) -> str:
    return re.sub(r"//[^@/]+@", f"//{role}@", database_url)


@pytest.fixture
def role() -> str:
    """A role name of this test's own: roles belong to the whole (shared) cluster."""
    return f"grafana_{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("edition", API_EDITIONS)
def test_grafana_role_reads_the_rollups_and_nothing_else(
    app, client, database_url, db, role, edition
):
    start = datetime(2026, 10, 1, 10, tzinfo=UTC)
    samples = [sample((start + timedelta(seconds=10 * i)).isoformat()) for i in range(400)]
    assert client.post("/v1/ingest", json={"samples": samples}, headers=AUTH).status_code == 200
    cli(app, "site", "create", "roof", "--device", "inverter-01")
    make_token(app, "--all", "--read-only")
    result = cli(app, "init-db", "--grafana-role", role)
    assert result.exit_code == 0, result.output
    assert f"made role {role}" in result.output and f"\\password {role}" in result.output
    rollups = db.execute("SELECT to_regclass('sungrow_hourly') IS NOT NULL").fetchone()[0]
    assert rollups == (edition == "tsl")
    series = client.get(
        "/v1/series?device_id=inverter-01&from=2026-10-01T10:00:00Z&to=2026-10-01T12:00:00Z",
        headers=AUTH,
    ).json["series"]
    window = "bucket BETWEEN '2026-10-01T00:00:00Z' AND '2026-10-02T00:00:00Z'"
    if rollups:
        refresh_aggregates(db, None, datetime(2026, 10, 1, 11, tzinfo=UTC))  # half of it
    with psycopg.connect(as_role(database_url, role), autocommit=True) as grafana:
        queries = blocks("sql")
        hourly, raw = queries
        if rollups:
            query = hourly.replace("$__timeFilter(bucket)", window).replace(
                "$device", "inverter-01"
            )
            rows = grafana.execute(query).fetchall()
            assert [row[0].isoformat() for row in rows] == [b["bucket"] for b in series]
            assert [row[1] for row in rows] == pytest.approx([b["pv_energy_kwh"] for b in series])
            assert [row[5] for row in rows] == pytest.approx(
                [b["avg_battery_soc_pct"] for b in series]
            )
            for view in ("sungrow_daily", "sungrow_monthly"):
                assert grafana.execute(f"SELECT count(*) FROM {view}").fetchone()[0] > 0
        query = raw.replace("$__timeFilter(ts)", window.replace("bucket", "ts"))
        assert len(grafana.execute(query.replace("$device", "inverter-01")).fetchall()) == 400
        assert grafana.execute("SELECT count(*) FROM sungrow_site_devices").fetchone() == (1,)
        for statement in (
            "SELECT count(*) FROM sungrow_tokens",
            "SELECT digest FROM sungrow_tokens",
            "INSERT INTO sungrow_samples (device_id, ts, pv_power_w, battery_power_w, "
            "battery_soc_pct, load_power_w, export_power_w) VALUES ('x', now(), 0, 0, 0, 0, 0)",
            "DELETE FROM sungrow_samples",
            "UPDATE sungrow_sites SET site_id = 'attic'",
            "CREATE TABLE grafana_was_here (x int)",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                grafana.execute(statement)
    assert db.execute("SELECT count(*) FROM sungrow_samples").fetchone() == (400,)


@pytest.mark.parametrize("edition", ["tsl"])
def test_grafana_role_keeps_reading_after_the_rollups_are_rebuilt(
    app, database_url, redis_url, db, role
):
    assert cli(app, "init-db", "--grafana-role", role).exit_code == 0
    berlin = create_app(make_env(database_url, redis_url, TIMEZONE="Europe/Berlin"))
    try:
        result = cli(berlin, "init-db")  # the zone changed: the views are made anew
        assert "dropped the rollups" in result.output and f"role {role} reads" in result.output
        with psycopg.connect(as_role(database_url, role), autocommit=True) as grafana:
            grafana.execute("SELECT count(*) FROM sungrow_hourly").fetchone()
        db.execute(f"DROP OWNED BY {role}")
        db.execute(f"DROP ROLE {role}")
        result = cli(berlin, "init-db")
        assert f"role {role} no longer exists" in result.output and result.exit_code == 0
        assert role not in cli(berlin, "init-db").output
    finally:
        close_app(berlin)


def test_grafana_role_name_is_checked(app):
    result = cli(app, "init-db", "--grafana-role", "Grafana; DROP TABLE x")
    assert result.exit_code == 2 and "role name" in result.output
