"""Where a series is read from: the coarsest rollup view whose buckets are exact for the
request, or raw samples."""

import time

from flask import Flask, current_app
from psycopg import Connection, errors

from ..model.localtime import same_hour_grid, truncate
from .request import RESOLUTIONS, SeriesRequest

EXTENSION = "sungrow.rollup_zone"


class RollupZone:
    """The zone the rollup views were built in (init-db records it), re-read every minute.

    A server whose TIMEZONE differs from it (changed, init-db not run again) answers
    from raw samples rather than from views bucketed in another zone.
    """

    TTL_S = 60.0

    def __init__(self):
        self._value: tuple[float, str | None] | None = None

    def get(self, conn: Connection) -> str | None:
        """The recorded zone, or None where there are no rollup views."""
        now = time.monotonic()
        if self._value is None or now - self._value[0] > self.TTL_S:
            try:
                row = conn.execute(
                    "SELECT value FROM sungrow_schema_state WHERE key = 'rollup_timezone'"
                ).fetchone()
            except errors.UndefinedTable:
                row = None
            self._value = (now, row[0] if row else None)
        return self._value[1]


def init_app(app: Flask) -> None:
    """One record of the rollup zone per app."""
    app.extensions[EXTENSION] = RollupZone()


def views_timezone(conn: Connection, site_timezone: str) -> str | None:
    """The zone of the rollup views if they can serve this server, else None: views built
    for another zone (TIMEZONE changed, init-db not run again) are not used."""
    built = current_app.extensions[EXTENSION].get(conn)
    return built if built == site_timezone else None


def usable_views(request: SeriesRequest, site_timezone: str | None) -> list[str]:
    """Rollup levels that give exact buckets for the request, coarsest first.

    A level serves when its buckets nest in the requested ones (same zone for days and
    months; the same local hour grid for hours) and the range starts and ends on its
    bucket boundaries, so no bucket holds data from outside the range.
    """
    if site_timezone is None:
        return []
    finest = RESOLUTIONS.index(request.resolution)
    levels = []
    for level in ("month", "day", "hour"):
        if RESOLUTIONS.index(level) > finest:
            continue
        if level == "hour":
            if not same_hour_grid(request.timezone, site_timezone, request.start or request.end):
                continue
        elif request.timezone != site_timezone:
            continue
        bounds = [b for b in (request.start, request.end) if b is not None]
        if all(truncate(b, level, site_timezone) == b for b in bounds):
            levels.append(level)
    return levels
