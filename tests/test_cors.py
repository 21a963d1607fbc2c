"""CORS: pages on the listed origins may read (GET) with a token; nobody else, and
ingest never."""

import pytest

from sungrow_server import create_app
from tests.helpers import AUTH, close_app, make_env, sample, single_edition

edition = single_edition("postgresql")
DASHBOARD = "https://dash.example.org"
READS = [
    "/v1/realtime?device_id=inverter-01",
    "/v1/series?device_id=inverter-01",
    "/v1/devices",
]
ORIGIN_HEADER = "Access-Control-Allow-Origin"


@pytest.fixture
def app_env(database_url, redis_url):
    return make_env(
        database_url, redis_url, CORS_ALLOW_ORIGINS=f"{DASHBOARD}/, http://localhost:3000"
    )


def cors_headers(response) -> list[str]:
    return [name for name, _ in response.headers.items() if name.startswith("Access-Control-")]


def preflight(client, path, origin, method="GET"):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization",
        },
    )


@pytest.mark.parametrize("path", READS)
def test_listed_origin_may_read(client, path):
    client.post("/v1/ingest", json={"samples": [sample()]}, headers=AUTH)
    response = preflight(client, path, DASHBOARD)
    assert response.status_code == 200
    assert response.headers[ORIGIN_HEADER] == DASHBOARD
    assert response.headers["Access-Control-Allow-Methods"] == "GET"
    assert response.headers["Access-Control-Allow-Headers"].lower() == "authorization"
    assert "Access-Control-Allow-Credentials" not in response.headers
    response = client.get(path, headers={**AUTH, "Origin": DASHBOARD})
    assert response.status_code == 200
    assert response.headers[ORIGIN_HEADER] == DASHBOARD
    assert "Origin" in response.headers["Vary"]
    # errors are readable by the page too (it must see a 401 to ask for a new token)
    refused = client.get(path, headers={"Authorization": "Bearer wrong", "Origin": DASHBOARD})
    assert refused.status_code == 401 and refused.headers[ORIGIN_HEADER] == DASHBOARD


@pytest.mark.parametrize("path", READS)
@pytest.mark.parametrize("origin", ["https://evil.example.org", "http://dash.example.org"])
def test_other_origins_get_no_cors_headers(client, path, origin):
    client.post("/v1/ingest", json={"samples": [sample()]}, headers=AUTH)
    assert ORIGIN_HEADER not in preflight(client, path, origin).headers
    response = client.get(path, headers={**AUTH, "Origin": origin})
    assert response.status_code == 200
    assert cors_headers(response) == []


def test_ingest_never_answers_a_browser(client, db):
    response = preflight(client, "/v1/ingest", DASHBOARD, method="POST")
    assert cors_headers(response) == []
    posted = client.post(
        "/v1/ingest", json={"samples": [sample()]}, headers={**AUTH, "Origin": DASHBOARD}
    )
    assert posted.status_code == 200  # an edge daemon sends no Origin, but may
    assert ORIGIN_HEADER not in posted.headers


def test_a_preflight_needs_no_token_but_other_options_do(client):
    assert preflight(client, READS[0], DASHBOARD).status_code == 200
    plain = client.options(READS[0])
    assert plain.status_code == 401
    assert plain.json == {"detail": "Missing authorization credentials."}


def test_no_origin_is_allowed_by_default(database_url, redis_url):
    app = create_app(make_env(database_url, redis_url))
    try:
        client = app.test_client()
        response = preflight(client, READS[0], DASHBOARD)
        assert ORIGIN_HEADER not in response.headers
        response = client.get(READS[0], headers={**AUTH, "Origin": DASHBOARD})
        assert ORIGIN_HEADER not in response.headers
    finally:
        close_app(app)
