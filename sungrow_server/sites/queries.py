"""The rows of sungrow_sites and sungrow_site_devices."""

import re

from psycopg import Connection, errors

# Site ids go into URLs (`?site_id=`) and file names: letters, digits and . _ : -
SITE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")

LIST = """
SELECT s.site_id, array_remove(array_agg(d.device_id ORDER BY d.device_id), NULL)
FROM sungrow_sites s LEFT JOIN sungrow_site_devices d USING (site_id)
GROUP BY s.site_id ORDER BY s.site_id
"""
ADD = """
INSERT INTO sungrow_site_devices (site_id, device_id) SELECT %s, unnest(%s::text[])
ON CONFLICT DO NOTHING
"""
TOKENS_OF_SITE = """
SELECT id FROM sungrow_tokens WHERE %s = ANY(sites) AND revoked_at IS NULL ORDER BY id
"""


class SiteError(Exception):
    """A site command that cannot be done, with the sentence that says why."""


def list_sites(conn: Connection) -> dict[str, list[str]]:
    """Every site and its devices, by site id."""
    return dict(conn.execute(LIST).fetchall())


def hold_sites(conn: Connection, site_ids: list[str]) -> list[str]:
    """Lock these sites against deletion until the transaction ends; those that do not exist."""
    found = conn.execute(
        "SELECT site_id FROM sungrow_sites WHERE site_id = ANY(%s) FOR SHARE", (site_ids,)
    ).fetchall()
    return sorted(set(site_ids) - {row[0] for row in found})


def create_site(conn: Connection, site_id: str, devices: list[str]) -> None:
    """A new site with these devices."""
    with conn.transaction():
        try:
            conn.execute("INSERT INTO sungrow_sites (site_id) VALUES (%s)", (site_id,))
        except errors.UniqueViolation:
            raise SiteError(
                f"Site '{site_id}' exists already; add devices with site add-device."
            ) from None
        conn.execute(ADD, (site_id, devices))


def add_devices(conn: Connection, site_id: str, devices: list[str]) -> int:
    """Add devices to a site; how many were not in it yet."""
    with conn.transaction():
        _lock_site(conn, site_id)
        return conn.execute(ADD, (site_id, devices)).rowcount


def remove_devices(conn: Connection, site_id: str, devices: list[str]) -> None:
    """Take devices out of a site; each must be in it."""
    with conn.transaction():
        _lock_site(conn, site_id)
        removed = conn.execute(
            "DELETE FROM sungrow_site_devices WHERE site_id = %s AND device_id = ANY(%s) "
            "RETURNING device_id",
            (site_id, devices),
        ).fetchall()
        missing = sorted(set(devices) - {row[0] for row in removed})
        if missing:
            raise SiteError(f"Site '{site_id}' has no device {', '.join(missing)}.")


def delete_site(conn: Connection, site_id: str) -> None:
    """Delete a site, unless a token that is not revoked reads it."""
    with conn.transaction():
        _lock_site(conn, site_id)
        tokens = [row[0] for row in conn.execute(TOKENS_OF_SITE, (site_id,)).fetchall()]
        if tokens:
            ids = ", ".join(str(t) for t in tokens)
            raise SiteError(
                f"Site '{site_id}' is in the scope of token {ids}: revoke "
                f"{'it' if len(tokens) == 1 else 'them'} first (token revoke ID), so that a "
                "site made later with the same id is not readable with an old token."
            )
        conn.execute("DELETE FROM sungrow_sites WHERE site_id = %s", (site_id,))


def _lock_site(conn: Connection, site_id: str) -> None:
    found = conn.execute(
        "SELECT 1 FROM sungrow_sites WHERE site_id = %s FOR UPDATE", (site_id,)
    ).fetchone()
    if found is None:
        raise SiteError(f"No site '{site_id}'.")
