"""The app's commands, for `flask --app sungrow_server COMMAND` and `sungrow-server COMMAND`."""

from flask import Flask

from .auth.cli import token_group
from .db.cli import init_db_command, refresh_aggregates_command
from .ops.cli import alerts_command, doctor_command
from .sites.cli import site_group
from .transfer.cli import backup_command, export_command, import_command, restore_command


def register_commands(app: Flask) -> None:
    """Make every room's commands available on the app's command line."""
    app.cli.add_command(init_db_command)
    app.cli.add_command(refresh_aggregates_command)
    app.cli.add_command(token_group)
    app.cli.add_command(site_group)
    app.cli.add_command(export_command)
    app.cli.add_command(import_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(alerts_command)
    app.cli.add_command(doctor_command)
