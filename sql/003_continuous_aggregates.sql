-- requires: continuous_aggregates
-- autocommit
-- Hourly, daily and monthly rollups per device: the site's local hours, days and months
-- ({timezone}), all three levels counted from one origin, local midnight of 2000-01-01
-- (TimescaleDB requires the same origin on every level of a hierarchy). Each level
-- keeps sums and counts, not averages, and is built on the level below, so every answer
-- stays an exact mean over raw samples and no level rescans a month of raw rows.
-- The view names and their columns are placeholders filled from
-- sungrow_server/model/rollups.py, where they are defined once.
-- Real-time aggregation is on: what is not yet materialised is read from the level below
-- at query time, so data ingested a moment ago is in every answer. Energies and the
-- covered time follow sungrow_server/model/energy.py (an interval longer than its MAX_GAP_S
-- is a gap: no data, no energy). The policies' windows
-- reach back to the beginning of time: late samples (an edge flushing days of spool)
-- are re-materialised by the next runs, and only invalidated buckets are recomputed.
CREATE MATERIALIZED VIEW IF NOT EXISTS {hourly}
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT device_id,
       time_bucket(INTERVAL '1 hour', ts, origin => {origin}) AS bucket,
       {raw_columns}
FROM sungrow_samples
GROUP BY device_id, 2
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS {daily}
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT device_id,
       time_bucket(INTERVAL '1 day', bucket, {timezone}, origin => {origin}) AS bucket,
       {rolled_columns}
FROM {hourly}
GROUP BY device_id, 2
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS {monthly}
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT device_id,
       time_bucket(INTERVAL '1 month', bucket, {timezone}, origin => {origin}) AS bucket,
       {rolled_columns}
FROM {daily}
GROUP BY device_id, 2
WITH NO DATA;

-- Each level materialises a bucket only some time after it ends (end_offset), once the
-- level below has materialised it, so a materialised bucket is never missing a part
-- that the level below had not yet written; until then real-time aggregation answers.
-- The hourly end_offset is a whole hour because TimescaleDB 2.19 rounds the refresh
-- window to UTC hours regardless of the origin: with less, a run could materialise an
-- unfinished local hour in zones such as Asia/Kathmandu (UTC+05:45).
SELECT add_continuous_aggregate_policy({hourly_name},
    start_offset => NULL, end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '5 minutes', if_not_exists => true);
SELECT add_continuous_aggregate_policy({daily_name},
    start_offset => NULL, end_offset => INTERVAL '2 hours',
    schedule_interval => INTERVAL '15 minutes', if_not_exists => true);
SELECT add_continuous_aggregate_policy({monthly_name},
    start_offset => NULL, end_offset => INTERVAL '3 hours',
    schedule_interval => INTERVAL '30 minutes', if_not_exists => true);
