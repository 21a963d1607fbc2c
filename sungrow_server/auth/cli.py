"""`flask --app sungrow_server token create|list|revoke`: tokens kept in the database."""

from datetime import UTC, datetime

import click
from flask.cli import AppGroup

from ..config import get_settings
from ..db.cli import command_connection
from ..sites.queries import hold_sites
from .admin import ROLE_WORDS, create_token, list_tokens, revoke_token, token_grant
from .store import TokenStore

token_group = AppGroup("token", help="Bearer tokens kept in the database (only as hashes).")


def _ids(ctx, param, values: tuple[str, ...]) -> tuple[str, ...]:
    ids = tuple(sorted({value.strip() for value in values}))
    if "" in ids:
        raise click.BadParameter("an id cannot be empty")
    return ids


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


@token_group.command("create")
@click.option("--device", "devices", multiple=True, callback=_ids, help="A device (repeatable).")
@click.option("--site", "sites", multiple=True, callback=_ids, help="A site (repeatable).")
@click.option("--all", "all_devices", is_flag=True, help="Every device and site.")
@click.option("--read-only", is_flag=True, help="Reads only (needed for --site and --all).")
@click.option("--label", default="", help="Who or what holds it, for token list.")
def create_command(devices, sites, all_devices: bool, read_only: bool, label: str):
    """Make a token and print it once (only its hash is kept).

    The token alone goes to standard output, so `TOKEN=$(... token create ...)` works; what
    it may do goes to standard error.
    """
    try:
        grant = token_grant(devices, sites, all_devices, read_only)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    label = " ".join(label.split())
    if len(label) > 200:
        raise click.BadParameter("at most 200 characters", param_hint="--label")
    with command_connection() as conn, conn.transaction():
        missing = hold_sites(conn, sorted(grant.sites))
        if missing:
            raise click.ClickException(f"No site {', '.join(missing)} (see: site list).")
        token_id, token = create_token(conn, grant, label)
    click.echo(token)
    click.echo(
        f"Token {token_id}: {ROLE_WORDS[grant.role]}, {grant.scope_text()}"
        f"{f', label {label!r}' if label else ''}. It is shown only this once; "
        f"it works on every worker within {TokenStore.EFFECT_S} s.",
        err=True,
    )


@token_group.command("list")
@click.option("--revoked", is_flag=True, help="List revoked tokens too.")
def list_command(revoked: bool):
    """The tokens: id, role, scope, label, created, last used. Never the token."""
    with command_connection() as conn:
        rows = list_tokens(conn, revoked)
    header = ["ID", "ROLE", "SCOPE", "LABEL", "CREATED", "LAST USED"]
    table = [
        [
            str(row.token_id),
            row.grant.role,
            row.grant.scope_text(),
            row.label or "-",
            _when(row.created_at),
            _when(row.last_used_at),
        ]
        + ([_when(row.revoked_at)] if revoked else [])
        for row in rows
    ]
    if revoked:
        header.append("REVOKED")
    if table:
        widths = [max(len(line[i]) for line in [header, *table]) for i in range(len(header))]
        for line in [header, *table]:
            click.echo(
                "  ".join(
                    cell.ljust(width) for cell, width in zip(line, widths, strict=True)
                ).rstrip()
            )
    else:
        click.echo("No tokens in the database (make one with: token create).")
    devices = sorted(set(get_settings().device_tokens.values()))
    click.echo(
        f"DEVICE_TOKENS (set in the environment) holds {len(devices)} device "
        f"token{'' if len(devices) == 1 else 's'}: {', '.join(devices)}."
    )


@token_group.command("revoke")
@click.argument("token_id", type=click.IntRange(min=1))
def revoke_command(token_id: int):
    """Revoke a token: every worker refuses it within a few seconds."""
    with command_connection() as conn:
        done = revoke_token(conn, token_id)
    if done is None:
        raise click.ClickException(f"No token {token_id}.")
    if not done:
        click.echo(f"Token {token_id} was revoked already.")
        return
    click.echo(f"Token {token_id} revoked: every worker refuses it within {TokenStore.EFFECT_S} s.")
