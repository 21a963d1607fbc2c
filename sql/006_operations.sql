-- What operators see of each device beside its samples, and the alerts already sent.
-- Safe to run again.

-- A device's last refused ingest batch (a 4xx answer: its edge daemon retries that batch,
-- oldest first, and sends nothing newer until it is accepted), how many were refused
-- since newer data was last stored, and how many values of unknown sample fields were
-- ignored. refused_newest_ts is the device's newest stored sample when the last batch was
-- refused: once a newer one is stored, refused_since_stored no longer counts.
CREATE TABLE IF NOT EXISTS sungrow_device_status (
    device_id             TEXT PRIMARY KEY,
    last_refused_at       TIMESTAMPTZ,
    last_refused_status   INTEGER,
    last_refused_detail   TEXT,
    refused_since_stored  INTEGER     NOT NULL DEFAULT 0,
    refused_newest_ts     TIMESTAMPTZ,
    unknown_fields        BIGINT      NOT NULL DEFAULT 0
);

-- The state each device's alerts were last sent for (`flask alerts`), so that a rerun or
-- a second host sends nothing twice.
CREATE TABLE IF NOT EXISTS sungrow_alert_state (
    device_id   TEXT PRIMARY KEY,
    stale       BOOLEAN     NOT NULL DEFAULT false,
    refused     BOOLEAN     NOT NULL DEFAULT false,
    changed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
