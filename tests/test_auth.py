"""Bearer authentication of every /v1/ path; health stays open."""

import pytest

from sungrow_server.auth.tokens import TokenRegistry
from tests.helpers import single_edition

PATHS = [
    ("get", "/v1/realtime?device_id=inverter-01"),
    ("get", "/v1/series?device_id=inverter-01&frame=day"),
    ("post", "/v1/ingest"),
]


edition = single_edition("postgresql")


@pytest.mark.parametrize(("method", "path"), PATHS)
@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", "Basic dG9rZW4tMDE=", "token-01"]
)
def test_missing_credentials_are_401(client, method, path, header):
    headers = {} if header is None else {"Authorization": header}
    response = getattr(client, method)(path, headers=headers, json={"samples": []})
    assert response.status_code == 401
    assert response.json == {"detail": "Missing authorization credentials."}
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), PATHS)
@pytest.mark.parametrize("token", ["token-0", "token-011", "TOKEN-01", "inverter-01", "x" * 5000])
def test_unknown_token_is_401(client, method, path, token):
    headers = {"Authorization": f"Bearer {token}"}
    response = getattr(client, method)(path, headers=headers, json={"samples": []})
    assert response.status_code == 401
    assert response.json == {"detail": "Invalid or expired token."}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_scheme_is_case_insensitive(client):
    response = client.get(
        "/v1/realtime?device_id=inverter-01", headers={"Authorization": "bearer token-01"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "path", ["/v1/realtime?device_id=inverter-02", "/v1/series?device_id=inverter-02"]
)
def test_other_device_in_query_is_403(client, path):
    response = client.get(path, headers={"Authorization": "Bearer token-01"})
    assert response.status_code == 403
    assert response.json == {"detail": "Device ID does not match authenticated device."}


def test_each_token_reaches_its_own_device(client):
    response = client.get(
        "/v1/realtime?device_id=inverter-02", headers={"Authorization": "Bearer token-02"}
    )
    assert response.status_code == 404
    assert response.json == {"detail": "No data found for device_id 'inverter-02'."}


@pytest.mark.parametrize("path", ["/health", "/"])
def test_health_needs_no_token(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_unknown_path_and_method_keep_the_error_shape(client):
    assert client.get("/nope").json == {"detail": "Not Found"}
    response = client.delete("/health")
    assert response.status_code == 405
    assert response.json == {"detail": "Method Not Allowed"}


def test_registry_maps_tokens_to_devices():
    registry = TokenRegistry({"a": "inverter-a", "b": "inverter-b"})
    assert registry.device_for("a") == "inverter-a"
    assert registry.device_for("b") == "inverter-b"
    assert registry.device_for("c") is None
    assert registry.device_for("") is None


def test_registry_keeps_no_token_in_clear():
    registry = TokenRegistry({"s3cret-token": "inverter-a"})
    assert "s3cret-token" not in repr(vars(registry))
