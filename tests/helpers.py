"""What the tests share besides fixtures: the edge's samples, the app's environment, and
databases and servers to start."""

import contextlib
import fcntl
import http.client
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pytest_postgresql.janitor import DatabaseJanitor

from sungrow_server.auth import get_token_store
from sungrow_server.db.pool import get_pool
from sungrow_server.ops import close as close_ops
from sungrow_server.realtime.cache import get_cache
from sungrow_server.testing import REPO, PgCluster

TOKENS = "token-01:inverter-01,token-02:inverter-02"
AUTH = {"Authorization": "Bearer token-01"}
TIMESCALE = {"shared_preload_libraries": "timescaledb", "timescaledb.max_background_workers": "0"}

# Each edition is one way a user's database can look.
EDITIONS = {
    "postgresql": "PostgreSQL without TimescaleDB",
    "not-preloaded": "TimescaleDB installed but not in shared_preload_libraries",
    "apache": "TimescaleDB, Apache-2 edition (no continuous aggregates)",
    "tsl": "TimescaleDB with continuous aggregates (licensed edition)",
}
API_EDITIONS = ["postgresql", "apache", "tsl"]


def timescaledb_files(bindir: Path) -> tuple[bool, bool]:
    """Whether the TimescaleDB library, and its licensed (TSL) module, are installed."""
    lib = bindir.parent / "lib"
    return (lib / "timescaledb.so").exists(), any(lib.glob("timescaledb-tsl-*.so"))


def new_database(cluster: PgCluster, template: str | None = None) -> DatabaseJanitor:
    """A janitor for a fresh database, cloned from `template` when given."""
    return DatabaseJanitor(
        user="postgres",
        host="127.0.0.1",
        port=cluster.port,
        dbname=f"test_{uuid.uuid4().hex[:12]}",
        template_dbname=template,
    )


def single_edition(name: str):
    """An `edition` fixture for a module whose tests need one database edition only."""

    @pytest.fixture
    def edition() -> str:
        return name

    return edition


def make_env(database_url: str, redis_url: str, **overrides: str) -> dict[str, str]:
    """The environment a user would give the server."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEVICE_TOKENS": TOKENS,
        **overrides,
    }


def close_app(app) -> None:
    """Release what the factory opened."""
    close_ops(app)
    get_token_store(app).close()
    get_pool(app).close()
    get_cache(app).close()


def sample(ts: str = "2026-11-28T10:00:00+00:00", device_id: str = "inverter-01", **fields) -> dict:
    """One valid sample as an edge daemon sends it."""
    return {
        "device_id": device_id,
        "ts": ts,
        "pv_power_w": 1200.0,
        "pv_daily_kwh": 3.5,
        "battery_power_w": 250.0,
        "battery_soc_pct": 64.0,
        "battery_temp_c": 24.5,
        "load_power_w": 800.0,
        "export_power_w": 150.0,
        "sample_count": 1,
        **fields,
    }


def edge_batches(samples: list[dict], size: int = 1000, span_days: int = 30) -> list[list[dict]]:
    """`samples` in their order, cut into batches as an edge daemon's spool sends them: at
    most `size` samples, none spanning more than MAX_BATCH_SPAN_S (30 days by default)."""
    batches, span = [], timedelta(days=span_days)
    for item in samples:
        ts = datetime.fromisoformat(item["ts"])
        if batches and len(batches[-1]) < size:
            times = [datetime.fromisoformat(other["ts"]) for other in batches[-1]]
            if max(*times, ts) - min(*times, ts) <= span:
                batches[-1].append(item)
                continue
        batches.append([item])
    return batches


def stored_rows(conn, device_id: str = "inverter-01") -> list[tuple]:
    """(ts, pv_power_w) of what the server stored for a device, oldest first."""
    return conn.execute(
        "SELECT ts, pv_power_w FROM sungrow_samples WHERE device_id = %s ORDER BY ts", (device_id,)
    ).fetchall()


def cli(app, *args: str):
    """Run a command as `flask --app sungrow_server ...` would; its click Result. The app
    sees what the command changed at its next request (a server takes up to 5 s)."""
    result = app.test_cli_runner().invoke(args=list(args))
    get_token_store(app).expire()
    return result


def make_token(app, *args: str) -> str:
    """`token create ARGS`: the token it printed (its only line of standard output)."""
    result = cli(app, "token", "create", *args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of a token."""
    return {"Authorization": f"Bearer {token}"}


def batch_body(*samples: dict) -> bytes:
    """An ingest body as an edge daemon sends it."""
    return json.dumps({"samples": list(samples)}).encode()


class Trickle:
    """Uploads that each send their headers at once, then their body a byte every
    `interval` seconds, each on its own connection (from `connect()`), until finish()."""

    def __init__(self, connect, bodies: list[bytes], token: str, interval: float):
        self.bodies = bodies
        self.sockets = [connect() for _ in bodies]
        for sock, body in zip(self.sockets, bodies, strict=True):
            sock.sendall(
                (
                    "POST /v1/ingest HTTP/1.1\r\nHost: sungrow.test\r\n"
                    f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode()
            )
        self.sent = 0
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip, daemon=True)
        self._thread.start()

    def _drip(self) -> None:
        shortest = min(map(len, self.bodies))
        while not self._stop.wait(self._interval) and self.sent < shortest - 1:
            for sock, body in zip(self.sockets, self.bodies, strict=True):
                with contextlib.suppress(OSError):  # the server may have answered it
                    sock.sendall(body[self.sent : self.sent + 1])
            self.sent += 1

    def finish(self) -> None:
        """Send the rest of every body at once."""
        self._stop.set()
        self._thread.join()
        for sock, body in zip(self.sockets, self.bodies, strict=True):
            with contextlib.suppress(OSError):
                sock.sendall(body[self.sent :])

    def answers(self, timeout: float = 15) -> list[tuple[int, dict, dict]]:
        """Each upload's answer: status, headers and JSON body."""
        answers = []
        for sock in self.sockets:
            sock.settimeout(timeout)
            response = http.client.HTTPResponse(sock, method="POST")
            response.begin()
            answers.append(
                (response.status, dict(response.getheaders()), json.loads(response.read()))
            )
        return answers

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.sockets:
            sock.close()


def flask_command(*args: str) -> list[str]:
    """The `flask --app sungrow_server ...` command line a user types."""
    return [sys.executable, "-m", "flask", "--app", "sungrow_server", *args]


def command_env(env: dict[str, str]) -> dict[str, str]:
    """The process environment of a command: this one, less Flask's, plus `env`."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLASK_")},
        **env,
        "PYTHONPATH": str(REPO),
    }


def on_terminal(command: list[str], env: dict[str, str], cwd: Path, **streams) -> tuple[int, str]:
    """Run `command` with its standard error (and whatever of stdin/stdout is not given in
    `streams`) on a pseudo-terminal, as in an operator's shell; its exit status and what
    it printed there."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    streams = {"stdin": terminal, "stdout": terminal, **streams, "stderr": terminal}
    process = subprocess.Popen(command, env=command_env(env), cwd=cwd, **streams)
    os.close(terminal)
    printed = bytearray()
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: every end of the terminal is closed
            break
        if not chunk:
            break
        printed += chunk
    os.close(controller)
    return process.wait(timeout=120), printed.decode(errors="replace")
