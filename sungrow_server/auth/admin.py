"""The rows of sungrow_tokens as the CLI manages them: make, list, revoke."""

from dataclasses import dataclass
from datetime import datetime

from psycopg import Connection

from .grants import DEVICE, READ_ONLY, Grant
from .tokens import new_token, stored_digest

INSERT = """
INSERT INTO sungrow_tokens (digest, role, devices, sites, all_devices, label)
VALUES (%s, %s, %s, %s, %s, %s) RETURNING id
"""
LIST = """
SELECT id, role, devices, sites, all_devices, label, created_at, last_used_at, revoked_at
FROM sungrow_tokens WHERE %s OR revoked_at IS NULL ORDER BY id
"""
REVOKE = """
UPDATE sungrow_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s
RETURNING revoked_at < now()
"""


@dataclass(frozen=True)
class TokenRow:
    """A token as `token list` shows it: never the token itself, which is not kept."""

    token_id: int
    grant: Grant
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def create_token(conn: Connection, grant: Grant, label: str) -> tuple[int, str]:
    """Store a new token with this role and scope; its id and its text (shown once)."""
    token = new_token()
    row = conn.execute(
        INSERT,
        (
            stored_digest(token),
            grant.role,
            sorted(grant.devices),
            sorted(grant.sites),
            grant.all_devices,
            label,
        ),
    ).fetchone()
    return row[0], token


def list_tokens(conn: Connection, revoked: bool = False) -> list[TokenRow]:
    """The tokens, oldest first; revoked ones too if asked."""
    rows = conn.execute(LIST, (revoked,)).fetchall()
    return [
        TokenRow(
            token_id,
            Grant(role, frozenset(devices), frozenset(sites), all_devices, token_id),
            label,
            created,
            used,
            revoked_at,
        )
        for token_id, role, devices, sites, all_devices, label, created, used, revoked_at in rows
    ]


def revoke_token(conn: Connection, token_id: int) -> bool | None:
    """Revoke a token: True if done now, False if it was already revoked, None if unknown."""
    row = conn.execute(REVOKE, (token_id,)).fetchone()
    return None if row is None else not row[0]


def token_grant(
    devices: tuple[str, ...], sites: tuple[str, ...], all_devices: bool, read_only: bool
) -> Grant:
    """The grant `token create` asks for; ValueError says what is wrong with the options."""
    if all_devices and (devices or sites):
        raise ValueError("--all already covers every device and site: drop --device and --site.")
    if not (all_devices or devices or sites):
        raise ValueError("Give the token a scope: --device ID, --site ID or --all.")
    if not read_only:
        if all_devices or sites:
            raise ValueError("A token for a site or for all devices only reads: add --read-only.")
        if len(devices) != 1:
            raise ValueError(
                "A token that writes is bound to one device: give one --device, or add --read-only."
            )
        return Grant.for_device(devices[0])
    return Grant(READ_ONLY, frozenset(devices), frozenset(sites), all_devices)


ROLE_WORDS = {DEVICE: "device (writes and reads)", READ_ONLY: "read-only"}
