"""gunicorn started as the README says (gunicorn.conf.py), on a free port, from a directory
of the caller's choice (one without a .env, so only the given environment counts)."""

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .processes import child_pids, free_port

REPO = Path(__file__).resolve().parents[2]


class Gunicorn:
    """One gunicorn master serving `app` (default the server's `wsgi:app`)."""

    def __init__(
        self, env: dict[str, str], cwd: Path, app: str = "wsgi:app", log: Path | None = None
    ):
        self.port = free_port()
        self._connections: list[http.client.HTTPConnection] = []
        self.log = log or cwd / "gunicorn.log"
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("FLASK_")},
            **env,
            "PYTHONPATH": str(REPO),
        }
        command = [sys.executable, "-m", "gunicorn", "-c", str(REPO / "gunicorn.conf.py")]
        command += ["--bind", f"127.0.0.1:{self.port}", app]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT
            )

    def wait_ready(self, timeout: float = 15, workers: int | None = None) -> "Gunicorn":
        """Wait until /health answers (and, if given, that many workers run)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                healthy = self.request("GET", "/health")[0] == 200
            except OSError:
                healthy = False
            if healthy and (workers is None or len(self.workers()) == workers):
                return self
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"gunicorn did not start:\n{self.log.read_text()[-3000:]}")

    def workers(self) -> list[int]:
        """The worker pids, children of the gunicorn master."""
        return child_pids(self.process.pid)

    def connection(self) -> http.client.HTTPConnection:
        """A connection for a hand-made request; closed when the server stops."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        self._connections.append(conn)
        return conn

    def request(self, method, path, body=None, headers=None, timeout: float = 10):
        """One request on a new connection: status, headers and body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def get(self, path: str, token: str) -> tuple[int, bytes]:
        """One GET with a bearer token: status and body."""
        status, _, body = self.request("GET", path, None, {"Authorization": f"Bearer {token}"}, 30)
        return status, body

    def ingest(self, samples, token):
        """POST /v1/ingest of `samples` with a bearer token."""
        body = json.dumps({"samples": samples}).encode()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        return self.request("POST", "/v1/ingest", body, headers)

    def stop(self, timeout: float = 15) -> None:
        """Stop gunicorn gracefully, or kill it after `timeout` seconds."""
        for conn in self._connections:
            conn.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
