"""A database as the original FastAPI server of this API creates and fills it, for the tests
and the benchmark of moving in (`init-db` converting it in place).

The schema is the one its Alembic migrations publish (`vps/src/db/migrations/versions/`
001 and 002 of wluyckx/SolarEdge-to-VPS): the table `sungrow_samples` with the same
measurement columns and primary key `(device_id, ts)` but no derived columns, a
hypertable on `ts` with 7-day chunks, continuous aggregates `sungrow_hourly`,
`sungrow_daily` and `sungrow_monthly` of averages over UTC buckets (each read straight
from the samples) with their refresh policies, and Alembic's `alembic_version` table.
"""

import psycopg

TABLE = """
CREATE TABLE sungrow_samples (
    device_id TEXT NOT NULL,
    ts TIMESTAMP WITH TIME ZONE NOT NULL,
    pv_power_w DOUBLE PRECISION NOT NULL,
    pv_daily_kwh DOUBLE PRECISION,
    battery_power_w DOUBLE PRECISION NOT NULL,
    battery_soc_pct DOUBLE PRECISION NOT NULL,
    battery_temp_c DOUBLE PRECISION,
    load_power_w DOUBLE PRECISION NOT NULL,
    export_power_w DOUBLE PRECISION NOT NULL,
    sample_count INTEGER DEFAULT 1 NOT NULL,
    PRIMARY KEY (device_id, ts)
)
"""
HYPERTABLE = (
    "SELECT create_hypertable('sungrow_samples', 'ts', "
    "chunk_time_interval => INTERVAL '7 days', if_not_exists => TRUE)"
)
ALEMBIC = (
    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
)
VIEW = """
CREATE MATERIALIZED VIEW {name}
WITH (timescaledb.continuous) AS
SELECT
    device_id,
    time_bucket('{width}', ts) AS bucket,
    AVG(pv_power_w)       AS avg_pv_power_w,
    MAX(pv_power_w)       AS max_pv_power_w,
    AVG(battery_power_w)  AS avg_battery_power_w,
    AVG(battery_soc_pct)  AS avg_battery_soc_pct,
    AVG(load_power_w)     AS avg_load_power_w,
    AVG(export_power_w)   AS avg_export_power_w,
    SUM(sample_count)     AS sample_count
FROM sungrow_samples
GROUP BY device_id, bucket
WITH NO DATA
"""
# name, bucket width, policy start_offset, end_offset, schedule_interval
VIEWS = (
    ("sungrow_hourly", "1 hour", "3 hours", "1 hour", "1 hour"),
    ("sungrow_daily", "1 day", "3 days", "1 day", "1 day"),
    ("sungrow_monthly", "1 month", "3 months", "1 month", "1 day"),
)
POLICY = (
    "SELECT add_continuous_aggregate_policy('{name}', start_offset => INTERVAL '{start}', "
    "end_offset => INTERVAL '{end}', schedule_interval => INTERVAL '{every}')"
)
COLUMNS = (
    "device_id, ts, pv_power_w, pv_daily_kwh, battery_power_w, battery_soc_pct, "
    "battery_temp_c, load_power_w, export_power_w, sample_count"
)
# Its write path: a multi-row INSERT that skips repeats.
INSERT = (
    f"INSERT INTO sungrow_samples ({COLUMNS}) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (device_id, ts) DO NOTHING"
)


def create_schema(database_url: str, timescaledb: bool, aggregates: bool) -> None:
    """The original server's schema: revision 001 (the table, a hypertable where
    TimescaleDB is loaded), and revision 002 (the aggregates) where `aggregates`."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        if timescaledb:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        conn.execute(ALEMBIC)
        conn.execute(TABLE)
        if timescaledb:
            conn.execute(HYPERTABLE)
        revision = "001"
        if aggregates:
            for name, width, *_ in VIEWS:
                conn.execute(VIEW.format(name=name, width=width))
            for name, _, start, end, every in VIEWS:
                conn.execute(POLICY.format(name=name, start=start, end=end, every=every))
            revision = "002"
        conn.execute("INSERT INTO alembic_version VALUES (%s)", (revision,))


def store(database_url: str, rows: list[tuple]) -> None:
    """Rows (in COLUMNS order) stored as the original server stores an ingest batch."""
    with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.executemany(INSERT, rows)


def refresh(database_url: str) -> None:
    """What the original's policies would have materialised by now."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for name, *_ in VIEWS:
            conn.execute(f"CALL refresh_continuous_aggregate('{name}', NULL, NULL)")
