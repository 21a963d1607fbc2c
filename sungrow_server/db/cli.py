"""The database commands: `flask --app sungrow_server init-db` and `refresh-aggregates`."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click
import psycopg
from flask.cli import with_appcontext
from psycopg import Connection, errors

from ..config import get_settings
from .aggregates import refresh_aggregates, views_present
from .capabilities import detect
from .initdb import apply_schema
from .reader_role import ROLE_NAME
from .rollup_health import record_refresh, refresh_invalidated


def _say(line: str) -> None:
    click.echo(line, err=line.startswith("WARNING"))


def _database_error(exc: psycopg.Error) -> click.ClickException:
    message = get_settings().redact(f"database error: {type(exc).__name__}: {exc}")
    return click.ClickException(message.strip())


@contextmanager
def command_connection() -> Iterator[Connection]:
    """A connection for a command (autocommit); a database error ends it with one line."""
    try:
        with psycopg.connect(get_settings().database_url, autocommit=True) as conn:
            yield conn
    except errors.UndefinedTable:
        raise click.ClickException(
            "the schema is older than this command: run flask --app sungrow_server init-db"
        ) from None
    except psycopg.Error as exc:
        raise _database_error(exc) from None


def _role_name(ctx, param, value: str | None) -> str | None:
    if value is not None and not ROLE_NAME.fullmatch(value):
        raise click.BadParameter("a role name is lower-case letters, digits and _")
    return value


@click.command("init-db")
@click.option(
    "--grafana-role",
    "reader_role",
    metavar="NAME",
    callback=_role_name,
    help="Also make (or keep) a role that reads samples, rollups and sites and nothing "
    "else, for Grafana; later runs keep granting it.",
)
@with_appcontext
def init_db_command(reader_role: str | None):
    """Create the schema, or upgrade it in place; safe to run again."""
    settings = get_settings()
    try:
        apply_schema(settings.database_url, settings.timezone, _say, reader_role)
    except psycopg.Error as exc:
        raise _database_error(exc) from None


class Instant(click.ParamType):
    """An ISO 8601 date or timestamp; without an offset it is UTC."""

    name = "timestamp"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 timestamp", param, ctx)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@click.command("refresh-aggregates")
@click.option("--from", "start", type=Instant(), help="Start (UTC unless an offset is given).")
@click.option("--to", "end", type=Instant(), help="End, exclusive.")
@click.option(
    "--invalidated",
    is_flag=True,
    help="Only what TimescaleDB recorded as changed since it was materialised "
    "(cheap when nothing changed; sungrow-refresh-aggregates.timer runs this).",
)
@with_appcontext
def refresh_aggregates_command(start: datetime | None, end: datetime | None, invalidated: bool):
    """Materialise the continuous aggregates now (for example after a backfill)."""
    if invalidated and (start or end):
        raise click.UsageError("--invalidated takes no --from/--to.")
    settings = get_settings()
    try:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            caps = detect(conn)
            if not caps.continuous_aggregates or not views_present(conn):
                if not invalidated:  # the timer's runs stay quiet where there is nothing to do
                    click.echo("No continuous aggregates here: /v1/series reads raw samples.")
                return
            if invalidated:
                refresh_invalidated(conn, click.echo)
                return
            refresh_aggregates(conn, start, end)
            if start is None and end is None:
                record_refresh(conn)
    except psycopg.Error as exc:
        raise _database_error(exc) from None
    click.echo("Refreshed sungrow_hourly, sungrow_daily and sungrow_monthly.")
