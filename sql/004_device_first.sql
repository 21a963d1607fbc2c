-- When each device's first sample lies, kept by the write path (ingest/write.py), so
-- that /v1/series?frame=all starts there: looking for it in sungrow_samples plans and
-- locks every chunk of the hypertable, whichever device made them (1,401 chunks: 0.4 s
-- and 4,208 locks a request). Filled from the stored samples when it is new.
CREATE TABLE IF NOT EXISTS sungrow_device_first (
    device_id TEXT        PRIMARY KEY,
    first_ts  TIMESTAMPTZ NOT NULL
);

INSERT INTO sungrow_device_first (device_id, first_ts)
SELECT device_id, min(ts) FROM sungrow_samples
WHERE NOT EXISTS (SELECT FROM sungrow_device_first)
GROUP BY device_id
ON CONFLICT (device_id) DO UPDATE SET first_ts = least(sungrow_device_first.first_ts, EXCLUDED.first_ts);
