"""`backup` and `restore`: the whole database with pg_dump and pg_restore, in TimescaleDB's
documented way where it is present: the extension created in the new database at the
version of the backup, then `timescaledb_pre_restore()`, `pg_restore`,
`timescaledb_post_restore()`."""

import os
import re
import subprocess
from pathlib import Path

import psycopg
from psycopg import Connection, sql

from ..db.capabilities import preloaded_libraries
from .pg_client import ProgramFailed, connection, program, run, tail

_VERSION = re.compile(r"^timescaledb_version\t(\S+)\t", re.MULTILINE)


class RestoreRefused(Exception):
    """The database cannot take this backup; nothing was changed."""


def dump(database_url: str, target: Path, progress=None) -> str:
    """pg_dump's custom format of the whole database into `target`, written beside it
    first and moved into place once complete; pg_dump's remaining warnings."""
    conninfo, env = connection(database_url)
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("wb") as out:
            command = [program("pg_dump"), "--format=custom", "--dbname", conninfo]
            warnings = run(
                command, env, None, out, progress, lambda: os.fstat(out.fileno()).st_size
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return warnings


def dumped_timescaledb(source: Path, database_url: str) -> str | None:
    """The TimescaleDB version a backup was made with, or None for a backup without it.
    ProgramFailed if the file is not a pg_dump archive."""
    _, env = connection(database_url)
    command = [program("pg_restore"), "--file=-", "--data-only"]
    command += ["--schema=_timescaledb_catalog", "--table=metadata", str(source)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ProgramFailed(f"{source} is not a backup made by pg_dump: {tail(done.stderr)}")
    found = _VERSION.search(done.stdout)
    return found.group(1) if found else None


def restore(database_url: str, source: Path, progress=None) -> str | None:
    """Restore a backup into the (empty) database of `database_url`; the TimescaleDB
    version of the backup, or None. The restore is one transaction: a failed one leaves
    nothing behind. Restored objects belong to the user of `database_url`."""
    version = dumped_timescaledb(source, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        _check_empty(conn)
        if version is not None:
            _prepare_timescaledb(conn, version)
    conninfo, env = connection(database_url)
    command = [program("pg_restore"), "--single-transaction", "--no-owner", "--no-privileges"]
    command += ["--dbname", conninfo]
    try:
        with source.open("rb") as archive:
            # pg_restore reads the archive from its standard input, which shares the
            # file offset with `archive`: how far it has read is where the offset stands.
            fd = archive.fileno()
            run(command, env, archive, None, progress, lambda: os.lseek(fd, 0, os.SEEK_CUR))
    finally:
        if version is not None:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute("SELECT timescaledb_post_restore()")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ANALYZE")  # pg_restore leaves the planner without statistics
    return version


def _check_empty(conn: Connection) -> None:
    found = conn.execute(
        "SELECT to_regclass('sungrow_samples') IS NOT NULL "
        "OR to_regclass('sungrow_schema_state') IS NOT NULL"
    ).fetchone()[0]
    if found:
        name = conn.info.dbname
        raise RestoreRefused(
            f"database {name!r} already holds sungrow-server's tables: restore into a new, "
            "empty database (createdb NAME, and DATABASE_URL naming it)"
        )


def _prepare_timescaledb(conn: Connection, version: str) -> None:
    """The extension at the backup's version, in restoring mode, or RestoreRefused."""
    setting = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()[0]
    if "timescaledb" not in preloaded_libraries(setting):
        raise RestoreRefused(
            f"the backup holds TimescaleDB {version} data, and this PostgreSQL does not load "
            "TimescaleDB: install it, add shared_preload_libraries = 'timescaledb' to "
            "postgresql.conf, restart PostgreSQL and restore again"
        )
    versions = [
        row[0]
        for row in conn.execute(
            "SELECT version FROM pg_available_extension_versions WHERE name = 'timescaledb'"
        )
    ]
    installed = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()
    if version not in versions or (installed and installed[0] != version):
        have = installed[0] if installed else ", ".join(sorted(versions)) or "none"
        raise RestoreRefused(
            f"the backup was made with TimescaleDB {version}, and a restore needs that same "
            f"version (here: {have}). Install TimescaleDB {version} beside it, restore, then "
            "update with ALTER EXTENSION timescaledb UPDATE"
        )
    conn.execute(
        sql.SQL("CREATE EXTENSION IF NOT EXISTS timescaledb VERSION {}").format(
            sql.Literal(version)
        )
    )
    conn.execute("SELECT timescaledb_pre_restore()")
