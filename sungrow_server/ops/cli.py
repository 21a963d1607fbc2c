"""The operations commands: `flask --app sungrow_server alerts` and `doctor`."""

from pathlib import Path

import click
import psycopg
from flask.cli import with_appcontext

from ..config import get_settings
from . import alerts, doctor


@click.command("alerts")
@with_appcontext
def alerts_command():
    """Send a webhook message for each device that went stale, had a batch refused or
    recovered since the last run (sungrow-alerts.timer runs this each minute)."""
    settings = get_settings()
    if not settings.alert_webhook_url:
        click.echo("ALERT_WEBHOOK_URL is not set: no alerts to send.")
        return
    try:
        failed = alerts.run(settings, click.echo)
    except psycopg.Error as exc:
        raise click.ClickException(f"database error: {type(exc).__name__}") from None
    if failed:
        raise click.ClickException(f"{failed} device(s) could not be alerted; next run retries")


@click.command("doctor")
@click.option(
    "--nginx",
    "nginx",
    type=click.Path(path_type=Path),
    help="The site's nginx file, to compare client_max_body_size with MAX_REQUEST_BYTES.",
)
@click.option("--fix", is_flag=True, help="Turn on the rollup refresh timer where policies fail.")
@with_appcontext
def doctor_command(nginx: Path | None, fix: bool):
    """Check this deployment; print each problem with its fix; exit 1 if there is any."""
    settings = get_settings()
    report = doctor.Report()
    doctor.check_database(settings, report)
    doctor.check_redis(settings, report)
    if nginx is not None:
        doctor.check_nginx(nginx, settings.max_request_bytes, report)
    for line in report.ok:
        click.echo(f"ok       {line}")
    for problem, fix_text in report.problems:
        click.echo(f"PROBLEM  {problem}\n         fix: {fix_text}")
    if fix and report.policies_fail:
        doctor.enable_timer(click.echo)
    if report.problems:
        raise SystemExit(1)
    click.echo("No problems found.")
