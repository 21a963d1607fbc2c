"""Tokens made by the CLI: stored as hashes, read-only roles and scopes, revocation,
`last used`; on each database edition, and over real gunicorn with two workers."""

import hashlib
import re
import time

import psycopg
import pytest

from sungrow_server import create_app
from sungrow_server.auth import get_token_store
from sungrow_server.auth.store import TokenStore
from sungrow_server.testing import Gunicorn
from tests.helpers import (
    API_EDITIONS,
    AUTH,
    bearer,
    cli,
    close_app,
    make_env,
    make_token,
    new_database,
    sample,
    single_edition,
)

# The tokens are plain tables, the same on every edition: the role check runs on each.
edition = single_edition("postgresql")
REALTIME = "/v1/realtime?device_id=inverter-01"
SERIES = "/v1/series?device_id=inverter-01&from=2026-11-28&to=2026-11-29"


def rows(db) -> int:
    return db.execute("SELECT count(*) FROM sungrow_samples").fetchone()[0]


def ingest(client, headers, *samples):
    return client.post("/v1/ingest", json={"samples": list(samples)}, headers=headers)


def test_token_is_printed_once_and_stored_only_as_its_hash(app, db):
    result = cli(app, "token", "create", "--device", "inverter-01", "--read-only")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert len(result.stdout.splitlines()) == 1 and token.startswith("sgr_")
    assert len(token) >= 40  # 256 random bits
    assert token not in result.stderr and "read-only" in result.stderr
    stored = db.execute("SELECT * FROM sungrow_tokens").fetchall()
    assert token not in repr(stored)
    digest = db.execute("SELECT digest FROM sungrow_tokens").fetchone()[0]
    assert bytes(digest) == hashlib.sha256(token.encode()).digest()
    assert make_token(app, "--device", "inverter-01", "--read-only") != token


@pytest.mark.parametrize("edition", API_EDITIONS)
def test_read_only_token_reads_and_never_writes(app, client, db):
    assert ingest(client, AUTH, sample()).status_code == 200
    token = make_token(app, "--device", "inverter-01", "--read-only", "--label", "phone")
    reader = bearer(token)
    assert client.get(REALTIME, headers=reader).status_code == 200
    response = client.get(SERIES, headers=reader)
    assert response.status_code == 200 and response.json["series"][0]["sample_count"] == 1
    before = rows(db)
    refused = ingest(client, reader, sample("2026-11-28T10:00:05Z"))
    assert (refused.status_code, refused.json) == (403, {"detail": "Token is read-only."})
    # refused before the body is read: a body that is not even JSON gets the same answer
    garbage = client.post("/v1/ingest", data=b"{not json", headers=reader)
    assert (garbage.status_code, garbage.json) == (403, {"detail": "Token is read-only."})
    assert rows(db) == before


@pytest.mark.parametrize(
    "path",
    [
        "/v1/realtime?device_id=inverter-02",
        "/v1/series?device_id=inverter-02&frame=day",
    ],
)
def test_read_only_token_reads_only_its_scope(app, client, path):
    token = make_token(app, "--device", "inverter-01", "--read-only")
    response = client.get(path, headers=bearer(token))
    assert response.status_code == 403
    assert response.json == {"detail": "Device ID does not match authenticated device."}


def test_database_device_token_writes_its_device_only(app, client, db):
    writer = bearer(make_token(app, "--device", "inverter-07", "--label", "edge"))
    assert ingest(client, writer, sample(device_id="inverter-07")).json == {"inserted": 1}
    other = ingest(client, writer, sample(device_id="inverter-01"))
    assert other.status_code == 403
    assert other.json == {"detail": "Sample device ID does not match authenticated device."}
    assert client.get("/v1/realtime?device_id=inverter-07", headers=writer).status_code == 200
    assert client.get(REALTIME, headers=writer).status_code == 403
    assert rows(db) == 1


def test_all_scope_reads_every_device(app, client):
    ingest(client, AUTH, sample())
    ingest(client, bearer("token-02"), sample(device_id="inverter-02"))
    reader = bearer(make_token(app, "--all", "--read-only"))
    for device in ("inverter-01", "inverter-02"):
        response = client.get(f"/v1/realtime?device_id={device}", headers=reader)
        assert response.status_code == 200 and response.json["device_id"] == device
    assert client.get("/v1/realtime?device_id=never-seen", headers=reader).status_code == 404


def test_revoked_token_is_refused(app, client):
    token = make_token(app, "--device", "inverter-01", "--read-only")
    ingest(client, AUTH, sample())
    assert client.get(REALTIME, headers=bearer(token)).status_code == 200
    listed = cli(app, "token", "list").stdout
    token_id = listed.splitlines()[1].split()[0]
    result = cli(app, "token", "revoke", token_id)
    assert result.exit_code == 0 and "revoked" in result.output
    response = client.get(REALTIME, headers=bearer(token))
    assert (response.status_code, response.json) == (401, {"detail": "Invalid or expired token."})
    assert "revoked already" in cli(app, "token", "revoke", token_id).output
    assert "No tokens in the database" in cli(app, "token", "list").stdout
    revoked = cli(app, "token", "list", "--revoked").stdout.splitlines()
    assert revoked[0].split()[-1] == "REVOKED" and revoked[1].split()[0] == token_id


def test_last_used_moves(app, client):
    token = make_token(app, "--device", "inverter-01", "--read-only", "--label", "wall")
    first = cli(app, "token", "list").stdout.splitlines()[1]
    assert first.split()[-1] == "-"  # never used
    client.get(REALTIME, headers=bearer(token))
    get_token_store(app).flush()  # what the worker's timer does within FLUSH_S
    used = cli(app, "token", "list").stdout.splitlines()[1]
    assert used.split()[-1] != "-" and used.split()[-1].endswith("Z")


def test_token_list_shows_what_each_token_may_do_and_never_a_token(app):
    cli(app, "site", "create", "roof", "--device", "inverter-01", "--device", "inverter-02")
    tokens = [
        make_token(app, "--device", "inverter-01", "--label", "edge"),
        make_token(app, "--site", "roof", "--read-only", "--label", "wall display"),
        make_token(app, "--all", "--read-only"),
        make_token(app, "--device", "a", "--device", "b", "--read-only"),
    ]
    result = cli(app, "token", "list")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "ROLE", "SCOPE", "LABEL", "CREATED", "LAST", "USED"]
    assert "device" in lines[1] and "device inverter-01" in lines[1] and "edge" in lines[1]
    assert "read-only" in lines[2] and "site roof" in lines[2] and "wall display" in lines[2]
    assert "read-only" in lines[3] and " all " in lines[3]
    assert "device a, device b" in lines[4]
    assert lines[5] == (
        "DEVICE_TOKENS (set in the environment) holds 2 device tokens: inverter-01, inverter-02."
    )
    for token in [*tokens, "token-01", "token-02"]:
        assert token not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Give the token a scope"),
        (("--site", "roof"), "only reads: add --read-only"),
        (("--all",), "only reads: add --read-only"),
        (("--device", "a", "--device", "b"), "bound to one device"),
        (("--all", "--device", "a", "--read-only"), "--all already covers"),
        (("--site", "nowhere", "--read-only"), "No site nowhere"),
        (("--device", " ", "--read-only"), "an id cannot be empty"),
    ],
)
def test_create_refuses_a_scope_that_makes_no_sense(app, db, args, message):
    result = cli(app, "token", "create", *args)
    assert result.exit_code != 0
    assert message in result.output
    assert db.execute("SELECT count(*) FROM sungrow_tokens").fetchone()[0] == 0


def test_revoking_an_unknown_token_fails(app):
    result = cli(app, "token", "revoke", "42")
    assert result.exit_code == 1 and "No token 42." in result.output


def test_commands_before_init_db_say_what_to_do(clusters, redis_url):
    cluster = clusters.get("postgresql")
    with new_database(cluster) as janitor:  # an empty database: init-db never ran
        bare = create_app(make_env(cluster.url(janitor.dbname), redis_url))
        try:
            result = cli(bare, "token", "list")
            assert result.exit_code == 1
            assert "run flask --app sungrow_server init-db" in result.output
        finally:
            close_app(bare)


def test_database_down_refuses_database_tokens_with_503_only(app, client, monkeypatch):
    token = make_token(app, "--device", "inverter-01", "--read-only")
    ingest(client, AUTH, sample())
    store = get_token_store(app)
    store.snapshot()
    monkeypatch.setattr(TokenStore, "REFRESH_S", 0.0)
    monkeypatch.setattr(TokenStore, "MAX_AGE_S", 0.0)

    def unreachable(conn, key):
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr("sungrow_server.auth.store.read_snapshot", unreachable)
    response = client.get(REALTIME, headers=bearer(token))
    assert response.status_code == 503
    assert response.json == {"detail": "Database unavailable, try again later."}
    assert response.headers["Retry-After"] == "5"
    # DEVICE_TOKENS need no database: the edge's path does not change
    assert client.get(REALTIME, headers=AUTH).status_code == 200


@pytest.mark.slow
def test_revoke_and_create_reach_both_workers_within_5_s(database_url, redis_url, tmp_path):
    # The access log names the worker (its pid) that answered each request.
    access = "--access-logformat '%(p)s %(r)s %(s)s'"
    env = make_env(  # throttle off: the test itself fails to authenticate many times
        database_url, redis_url, WORKERS="2", GUNICORN_CMD_ARGS=access, AUTH_FAIL_LIMIT="0"
    )
    server = Gunicorn(env, tmp_path).wait_ready(workers=2)
    admin = create_app(env)  # the CLI, as a user runs it beside the server
    try:
        assert server.ingest([sample()], "token-01")[0] == 200
        started = time.monotonic()
        token = make_token(admin, "--device", "inverter-01", "--read-only")
        statuses = poll(server, token, 200)
        assert time.monotonic() - started < 5, statuses
        token_id = cli(admin, "token", "list").stdout.splitlines()[1].split()[0]
        time.sleep(TokenStore.FLUSH_S + 0.5)  # each worker's timer writes `last used`
        listed = cli(admin, "token", "list").stdout.splitlines()[1]
        stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ"
        assert re.search(f"{stamp}  {stamp}$", listed), listed  # created, then last used
        mark = len(server.log.read_text())
        started = time.monotonic()
        assert cli(admin, "token", "revoke", token_id).exit_code == 0
        statuses = poll(server, token, 401)
        assert time.monotonic() - started < 5, statuses
        later = {poll(server, token, 401, 1)[0] for _ in range(40)}
        assert later == {401}
        refusals = re.findall(
            r"^<(\d+)> GET /v1/realtime\S* HTTP/1.1 401$", server.log.read_text()[mark:], re.M
        )
        assert set(map(int, refusals)) == set(server.workers())  # both workers refuse it
    finally:
        close_app(admin)
        server.stop()
    log = server.log.read_text()
    assert token not in log
    # DEVICE_TOKENS of the tests are short: one warning line at start-up, naming no token
    warning = "DEVICE_TOKENS: the tokens of inverter-01, inverter-02 are shorter than 16"
    assert log.count(warning) == 1 and "token-01" not in log


def poll(server, token: str, wanted: int, streak: int = 20) -> list[int]:
    """Statuses of requests on new connections until `streak` in a row are `wanted`."""
    statuses, run = [], 0
    deadline = time.monotonic() + 10
    while run < streak and time.monotonic() < deadline:
        status, _, _ = server.request(
            "GET", "/v1/realtime?device_id=inverter-01", None, bearer(token)
        )
        statuses.append(status)
        run = run + 1 if status == wanted else 0
    return statuses
