"""Queries on sungrow_samples: the batch insert and the newest sample of a device."""

from psycopg import Connection
from psycopg.rows import dict_row

MEASUREMENTS = (
    "pv_power_w",
    "pv_daily_kwh",
    "battery_power_w",
    "battery_soc_pct",
    "battery_temp_c",
    "load_power_w",
    "export_power_w",
)
COLUMNS = ("device_id", "ts", *MEASUREMENTS, "sample_count")

# One statement, one round trip: the batch travels as one array per column and
# ON CONFLICT skips rows already stored (also a repeat inside the same batch).
INSERT_BATCH = f"""
INSERT INTO sungrow_samples ({", ".join(COLUMNS)})
SELECT %s, * FROM unnest(
    %s::timestamptz[], {", ".join(["%s::float8[]"] * len(MEASUREMENTS))}, %s::int4[]
)
ON CONFLICT (device_id, ts) DO NOTHING
"""

LATEST = f"""
SELECT {", ".join(COLUMNS)} FROM sungrow_samples
WHERE device_id = %s ORDER BY ts DESC LIMIT 1
"""


def insert_samples(conn: Connection, device_id: str, samples: list[dict]) -> int:
    """Insert one device's samples in the caller's transaction; the number of rows newly written."""
    if not samples:
        return 0
    columns = [[sample[name] for sample in samples] for name in ("ts", *MEASUREMENTS)]
    counts = [sample["sample_count"] for sample in samples]
    cursor = conn.execute(INSERT_BATCH, (device_id, *columns, counts), prepare=True)
    return cursor.rowcount


def latest_sample(conn: Connection, device_id: str) -> dict | None:
    """The newest stored sample of a device, or None."""
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(LATEST, (device_id,), prepare=True).fetchone()
