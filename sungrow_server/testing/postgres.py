"""Throwaway PostgreSQL clusters in temporary directories, on free ports."""

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from .processes import free_port


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
    raise RuntimeError("no PostgreSQL server found; run scripts/install-deps")


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
