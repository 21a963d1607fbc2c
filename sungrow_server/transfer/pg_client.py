"""PostgreSQL's client programs (pg_dump, pg_restore) run for `backup` and `restore`.

The password of DATABASE_URL goes to the programs in their environment (PGPASSWORD),
never on their command line, where any user of the machine could read it.
"""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from psycopg.conninfo import conninfo_to_dict, make_conninfo

# pg_dump warns about the foreign keys that TimescaleDB's own catalog tables have on
# each other; TimescaleDB documents the warning as expected and harmless.
_CATALOG_WARNING = "circular foreign-key constraints"


class ProgramFailed(Exception):
    """pg_dump or pg_restore failed (or is missing); the message says what it printed."""


def program(name: str) -> str:
    """The path of a PostgreSQL client program: on PATH, else the newest installed."""
    found = shutil.which(name)
    if found:
        return found
    installed = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3])
    )
    if installed:
        return str(installed[-1])
    raise ProgramFailed(f"{name} is not installed (Debian: apt-get install postgresql-client)")


def connection(database_url: str) -> tuple[str, dict[str, str]]:
    """A conninfo string without the password, and the environment that carries it."""
    params = conninfo_to_dict(database_url)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = password
    return make_conninfo(**params), env


def run(
    command: list[str],
    env: dict[str, str],
    stdin: IO[bytes] | None,
    stdout: IO[bytes] | None,
    progress=None,
    position: Callable[[], int] | None = None,
) -> str:
    """Run a client program, advancing `progress` to `position()` twice a second; its
    standard error (less the expected catalog warnings). ProgramFailed if it fails."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdin=stdin, stdout=stdout, stderr=errors, env=env)
        while True:
            try:
                process.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if progress is not None and position is not None:
                    progress.update(position() - progress.n)
        errors.seek(0)
        text = _without_catalog_warnings(errors.read().decode(errors="replace"))
    if process.returncode != 0:
        name = Path(command[0]).name
        raise ProgramFailed(f"{name} failed (exit {process.returncode}): {tail(text)}")
    return text


def _without_catalog_warnings(text: str) -> str:
    kept, skipping = [], False
    for line in text.splitlines():
        if _CATALOG_WARNING in line:
            skipping = True
            continue
        if skipping and (": detail:" in line or ": hint:" in line):
            continue
        skipping = False
        kept.append(line)
    return "\n".join(kept)


def tail(text: str, lines: int = 5) -> str:
    return " / ".join(line.strip() for line in text.strip().splitlines()[-lines:]) or "no output"
