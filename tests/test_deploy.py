"""The deployment files as a user installs them: deploy/nginx.conf checked by `nginx -t` and
run in front of gunicorn, every systemd unit in deploy/ checked by `systemd-analyze
verify`, and gunicorn.conf.py's own part (sd_notify, forwarded headers, the access log)."""

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from sungrow_server.config import load_settings
from sungrow_server.testing import REPO, Gunicorn, Nginx, nginx_binary
from tests.helpers import AUTH, Trickle, batch_body, make_env, new_database, sample

pytestmark = pytest.mark.slow
JSON = {**AUTH, "Content-Type": "application/json"}
REALTIME = "/v1/realtime?device_id=inverter-01"
# The one warning nginx 1.25.1 and newer give for this file, which says so where it
# occurs; older versions give none.
LISTEN_HTTP2_DEPRECATED = 'the "listen ... http2" directive is deprecated'
UNIT_SUFFIXES = (".service", ".timer", ".socket", ".path", ".target")


@pytest.fixture(scope="module")
def workdir():
    # Not under pytest's tmp_path: nginx's workers (user nobody) must reach it.
    path = Path(tempfile.mkdtemp(prefix="sungrow-deploy-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def database(clusters):
    cluster = clusters.get("postgresql")
    with new_database(cluster, clusters.template("postgresql")) as janitor:
        yield cluster.url(janitor.dbname)


@pytest.fixture(scope="module")
def gunicorn(database, redis_server, workdir):
    running = Gunicorn(make_env(database, redis_server.url), workdir).wait_ready()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def nginx(gunicorn, workdir):
    if nginx_binary() is None:
        pytest.skip("nginx is not installed (scripts/install-deps --test installs it)")
    server = Nginx(workdir, gunicorn.port)
    yield server.start()
    server.stop()


def stored_count(database: str) -> int:
    with psycopg.connect(database) as conn:
        return conn.execute("SELECT count(*) FROM sungrow_samples").fetchone()[0]


def test_nginx_accepts_the_shipped_file(nginx):
    result = nginx.check()
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    complaints = [
        line
        for line in result.stderr.splitlines()
        if re.search(r"\[(warn|emerg|alert|crit|error)\]", line)
        and LISTEN_HTTP2_DEPRECATED not in line
    ]
    assert complaints == []


def test_nginx_reads_slow_uploads_whole_and_keeps_answering(nginx, database):
    status, _, body = nginx.request("POST", "/v1/ingest", batch_body(sample()), JSON)
    assert (status, json.loads(body)) == (200, {"inserted": 1})
    bodies = [batch_body(sample(f"2026-11-28T12:{s // 60:02d}:{s % 60:02d}Z")) for s in range(96)]
    trickle = Trickle(lambda: nginx.tls_socket(timeout=10), bodies, "token-01", interval=0.5)
    try:
        for _ in range(4):
            # Answered within a second, or TimeoutError.
            status, _, body = nginx.request("GET", REALTIME, None, AUTH, timeout=1)
            assert status == 200, body
            assert json.loads(body)["ts"] == "2026-11-28T10:00:00+00:00"
            time.sleep(0.25)
        trickle.finish()
        answers = [(status, body) for status, _, body in trickle.answers()]
    finally:
        trickle.close()
    # Every slow upload reached the server whole, and was stored.
    assert answers == [(200, {"inserted": 1})] * 96
    assert stored_count(database) == 97


def test_nginx_limits_bodies_to_max_request_bytes(nginx):
    limit = load_settings(make_env("postgresql://h/db", "redis://h")).max_request_bytes
    declared = re.search(r"client_max_body_size (\d+)m;", nginx.site.read_text())
    assert int(declared.group(1)) * 1024 * 1024 == limit
    # A body of exactly the limit reaches the server (which finds it is not a batch); one
    # byte more is refused by nginx itself.
    status, _, body = nginx.request("POST", "/v1/ingest", b" " * limit, JSON)
    assert (status, json.loads(body)) == (400, {"detail": "Request body is not valid JSON."})
    status, _, _ = nginx.request("POST", "/v1/ingest", b" " * (limit + 1), JSON)
    assert status == 413


def test_nginx_redirects_http_and_keeps_metrics_internal(nginx):
    conn = socket.create_connection(("127.0.0.1", nginx.http_port), timeout=5)
    conn.sendall(b"GET /v1/realtime HTTP/1.1\r\nHost: sungrow.test\r\nConnection: close\r\n\r\n")
    head = conn.makefile("rb").read().decode("latin-1")
    conn.close()
    assert head.startswith("HTTP/1.1 301")
    assert "\r\nLocation: https://sungrow.test/v1/realtime\r\n" in head
    assert nginx.request("GET", "/metrics")[0] in (403, 404)  # never served


def test_access_logs_name_the_client_and_the_time_taken_and_no_token(nginx, gunicorn):
    # Through nginx, from 127.0.0.2 with a forged X-Forwarded-For: the log names the
    # client nginx saw. Straight to gunicorn from an untrusted address: the peer. Both
    # with a token as a Basic-auth user name, which neither log may show.
    basic = "Basic " + base64.b64encode(b"token-01:").decode()
    headers = {"X-Forwarded-For": "203.0.113.9", "Authorization": basic}
    assert nginx.request("GET", "/health?via=nginx", None, headers, source="127.0.0.2")[0] == 200
    direct = socket.create_connection(
        ("127.0.0.1", gunicorn.port), timeout=5, source_address=("127.0.0.3", 0)
    )
    direct.sendall(
        b"GET /health?via=direct HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.2.3.4\r\n"
        + f"Authorization: {basic}\r\n\r\n".encode()
    )
    assert direct.recv(100).startswith(b"HTTP/1.1 200")
    direct.close()
    lines = {}
    deadline = time.monotonic() + 5
    while len(lines) < 3 and time.monotonic() < deadline:
        logs = {"nginx": gunicorn.log, "direct": gunicorn.log, "in nginx": nginx.access_log}
        lines = {
            via: line
            for via, log in logs.items()
            if log.exists()
            for line in log.read_text().splitlines()
            if f"/health?via={via.split()[-1]} " in line
        }
        time.sleep(0.05)
    combined = r'^{} - - \[[^]]+\] "GET /health\?via={} HTTP/1\.[01]" 200 \d+ "-" "[^"]*" [\d.]+$'
    assert re.match(combined.format(r"127\.0\.0\.2", "nginx"), lines["nginx"]), lines
    assert re.match(combined.format(r"127\.0\.0\.3", "direct"), lines["direct"]), lines
    assert re.match(combined.format(r"127\.0\.0\.2", "nginx"), lines["in nginx"]), lines
    assert "token-01" not in gunicorn.log.read_text() + nginx.access_log.read_text()


def gunicorn_setting(name: str, **env: str) -> str:
    """A setting as gunicorn resolves it from gunicorn.conf.py in `env`."""
    environ = {k: v for k, v in os.environ.items() if k != "TRUSTED_PROXIES"}
    environ.update(PYTHONPATH=str(REPO), **env)
    environ.update(DATABASE_URL="postgresql://h/db", REDIS_URL="redis://h", DEVICE_TOKENS="t:d")
    command = [sys.executable, "-m", "gunicorn", "-c", str(REPO / "gunicorn.conf.py")]
    result = subprocess.run(
        [*command, "--print-config", "wsgi:app"],
        cwd=tempfile.gettempdir(),
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    return re.search(rf"^{name} +=\s*(.*)$", result.stdout, re.M).group(1)


def test_forwarded_headers_are_believed_from_trusted_proxies_only():
    assert gunicorn_setting("forwarded_allow_ips", TRUSTED_PROXIES="10.0.0.5") == "['10.0.0.5']"
    assert gunicorn_setting("forwarded_allow_ips", TRUSTED_PROXIES="none") == "[]"


def test_gunicorn_tells_systemd_when_it_listens(database, redis_server, tmp_path):
    # systemd is not PID 1 here, so its notify socket is played by this test: a datagram
    # socket at $NOTIFY_SOCKET, as systemd gives a Type=notify service.
    unit = (REPO / "deploy" / "sungrow-server.service").read_text()
    assert re.search(r"^Type=notify$", unit, re.M)
    path = str(tmp_path / "notify")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(path)
    notify.settimeout(20)
    env = make_env(database, redis_server.url, NOTIFY_SOCKET=path, WORKERS="1")
    server = Gunicorn(env, tmp_path)
    try:
        message = notify.recv(4096).decode()
        assert "READY=1" in message.splitlines()
        # Ready means listening: a connection made now is served.
        status, _, _ = server.request("GET", "/health", timeout=15)
        assert status == 200
    finally:
        server.stop()
        notify.close()


def test_a_bad_configuration_stops_gunicorn_before_it_is_ready(tmp_path):
    # Under Type=notify, systemd then reports the start as failed.
    path = str(tmp_path / "notify")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(path)
    notify.setblocking(False)
    server = Gunicorn({"NOTIFY_SOCKET": path, "DEVICE_TOKENS": "a:b"}, tmp_path)
    try:
        assert server.process.wait(15) == 1
        with pytest.raises(BlockingIOError):
            notify.recv(4096)
    finally:
        server.stop()
        notify.close()


def shipped_units() -> list[Path]:
    return sorted(p for p in (REPO / "deploy").rglob("*") if p.suffix in UNIT_SUFFIXES)


def test_every_systemd_unit_passes_systemd_analyze_verify(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (scripts/install-deps --test installs it)")
    units = shipped_units()
    assert "sungrow-server.service" in [unit.name for unit in units]
    # Installed as the README says, in /opt/sungrow-server with its .venv: here the
    # paths of this checkout and of the .venv running the tests, so that verify finds
    # every command it would run.
    install = tmp_path / "opt"
    install.mkdir()
    for unit in units:
        text = unit.read_text()
        text = text.replace("/opt/sungrow-server/.venv/bin/", f"{Path(sys.executable).parent}/")
        (tmp_path / unit.name).write_text(text.replace("/opt/sungrow-server", str(install)))
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / unit.name) for unit in units)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_every_timer_starts_a_shipped_unit():
    units = {unit.name: unit for unit in shipped_units()}
    for name, path in units.items():
        if name.endswith(".timer"):
            started = re.search(r"^Unit=(\S+)$", path.read_text(), re.M)
            target = started.group(1) if started else name.removesuffix(".timer") + ".service"
            assert target in units, f"{name} starts {target}, which deploy/ does not ship"
