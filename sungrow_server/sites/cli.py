"""`flask --app sungrow_server site create|add-device|remove-device|delete|list`."""

import click
from flask.cli import AppGroup

from ..db.cli import command_connection
from .queries import (
    SITE_ID,
    SiteError,
    add_devices,
    create_site,
    delete_site,
    list_sites,
    remove_devices,
)

site_group = AppGroup("site", help="Sites: several devices read as one.")


def _site_id(ctx, param, value: str) -> str:
    if not SITE_ID.fullmatch(value):
        raise click.BadParameter(
            "a site id is 1 to 64 letters, digits and . _ : - (starting with a letter or digit)"
        )
    return value


def _devices(ctx, param, values: tuple[str, ...]) -> list[str]:
    devices = [value.strip() for value in values]
    if not all(devices):
        raise click.BadParameter("a device id cannot be empty")
    return sorted(set(devices))


def _run(action, *args):
    with command_connection() as conn:
        try:
            return action(conn, *args)
        except SiteError as exc:
            raise click.ClickException(str(exc)) from None


@site_group.command("create")
@click.argument("site_id", callback=_site_id)
@click.option(
    "--device", "devices", multiple=True, required=True, callback=_devices, help="Repeatable."
)
def create_command(site_id: str, devices: list[str]):
    """Make a site of these devices."""
    _run(create_site, site_id, devices)
    click.echo(f"Site {site_id}: {', '.join(devices)}.")


@site_group.command("add-device")
@click.argument("site_id", callback=_site_id)
@click.argument("devices", nargs=-1, required=True, callback=_devices)
def add_device_command(site_id: str, devices: list[str]):
    """Add devices to a site."""
    added = _run(add_devices, site_id, devices)
    click.echo(f"Site {site_id}: {added} device{'' if added == 1 else 's'} added.")


@site_group.command("remove-device")
@click.argument("site_id", callback=_site_id)
@click.argument("devices", nargs=-1, required=True, callback=_devices)
def remove_device_command(site_id: str, devices: list[str]):
    """Take devices out of a site (their data stays)."""
    _run(remove_devices, site_id, devices)
    click.echo(f"Site {site_id}: removed {', '.join(devices)}.")


@site_group.command("delete")
@click.argument("site_id", callback=_site_id)
def delete_command(site_id: str):
    """Delete a site (its devices and their data stay)."""
    _run(delete_site, site_id)
    click.echo(f"Site {site_id} deleted.")


@site_group.command("list")
def list_command():
    """Every site and its devices."""
    sites = _run(list_sites)
    if not sites:
        click.echo("No sites (make one with: site create ID --device A --device B).")
    for site_id, devices in sites.items():
        click.echo(f"{site_id}: {', '.join(devices) or '(no devices)'}")
