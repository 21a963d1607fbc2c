"""nginx running the shipped deploy/nginx.conf on free ports, in front of a test gunicorn:
the file as a user installs it, with only its ports, upstream, certificate and log paths
replaced (a self-signed certificate made here with openssl)."""

import grp
import http.client
import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

from .gunicorn import REPO
from .processes import free_port

SITE = REPO / "deploy" / "nginx.conf"


def nginx_binary() -> str | None:
    """$TEST_NGINX (to try another build), Debian's nginx (in /usr/sbin, off a user's PATH),
    or the one on PATH."""
    if os.environ.get("TEST_NGINX"):
        return os.environ["TEST_NGINX"]
    if os.access("/usr/sbin/nginx", os.X_OK):
        return "/usr/sbin/nginx"
    return shutil.which("nginx")


def ipv6_loopback() -> bool:
    """Whether ::1 can be listened on here."""
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, made with openssl."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=sungrow.test", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def render_site(text: str, replacements: dict[str, str]) -> str:
    """The site file with each pattern replaced; each must occur, so that a change to the
    shipped file that this harness no longer understands fails loudly."""
    for pattern, replacement in replacements.items():
        text, count = re.subn(pattern, replacement, text)
        if not count:
            raise AssertionError(f"deploy/nginx.conf no longer contains {pattern!r}")
    return text


class Nginx:
    """nginx in the foreground with a minimal main configuration that includes the site."""

    def __init__(self, workdir: Path, upstream_port: int, site: Path = SITE):
        self.binary = nginx_binary()
        self.dir = workdir
        self.http_port, self.https_port = free_port(), free_port()
        self.cert, self.key = self_signed(workdir)
        self.access_log = workdir / "access.log"
        self.error_log = workdir / "error.log"
        v6 = ipv6_loopback()
        listen = {  # the directives, not the comments that mention them
            r"(?m)^( *)listen 80;": rf"\1listen 127.0.0.1:{self.http_port};",
            r"(?m)^( *)listen \[::\]:80;": rf"\1listen [::1]:{self.http_port};" if v6 else "",
            r"(?m)^( *)listen 443 ": rf"\1listen 127.0.0.1:{self.https_port} ",
            r"(?m)^( *)listen \[::\]:443 (.*)$": rf"\1listen [::1]:{self.https_port} \2"
            if v6
            else "",
        }
        self.site = workdir / "sungrow-server.conf"
        self.site.write_text(
            render_site(
                site.read_text(),
                {
                    r"server 127\.0\.0\.1:8000;": f"server 127.0.0.1:{upstream_port};",
                    **listen,
                    r"/etc/letsencrypt/live/[^;]*/fullchain\.pem": str(self.cert),
                    r"/etc/letsencrypt/live/[^;]*/privkey\.pem": str(self.key),
                    r"/var/log/nginx/sungrow-server\.access\.log": str(self.access_log),
                },
            )
        )
        self.conf = workdir / "nginx.conf"
        self.conf.write_text(self._main_conf())
        self.process: subprocess.Popen | None = None

    def _main_conf(self) -> str:
        temp = self.dir / "temp"
        temp.mkdir(exist_ok=True)
        user = ""
        if os.geteuid() == 0:
            # Workers drop to nobody, as a packaged nginx drops to www-data; they write
            # buffered bodies to the temp directory.
            nobody = pwd.getpwnam("nobody")
            os.chown(temp, nobody.pw_uid, nobody.pw_gid)
            user = f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"
        paths = "\n".join(
            f"    {kind}_temp_path {temp / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        return (
            f"{user}\nworker_processes auto;\npid {self.dir / 'nginx.pid'};\n"
            f"error_log {self.error_log} info;\ndaemon off;\n"
            "events { worker_connections 768; }\n"
            f"http {{\n{paths}\n    access_log {self.dir / 'other-access.log'};\n"
            f"    include {self.site};\n}}\n"
        )

    def command(self, *args: str) -> list[str]:
        base = [self.binary, "-p", str(self.dir), "-c", str(self.conf), "-e", str(self.error_log)]
        return base + list(args)

    def check(self) -> subprocess.CompletedProcess:
        """`nginx -t` on the configuration: its exit status and what it printed."""
        return subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30)

    def start(self, timeout: float = 10) -> "Nginx":
        """Run nginx and wait until it accepts TLS connections."""
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                self.tls_socket(timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"nginx did not start:\n{self.error_log.read_text()[-3000:]}")

    def tls_context(self) -> ssl.SSLContext:
        """A client context that trusts the test certificate only."""
        return ssl.create_default_context(cafile=str(self.cert))

    def tls_socket(self, timeout: float, source: str = "127.0.0.1") -> ssl.SSLSocket:
        """A TLS connection to the HTTPS port, from `source` (any 127.0.0.0/8 address)."""
        raw = socket.create_connection(
            ("127.0.0.1", self.https_port), timeout=timeout, source_address=(source, 0)
        )
        return self.tls_context().wrap_socket(raw, server_hostname="127.0.0.1")

    def request(self, method, path, body=None, headers=None, timeout=10, source="127.0.0.1"):
        """One request over HTTPS on a new connection: status, headers and body."""
        conn = http.client.HTTPSConnection(
            "127.0.0.1",
            self.https_port,
            timeout=timeout,
            source_address=(source, 0),
            context=self.tls_context(),
        )
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop nginx (a fast shutdown: the tests' connections may still be open)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
