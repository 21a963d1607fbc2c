"""Which devices have stored data, and when each last reported."""

from datetime import datetime

from psycopg import Connection

from ..realtime.cache import RealtimeCache
from ..realtime.latest import latest_sample

# Distinct devices by a loose index scan: one descent of the (device_id, ts) index per
# device, instead of reading every row as SELECT DISTINCT would.
STORED_DEVICES = """
WITH RECURSIVE found AS (
    (SELECT device_id FROM sungrow_samples ORDER BY device_id LIMIT 1)
    UNION ALL
    SELECT (SELECT s.device_id FROM sungrow_samples s WHERE s.device_id > found.device_id
            ORDER BY s.device_id LIMIT 1)
    FROM found WHERE found.device_id IS NOT NULL
)
SELECT device_id FROM found WHERE device_id IS NOT NULL
"""


def stored_devices(conn: Connection) -> set[str]:
    """Every device with at least one stored sample."""
    return {row[0] for row in conn.execute(STORED_DEVICES).fetchall()}


def last_times(
    conn: Connection, cache: RealtimeCache, device_ids: list[str]
) -> dict[str, datetime | None]:
    """The newest sample's time of each device (None: no data): from the realtime cache in
    one round trip, from PostgreSQL for the devices it does not hold."""
    cached = cache.get_many(device_ids)
    times = {}
    for device_id, sample in zip(device_ids, cached, strict=True):
        if sample is not None:
            times[device_id] = datetime.fromisoformat(sample["ts"])
            continue
        stored = latest_sample(conn, device_id)
        times[device_id] = stored["ts"] if stored else None
    return times
