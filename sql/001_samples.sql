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

-- Derived per sample, for energy per bucket (see sungrow_server/energy.py): seconds
-- since the device's previous sample, and the PV energy of that interval. Kept by the
-- ingest statement; filled for older rows by init-db.
ALTER TABLE sungrow_samples ADD COLUMN IF NOT EXISTS interval_s DOUBLE PRECISION;
ALTER TABLE sungrow_samples ADD COLUMN IF NOT EXISTS pv_energy_kwh DOUBLE PRECISION;
