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

TYPES = {"device_id": "text", "ts": "timestamptz", "sample_count": "int4"}
TYPES.update({name: "float8" for name in MEASUREMENTS})

# A batch is written with binary COPY into a per-connection temporary table, then moved
# with one INSERT ... SELECT that skips rows already stored (also a repeat inside the
# batch). Measured by bench/write_path.py: about twice as fast as one INSERT over
# unnest() arrays for 1000-sample batches, and as fast for 30-sample ones.
STAGE = "sungrow_ingest_stage"
CREATE_STAGE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} "
    f"({', '.join(f'{name} {TYPES[name]}' for name in COLUMNS)}) ON COMMIT DELETE ROWS"
)
COPY_STAGE = f"COPY {STAGE} ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"
MOVE_STAGE = f"""
INSERT INTO sungrow_samples ({", ".join(COLUMNS)})
SELECT {", ".join(COLUMNS)} FROM {STAGE}
ON CONFLICT (device_id, ts) DO NOTHING
"""

LATEST = f"""
SELECT {", ".join(COLUMNS)} FROM sungrow_samples
WHERE device_id = %s ORDER BY ts DESC LIMIT 1
"""


def create_stage(conn: Connection) -> None:
    """Create the connection's temporary staging table (once per connection)."""
    conn.execute(CREATE_STAGE)


def insert_samples(conn: Connection, device_id: str, samples: list[dict]) -> int:
    """Insert one device's samples in the caller's transaction; the number of rows new."""
    if not samples:
        return 0
    with conn.cursor() as cursor:
        with cursor.copy(COPY_STAGE) as copy:
            copy.set_types([TYPES[name] for name in COLUMNS])
            for sample in samples:
                copy.write_row(
                    (
                        device_id,
                        sample["ts"],
                        *[sample[m] for m in MEASUREMENTS],
                        sample["sample_count"],
                    )
                )
        return cursor.execute(MOVE_STAGE, prepare=True).rowcount


def latest_sample(conn: Connection, device_id: str) -> dict | None:
    """The newest stored sample of a device, or None."""
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(LATEST, (device_id,), prepare=True).fetchone()
