"""`flask alerts` posting to a webhook receiver on loopback, once per change of state."""

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sungrow_server import create_app
from tests.helpers import AUTH, close_app, make_env, sample, single_edition

edition = single_edition("postgresql")


class Receiver:
    """A webhook receiver: keeps each POST's headers and body."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()


def iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).replace(microsecond=0).isoformat()


@pytest.mark.parametrize("style", ["json", "ntfy"])
def test_one_message_per_change_of_state(database_url, redis_url, receiver, style):
    env = make_env(database_url, redis_url, ALERT_WEBHOOK_URL=receiver.url)
    app = create_app({**env, "ALERT_WEBHOOK_FORMAT": style, "STALE_AFTER_S": "600"})
    second_host = create_app({**env, "ALERT_WEBHOOK_FORMAT": style})
    client = app.test_client()

    def alerts(on=app):
        result = on.test_cli_runner().invoke(args=["alerts"])
        assert result.exit_code == 0, result.output
        return [event for event in ("stale", "refused", "recovered") if event in result.output]

    def ingest(ts, **fields):
        return client.post("/v1/ingest", json={"samples": [sample(ts, **fields)]}, headers=AUTH)

    try:
        assert alerts() == []  # no data yet: nothing to say
        assert ingest(iso(-timedelta(hours=2))).status_code == 200
        assert alerts() == ["stale"]
        assert alerts() == [] and alerts(second_host) == []
        assert ingest(iso(-timedelta(hours=1)), battery_soc_pct=101).status_code == 422
        assert alerts() == ["refused"]
        assert alerts(second_host) == []
        assert ingest(iso(-timedelta(seconds=5))).status_code == 200
        assert alerts() == ["recovered"]
        assert alerts() == [] and alerts(second_host) == []
    finally:
        close_app(app)
        close_app(second_host)
    assert len(receiver.received) == 3
    if style == "json":
        bodies = [json.loads(body) for _, body in receiver.received]
        assert [b["event"] for b in bodies] == ["stale", "refused", "recovered"]
        assert {b["device_id"] for b in bodies} == {"inverter-01"}
        assert bodies[1]["last_refused"]["status"] == 422
        assert "battery_soc_pct" in bodies[1]["message"] and bodies[1]["text"]
    else:
        headers = [h for h, _ in receiver.received]
        assert [h["Title"] for h in headers] == [
            "inverter-01 is silent",
            "inverter-01: batches refused",
            "inverter-01 recovered",
        ]
        assert [h["Priority"] for h in headers] == ["high", "high", "default"]
        assert receiver.received[0][1].decode().startswith("No sample from inverter-01 since")


def test_a_receiver_that_fails_gets_the_message_again(database_url, redis_url, receiver):
    app = create_app(make_env(database_url, redis_url, ALERT_WEBHOOK_URL=receiver.url + "x"))
    try:
        client = app.test_client()
        old = iso(-timedelta(hours=2))
        client.post("/v1/ingest", json={"samples": [sample(old)]}, headers=AUTH)
        receiver.server.shutdown()
        receiver.server.server_close()
        failed = app.test_cli_runner().invoke(args=["alerts"])
        assert failed.exit_code == 1 and "could not send" in failed.output
        assert receiver.url not in failed.output + str(failed.exception)
        again = Receiver()
        try:
            retry = create_app(make_env(database_url, redis_url, ALERT_WEBHOOK_URL=again.url))
            result = retry.test_cli_runner().invoke(args=["alerts"])
            close_app(retry)
            assert result.exit_code == 0 and "sent stale" in result.output
            assert len(again.received) == 1
        finally:
            again.close()
    finally:
        close_app(app)
