"""Throwaway PostgreSQL clusters and Redis servers that the tests own, on free ports."""

import http.client
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_bindir() -> Path:
    """The bin directory of the newest installed PostgreSQL server."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3])
    )
    if found:
        return found[-1].parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
        return Path(out.stdout.strip())
    raise RuntimeError("no PostgreSQL server found; run scripts/install-test-deps")


def _as_postgres(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: drop to the postgres user when we are root.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _hand_over(path: Path) -> None:
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(path, user.pw_uid, user.pw_gid)


def bare_install(bindir: Path, root: Path) -> Path:
    """A copy of the PostgreSQL install without TimescaleDB's files; its bin directory.

    PostgreSQL finds its share and lib directories relative to its own executable, so a
    copy of bin/, lib/ and share/ minus timescaledb* is a server on which TimescaleDB is
    simply not installed, beside the real one that has it.
    """
    version = bindir.parent.name
    share = Path(
        subprocess.run(
            [str(bindir / "pg_config"), "--sharedir"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    new_bin = root / "usr/lib/postgresql" / version / "bin"
    new_lib = new_bin.parent / "lib"
    shutil.copytree(bindir, new_bin, symlinks=True)
    new_lib.mkdir(parents=True)
    for item in (bindir.parent / "lib").iterdir():
        if item.is_file() and not item.name.startswith("timescaledb"):
            shutil.copy2(item, new_lib / item.name)
    new_share = root / "usr/share/postgresql" / version
    shutil.copytree(share, new_share, ignore=shutil.ignore_patterns("timescaledb*"))
    return new_bin


class PgCluster:
    """A PostgreSQL cluster in a temporary directory, started as the postgres user."""

    def __init__(self, settings: dict[str, str] | None = None, bindir: Path | None = None):
        self.bindir = bindir or pg_bindir()
        self.settings = settings or {}
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="sungrow-pg-"))
        self.root.chmod(0o755)
        _hand_over(self.root)
        self.datadir = self.root / "data"
        self.logfile = self.root / "server.log"
        self._initdb()

    def _initdb(self) -> None:
        subprocess.run(
            _as_postgres(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.datadir),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def url(self, dbname: str = "postgres") -> str:
        """A URL for a database of this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> "PgCluster":
        """Start (or restart) the server and wait until it accepts connections."""
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.root}",
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
            *(f"-c {key}={value}" for key, value in self.settings.items()),
        ]
        subprocess.run(
            _as_postgres(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.logfile),
                    "-o",
                    " ".join(options),
                    "-w",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (mode: smart, fast or immediate)."""
        subprocess.run(
            _as_postgres(
                [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"]
            ),
            capture_output=True,
        )

    def destroy(self) -> None:
        """Stop the server and remove its files."""
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer:
    """A redis-server process on a free port, without persistence."""

    def __init__(self):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="sungrow-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Its URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        """Start it and wait until it answers PING."""
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()
        return self

    def client(self) -> redis.Redis:
        """A plain client for inspecting what the app stored."""
        return redis.Redis.from_url(self.url)

    def stop(self) -> None:
        """Kill it."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Gunicorn:
    """gunicorn started as the README says, from a directory without a .env."""

    def __init__(self, env: dict[str, str], cwd: Path):
        self.port = free_port()
        self._connections: list[http.client.HTTPConnection] = []
        self.log = cwd / "gunicorn.log"
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("FLASK_")},
            **env,
            "PYTHONPATH": str(REPO),
        }
        with self.log.open("wb") as log:
            self.process = self._spawn(full_env, cwd, log)

    def _spawn(self, env, cwd, log) -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(REPO / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "wsgi:app",
            ],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 15) -> "Gunicorn":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/health")[0] == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"gunicorn did not start:\n{self.log.read_text()}")

    def connection(self) -> http.client.HTTPConnection:
        """A connection for a hand-made request; closed when the server stops."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        self._connections.append(conn)
        return conn

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def ingest(self, samples, token):
        body = json.dumps({"samples": samples}).encode()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        return self.request("POST", "/v1/ingest", body, headers)

    def stop(self):
        for conn in self._connections:
            conn.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
