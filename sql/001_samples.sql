-- The raw samples, one row per device and timestamp. Safe to run again.
CREATE TABLE IF NOT EXISTS sungrow_samples (
    device_id        TEXT             NOT NULL,
    ts               TIMESTAMPTZ      NOT NULL,
    pv_power_w       DOUBLE PRECISION NOT NULL,
    pv_daily_kwh     DOUBLE PRECISION,
    battery_power_w  DOUBLE PRECISION NOT NULL,
    battery_soc_pct  DOUBLE PRECISION NOT NULL,
    battery_temp_c   DOUBLE PRECISION,
    load_power_w     DOUBLE PRECISION NOT NULL,
    export_power_w   DOUBLE PRECISION NOT NULL,
    sample_count     INTEGER          NOT NULL DEFAULT 1,
    PRIMARY KEY (device_id, ts)
);

-- What init-db built, so that running it again knows what to rebuild.
CREATE TABLE IF NOT EXISTS sungrow_schema_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
