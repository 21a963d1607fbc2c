"""The commands `export`, `import`, `backup` and `restore`."""

import os
import sys
import time
from datetime import datetime
from pathlib import Path

import click
import psycopg
from flask.cli import with_appcontext

from ..config import get_settings
from ..config.parsers import redact_url
from ..db.aggregates import views_present
from ..db.cli import Instant
from ..ingest.write import create_stage
from ..realtime.cache import get_cache
from ..realtime.latest import latest_sample
from . import backup as backups
from .exporting import Selection, count_samples, write_samples
from .formats import FORMATS
from .importing import Imported, ImportStopped, heal_rollups, import_samples
from .opening import open_samples
from .pg_client import ProgramFailed
from .progress import on_terminal, progress_bar


def _connect(database_url: str) -> psycopg.Connection:
    # Timestamps come back in UTC, as every file writes them.
    return psycopg.connect(database_url, autocommit=True, options="-c TimeZone=UTC -c jit=off")


def _database_error(exc: psycopg.Error) -> click.ClickException:
    return click.ClickException(f"database error: {type(exc).__name__}: {exc}".strip())


@click.command("export")
@click.option("--device", "device_id", help="The device to export (default: every device).")
@click.option("--from", "start", type=Instant(), help="Start (UTC unless an offset is given).")
@click.option("--to", "end", type=Instant(), help="End, exclusive.")
@click.option("--format", "format_", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@with_appcontext
def export_command(device_id: str | None, start: datetime | None, end: datetime | None, format_):
    """Write raw samples to standard output, for `import` (redirect it: > FILE)."""
    out = sys.stdout.buffer
    if on_terminal(out):
        raise click.UsageError("export writes to standard output: redirect it to a file (> FILE)")
    selection = Selection(device_id, start, end)
    started = time.perf_counter()
    try:
        with _connect(get_settings().database_url) as conn:
            total = count_samples(conn, selection) if on_terminal(sys.stderr) else None
            with progress_bar(total, "samples") as bar:
                written = write_samples(conn, selection, out, format_, bar)
    except psycopg.Error as exc:
        raise _database_error(exc) from None
    except BrokenPipeError:
        # The reader stopped early (`export | head`): nothing more to say, and nothing more
        # for Python to flush into the closed pipe at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        sys.exit(1)
    except OSError as exc:
        raise click.ClickException(f"cannot write the samples: {exc.strerror or exc}") from None
    if on_terminal(sys.stderr):
        click.echo(f"Exported {written:,} samples in {_seconds(started)}.", err=True)


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--device", "device_id", help="Store every sample as this device.")
@with_appcontext
def import_command(file: str, device_id: str | None):
    """Store the samples of FILE (from `export`, JSON Lines or CSV, gzip allowed; - for
    standard input) as POST /v1/ingest would: repeats are skipped, so running it again is
    safe."""
    settings = get_settings()
    started = time.perf_counter()
    imported = stored = Imported()
    try:
        with open_samples(file) as (lines, position, size), _connect(settings.database_url) as conn:
            create_stage(conn)
            with progress_bar(size, "B") as bar:

                def advance(done: Imported) -> None:
                    nonlocal stored
                    stored = done
                    bar.update(position() - bar.n)
                    rate = done.samples / max(time.perf_counter() - started, 1e-9)
                    bar.set_postfix_str(f"{done.samples:,} samples, {rate:,.0f}/s", refresh=False)

                try:
                    imported = import_samples(
                        conn, lines, settings.timezone, device_id, on_chunk=advance
                    )
                except ImportStopped as stopped:
                    imported = stopped.imported
                    _after_import(conn, imported)
                    raise click.ClickException(_stopped(stopped)) from None
            healed = _after_import(conn, imported)
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror or exc}") from None
    except psycopg.Error as exc:
        where = f"lines 1-{stored.lines} are stored" if stored.lines else "nothing was stored"
        raise click.ClickException(
            f"{_database_error(exc).message} ({where}; importing again is safe)"
        ) from None
    devices = ", ".join(sorted(imported.devices)) or "no device"
    click.echo(
        f"Imported {imported.samples:,} samples of {devices} from {file} in "
        f"{_seconds(started)}: {imported.inserted:,} new, "
        f"{imported.samples - imported.inserted:,} already stored.{healed}"
    )


def _after_import(conn: psycopg.Connection, imported: Imported) -> str:
    """Rollups healed and the realtime cache offered each device's newest sample, as after
    an ingest; a sentence for the summary."""
    if not imported.inserted:
        return ""
    for device, inserted in imported.devices.items():
        newest = latest_sample(conn, device) if inserted else None
        if newest is not None:
            get_cache().offer(newest)
    if not _continuous_aggregates(conn):
        return ""
    if on_terminal(sys.stderr):
        click.echo("Refreshing the rollups over the imported range...", err=True)
    start, end = heal_rollups(conn, imported)
    return f" Rollups refreshed from {start:%Y-%m-%d} to {end:%Y-%m-%d}."


def _continuous_aggregates(conn: psycopg.Connection) -> bool:
    """Whether the rollup views are continuous aggregates this edition can refresh (read
    without creating the extension, as init-db's detection would)."""
    if not views_present(conn):
        return False
    license_ = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()[0]
    return license_ == "timescale"


def _stopped(stopped: ImportStopped) -> str:
    done, bad = stopped.imported, stopped.bad
    before = (
        f"lines 1-{done.lines} are stored ({done.inserted:,} new samples)"
        if done.lines
        else "nothing was stored"
    )
    return (
        f"line {bad.number}: {bad.message}. Import stopped: {before}; nothing from line "
        f"{done.lines + 1} on. Fix the line and import the file again: stored samples are "
        "skipped."
    )


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@with_appcontext
def backup_command(file: Path):
    """Back up the whole database into FILE (pg_dump's custom format)."""
    url = get_settings().database_url
    started = time.perf_counter()
    try:
        with progress_bar(None, "B") as bar:
            warnings = backups.dump(url, file, bar)
    except ProgramFailed as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {file}: {exc.strerror or exc}") from None
    if warnings:
        click.echo(warnings, err=True)
    click.echo(
        f"Backed up {redact_url(url)} to {file} ({file.stat().st_size / 2**20:,.1f} MiB) in "
        f"{_seconds(started)}. Restore it with: flask --app sungrow_server restore {file}"
    )


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def restore_command(file: Path):
    """Restore a backup made by `backup` into the empty database of DATABASE_URL."""
    url = get_settings().database_url
    started = time.perf_counter()
    try:
        with progress_bar(file.stat().st_size, "B") as bar:
            version = backups.restore(url, file, bar)
    except (ProgramFailed, backups.RestoreRefused) as exc:
        raise click.ClickException(str(exc)) from None
    except psycopg.Error as exc:
        raise _database_error(exc) from None
    with_timescaledb = f" (TimescaleDB {version})" if version else ""
    click.echo(
        f"Restored {file}{with_timescaledb} into {redact_url(url)} in {_seconds(started)}. "
        "Run flask --app sungrow_server init-db next (it upgrades the schema if this server "
        "is newer than the backup)."
    )


def _seconds(started: float) -> str:
    return f"{time.perf_counter() - started:.1f} s"
