"""GET /openapi.json: the document API.md describes, and schemathesis fuzzing the app with it."""

from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks

from sungrow_server import create_app
from sungrow_server.apidoc import document as apidoc_document
from sungrow_server.config import get_settings
from sungrow_server.series.shape import FIELDS
from tests.helpers import AUTH, close_app, make_env, sample, single_edition

DEVICE = "inverter-01"
JSON = "application/json"
OPERATIONS = {
    ("/health", "get"): [],
    ("/", "get"): [],
    ("/v1/ingest", "post"): [400, 401, 403, 408, 413, 415, 422, 429, 503],
    ("/v1/realtime", "get"): [401, 403, 404, 422, 429, 503],
    ("/v1/series", "get"): [401, 403, 404, 422, 429, 503],
    ("/v1/devices", "get"): [401, 429, 503],
    ("/health/ready", "get"): [503],
    ("/metrics", "get"): [404],
}
INT4_MAX = 2**31 - 1


edition = single_edition("postgresql")


@pytest.fixture
def app_env(database_url, redis_url):
    # The fuzzer's cases without credentials would soon trip the failed-auth throttle, and
    # every later case would stop at its 429; test_throttle_answer_conforms covers the 429.
    # Its batches draw timestamps from 25 years, and should reach the database, not stop
    # at the span of a batch (MAX_BATCH_SPAN_S, 422).
    return make_env(
        database_url, redis_url, AUTH_FAIL_LIMIT="0", MAX_BATCH_SPAN_S=str(30 * 366 * 86400)
    )


@pytest.fixture
def document(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json


def test_served_without_a_token(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json["openapi"].startswith("3.")
    assert response.json["info"]["title"] == "sungrow-server"


def test_valid_openapi_3(app):
    schemathesis.openapi.from_wsgi("/openapi.json", app).validate()


def test_validation_catches_an_invalid_document(document):
    # The check above means something only if a broken document fails it.
    del document["paths"]["/health"]["get"]["responses"]["200"]["description"]
    with pytest.raises(Exception, match=r'\["responses"\]\[200\]'):
        schemathesis.openapi.from_dict(document).validate()


def test_built_once_per_app(app, client, monkeypatch):
    built = apidoc_document.build_spec(get_settings(app))

    def rebuilt(settings):
        pytest.fail("built per request")

    monkeypatch.setattr(apidoc_document, "build_spec", rebuilt)
    assert client.get("/openapi.json").json == built


def test_lists_every_operation(document):
    listed = {(path, method) for path, item in document["paths"].items() for method in item}
    assert listed == set(OPERATIONS)


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_every_operation_is_routed(app, path, method):
    app.url_map.bind("localhost").match(path, method.upper())


def test_bearer_scheme_on_v1_paths_only(document):
    assert document["components"]["securitySchemes"] == {
        "bearerAuth": {"type": "http", "scheme": "bearer"}
    }
    for (path, method), _ in OPERATIONS.items():
        security = document["paths"][path][method].get("security")
        assert security == ([{"bearerAuth": []}] if path.startswith("/v1/") else None)
    assert "security" not in document


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_every_status_of_api_md(document, path, method):
    responses = document["paths"][path][method]["responses"]
    assert sorted(int(status) for status in responses) == [200, *OPERATIONS[path, method]]
    for status in OPERATIONS[path, method]:
        body = responses[str(status)]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/Error"}
    if 401 in OPERATIONS[path, method]:
        assert responses["401"]["headers"]["WWW-Authenticate"]["required"] is True
    for status in {429, 503} & set(OPERATIONS[path, method]):
        assert responses[str(status)]["headers"]["Retry-After"]["required"] is True


def test_query_arguments(document):
    for path in ("/v1/realtime", "/v1/series"):
        parameters = {p["name"]: p for p in document["paths"][path]["get"]["parameters"]}
        assert parameters["device_id"]["in"] == "query"
        assert parameters["device_id"]["required"] is True
    assert parameters["frame"]["required"] is False
    assert parameters["frame"]["schema"] == {
        "type": "string",
        "enum": ["all", "day", "month", "year"],
        "default": "day",
    }
    assert parameters["resolution"]["schema"]["enum"] == ["5min", "hour", "day", "month"]
    assert parameters["format"]["schema"]["enum"] == ["json", "csv"]
    assert {"from", "to", "tz"} <= set(parameters)


def test_series_answers(document):
    content = document["paths"]["/v1/series"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/csv"}
    series = document["components"]["schemas"]["Series"]
    assert set(series["properties"]) == {
        "device_id",
        *("frame", "from", "to"),
        *("resolution", "timezone", "series"),
    }
    assert series["required"] == ["device_id", "resolution", "series", "timezone"]
    bucket = document["components"]["schemas"]["Bucket"]
    assert list(bucket["properties"]) == list(FIELDS)
    assert bucket["properties"]["coverage"] == {"type": "number", "minimum": 0, "maximum": 1}
    assert bucket["properties"]["incomplete"] == {"type": "boolean"}


def test_ingest_body_and_answer(document):
    operation = document["paths"]["/v1/ingest"]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/IngestBatch"
    }
    schemas = document["components"]["schemas"]
    # Unknown fields are ignored (contract change): the schema allows them.
    assert "additionalProperties" not in schemas["IngestBatch"]
    assert schemas["IngestBatch"]["properties"]["samples"]["items"] == {
        "$ref": "#/components/schemas/Sample"
    }
    assert schemas["IngestResult"]["properties"] == {"inserted": {"type": "integer", "minimum": 0}}


def test_sample_schema(document):
    schema = document["components"]["schemas"]["Sample"]
    properties = schema["properties"]
    assert "additionalProperties" not in schema  # unknown fields are ignored
    assert set(schema["required"]) == set(properties) - {
        "pv_daily_kwh",
        "battery_temp_c",
        "sample_count",
    }
    assert properties["device_id"]["type"] == "string"
    assert properties["ts"]["type"] == "string"
    assert properties["ts"]["format"] == "date-time"
    for name in ("pv_power_w", "battery_power_w", "load_power_w", "export_power_w"):
        assert properties[name]["type"] == "number"
        assert "nullable" not in properties[name]
    for name in ("pv_daily_kwh", "battery_temp_c"):
        assert properties[name]["type"] == "number"
        assert properties[name]["nullable"] is True
        assert properties[name]["default"] is None
    soc = properties["battery_soc_pct"]
    assert (soc["type"], soc["minimum"], soc["maximum"]) == ("number", 0, 100)
    count = properties["sample_count"]
    assert (count["type"], count["default"], count["minimum"]) == ("integer", 1, 1)


def test_series_and_error_schemas(document):
    schemas = document["components"]["schemas"]
    assert schemas["Series"]["properties"]["series"]["items"] == {
        "$ref": "#/components/schemas/Bucket"
    }
    assert schemas["Bucket"]["properties"]["bucket"]["format"] == "date-time"
    assert schemas["Bucket"]["properties"]["sample_count"] == {"type": "integer", "minimum": 1}
    assert schemas["Error"]["properties"]["detail"] == {
        "oneOf": [
            {"type": "string"},
            {"type": "array", "items": {"$ref": "#/components/schemas/ValidationItem"}},
        ]
    }
    assert schemas["ValidationItem"]["required"] == ["loc", "msg", "type"]


def test_operations_answers(document):
    paths, schemas = document["paths"], document["components"]["schemas"]
    ready = paths["/health/ready"]["get"]["responses"]["200"]["content"]
    assert ready == {JSON: {"schema": {"$ref": "#/components/schemas/Readiness"}}}
    readiness = schemas["Readiness"]
    assert set(readiness["required"]) == {"status", "database", "redis", "edition", "reasons"}
    assert readiness["properties"]["status"]["enum"] == ["ok", "degraded"]
    assert readiness["additionalProperties"] is False
    metrics = paths["/metrics"]["get"]["responses"]["200"]["content"]
    assert metrics == {"text/plain": {"schema": {"type": "string"}}}


def test_devices_answer(document):
    schemas = document["components"]["schemas"]
    assert schemas["Devices"]["properties"]["devices"]["items"] == {
        "$ref": "#/components/schemas/DeviceState"
    }
    device = schemas["DeviceState"]
    assert list(device["properties"]) == [
        *("device_id", "last_ts", "age_s", "stale"),
        *("last_refused", "refused_since_stored", "unknown_fields"),
    ]
    assert set(device["required"]) == set(device["properties"])
    assert device["properties"]["last_refused"] == {
        "anyOf": [{"$ref": "#/components/schemas/LastRefused"}],
        "nullable": True,
    }
    assert schemas["LastRefused"]["required"] == ["at", "detail", "status"]


# Fuzzing. Bounded for CI: about 400 requests in total, the same ones on every run.
FUZZ_EXAMPLES = {"/v1/ingest": 100, "/v1/realtime": 50, "/v1/series": 50}
CONFORMANCE = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]
# Timestamps the server stores, so some cases get past validation into PostgreSQL: often
# within one hour, so samples are neighbours (energy is integrated between them) and share
# buckets; otherwise anywhere in the allowed years.
STORABLE_TS = st.one_of(
    st.datetimes(min_value=datetime(2024, 3, 31), max_value=datetime(2024, 3, 31, 1)),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2025, 12, 31)),
).map(lambda moment: moment.replace(tzinfo=UTC))


def anchor(case, data) -> None:
    """Half the time, aim a valid case at the token's own device with storable timestamps.

    Unanchored, a generated device_id is never the token's, so every case would stop at
    the 403 (or the ts range check) and the fuzzer would never reach the database.
    """
    if not data.draw(st.booleans(), label="anchored"):
        return
    if isinstance(case.query, dict) and "device_id" in case.query:
        case.query["device_id"] = DEVICE
    for item in _samples(case):
        item["device_id"] = DEVICE
        item["ts"] = data.draw(STORABLE_TS, label="ts").isoformat()


def _samples(case) -> list[dict]:
    samples = case.body.get("samples") if isinstance(case.body, dict) else None
    return [item for item in samples if isinstance(item, dict)] if isinstance(samples, list) else []


def seed(client) -> None:
    """A few samples (one from a minute ago) so realtime and series answer 200 with data."""
    now = datetime.now(UTC)
    times = [now - timedelta(minutes=1), now - timedelta(days=40), now - timedelta(days=400)]
    batch = {"samples": [sample(ts=ts.isoformat()) for ts in times]}
    assert client.post("/v1/ingest", json=batch, headers=AUTH).status_code == 200


READ_BACK = [("/v1/realtime", {}), ("/v1/series", {"frame": "all"})]


def fuzz_cases() -> list:
    cases = []
    for path, method in OPERATIONS:
        modes = [GenerationMode.POSITIVE]
        if path in FUZZ_EXAMPLES:
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            label = f"{method.upper()} {path} {mode.value}"
            cases.append(pytest.param(path, method, mode, id=label))
    return cases


@pytest.mark.parametrize(("path", "method", "mode"), fuzz_cases())
def test_fuzz(app, client, path, method, mode):
    seed(client)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operation = schema[path][method.upper()]

    @given(case=operation.as_strategy(mode), data=st.data())
    @settings(
        max_examples=FUZZ_EXAMPLES.get(path, 5),
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def conforms(case, data):
        # Negative cases stay as generated: anchoring could make them valid again.
        if mode is GenerationMode.POSITIVE:
            anchor(case, data)
        response = case.call_and_validate(headers=AUTH, checks=CONFORMANCE)
        if path == "/v1/ingest" and response.status_code == 200:
            # What was stored must read back as the contract says, raw and rolled up.
            for reader, query in READ_BACK:
                reader_case = schema[reader]["GET"].Case(query={"device_id": DEVICE, **query})
                reader_case.call_and_validate(headers=AUTH, checks=CONFORMANCE)

    conforms()


V1_CASES = {
    "/v1/ingest": {"method": "POST", "body": {"samples": []}, "media_type": "application/json"},
    "/v1/realtime": {"method": "GET", "query": {"device_id": DEVICE}},
    "/v1/series": {"method": "GET", "query": {"device_id": DEVICE}},
    "/v1/devices": {"method": "GET"},
}


@pytest.mark.parametrize("path", V1_CASES)
def test_throttle_answer_conforms(database_url, redis_url, path):
    throttled = create_app(make_env(database_url, redis_url, AUTH_FAIL_LIMIT="1"))
    try:
        schema = schemathesis.openapi.from_wsgi("/openapi.json", throttled)
        arguments = dict(V1_CASES[path])
        case = schema[path][arguments.pop("method")].Case(**arguments)
        wrong = {"Authorization": "Bearer wrong"}
        case.call_and_validate(headers=wrong, checks=CONFORMANCE)
        response = case.call_and_validate(headers=wrong, checks=CONFORMANCE)
        assert response.status_code == 429
    finally:
        close_app(throttled)


@pytest.mark.parametrize(
    "sample_count",
    [INT4_MAX + 1, 2**63],
)
def test_sample_count_beyond_int4_is_422(app, client, db, sample_count):
    operation = schemathesis.openapi.from_wsgi("/openapi.json", app)["/v1/ingest"]["POST"]
    body = {"samples": [sample(sample_count=sample_count)]}
    case = operation.Case(body=body, media_type="application/json")
    response = case.call(headers=AUTH)
    assert response.status_code == 422, (response.status_code, response.text)
    case.validate_response(response, checks=CONFORMANCE)
    assert db.execute("SELECT count(*) FROM sungrow_samples").fetchone() == (0,)


def extreme(name: str, field: str, first: float, second: float, apart: int, bug: str):
    """A pair of samples `apart` seconds apart that once broke the server (`bug`)."""
    return pytest.param(field, first, second, apart, id=name)


HUGE, TINY = 1e308, 5e-324
STORED_THEN_SERIES_500 = "stored (200), then every /v1/series over it is a 500"
INGEST_500 = "ingest is a 500, so the edge daemon retries that batch forever"


@pytest.mark.parametrize(
    ("field", "first", "second", "apart"),
    [
        extreme(
            "sum in a bucket",
            "pv_power_w",
            HUGE,
            HUGE,
            4 * 86400,
            f"{STORED_THEN_SERIES_500} ('value out of range: overflow', rollups.QUERY)",
        ),
        extreme(
            "energy at ingest",
            "pv_power_w",
            HUGE,
            HUGE,
            60,
            f"{INGEST_500} (overflow, samples.MOVE_STAGE)",
        ),
        extreme(
            "energy in series",
            "load_power_w",
            HUGE,
            HUGE,
            60,
            f"{STORED_THEN_SERIES_500} (overflow, energy.SUMS)",
        ),
        extreme(
            "counter step",
            "pv_daily_kwh",
            -HUGE,
            HUGE,
            60,
            f"{INGEST_500} (overflow, samples.MOVE_STAGE)",
        ),
        extreme(
            "tiny energy at ingest",
            "pv_power_w",
            TINY,
            TINY,
            60,
            f"{INGEST_500} ('value out of range: underflow', samples.MOVE_STAGE)",
        ),
        extreme(
            "tiny energy in series",
            "load_power_w",
            TINY,
            TINY,
            60,
            f"{STORED_THEN_SERIES_500} (underflow, energy.SUMS)",
        ),
    ],
)
def test_extreme_numbers_are_not_a_500(client, field, first, second, apart):
    # Refusing such numbers (422) or storing them are both fine; a 500 never is.
    start = datetime(2024, 1, 1, tzinfo=UTC)
    batch = {
        "samples": [
            sample(**{"ts": (start + timedelta(seconds=at)).isoformat(), "pv_daily_kwh": None})
            | {field: value}
            for at, value in ((0, first), (apart, second))
        ]
    }
    ingest = client.post("/v1/ingest", json=batch, headers=AUTH)
    series = client.get(f"/v1/series?device_id={DEVICE}&frame=all", headers=AUTH)
    assert max(ingest.status_code, series.status_code) < 500, (ingest.text, series.text)
