"""GET /v1/devices: the devices and sites the presented token can read."""

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Blueprint, Flask, current_app, g
from psycopg import Connection

from ..auth import READ_ONLY, get_token_store
from ..config import get_settings
from ..db.pool import get_pool
from ..ops.edges import edge_status
from ..realtime.cache import get_cache
from .query import last_times, stored_devices

bp = Blueprint("devices", __name__)
FIELDS = "sungrow.device_fields"

# (connection, device ids) -> {device id: extra fields of its entry}
FieldProvider = Callable[[Connection, list[str]], dict[str, dict]]


def init_app(app: Flask) -> None:
    """No extra device fields until a room registers some."""
    app.extensions.setdefault(FIELDS, [])


def register_device_fields(app: Flask, provider: FieldProvider) -> None:
    """Have every device entry of GET /v1/devices carry the fields `provider` gives."""
    app.extensions.setdefault(FIELDS, []).append(provider)


def readable(conn: Connection) -> tuple[list[str], dict[str, tuple[str, ...]]]:
    """The devices (sorted) and sites (with members) the token may read."""
    grant = g.grant
    if grant.role != READ_ONLY:
        return [g.device_id], {}
    if grant.all_devices:
        sites = dict(g.sites)
        devices = set(get_settings().device_tokens.values()) | stored_devices(conn)
        for other in get_token_store().snapshot().grants.values():
            devices |= other.devices
    else:
        sites = {site: g.sites[site] for site in grant.sites if site in g.sites}
        devices = set(grant.devices)
    for members in sites.values():
        devices.update(members)
    return sorted(devices), dict(sorted(sites.items()))


def device_entry(device_id: str, last: datetime | None, now: datetime, stale_after_s: int):
    """A device as GET /v1/devices lists it."""
    if last is None:
        return {"device_id": device_id, "last_ts": None, "age_s": None, "stale": True}
    age = round((now - last).total_seconds(), 1)
    return {
        "device_id": device_id,
        "last_ts": last.astimezone(UTC).isoformat(),
        "age_s": age,
        "stale": age > stale_after_s,
    }


@bp.get("/devices")
def list_devices():
    """Devices by id, each with its newest sample's time, whether it is stale and whether
    its edge is stuck on a refused batch; sites."""
    settings = get_settings()
    with get_pool().connection() as conn:
        devices, sites = readable(conn)
        times = last_times(conn, get_cache(), devices)
        # A stuck edge: its last refused batch, refusals since newer data, unknown fields.
        edges = edge_status(conn, devices, newest=times)
        extras = [provider(conn, devices) for provider in current_app.extensions[FIELDS]]
    now = datetime.now(UTC)
    entries = []
    for device_id in devices:
        entry = device_entry(device_id, times[device_id], now, settings.stale_after_s)
        entry.update(edges[device_id])
        for extra in extras:
            entry.update(extra.get(device_id, {}))
        entries.append(entry)
    return {
        "role": g.grant.role,
        "timezone": settings.timezone,
        "stale_after_s": settings.stale_after_s,
        "devices": entries,
        "sites": [{"site_id": site, "devices": list(members)} for site, members in sites.items()],
    }
