-- requires: continuous_aggregates
-- autocommit
-- Hourly, daily and monthly rollups per device: the site's local hours, days and months
-- ({timezone}), all three levels counted from one origin, local midnight of 2000-01-01
-- (TimescaleDB requires the same origin on every level of a hierarchy). Each level
-- keeps sums and counts, not averages, and is built on the level below, so every answer
-- stays an exact mean over raw samples and no level rescans a month of raw rows.
-- Real-time aggregation is on: what is not yet materialised is read from the level below
-- at query time, so data ingested a moment ago is in every answer. Energies and the
-- covered time follow sungrow_server/energy.py (an interval longer than its MAX_GAP_S
-- is a gap: no data, no energy). The policies' windows
-- reach back to the beginning of time: late samples (an edge flushing days of spool)
-- are re-materialised by the next runs, and only invalidated buckets are recomputed.
CREATE MATERIALIZED VIEW IF NOT EXISTS sungrow_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT device_id,
       time_bucket(INTERVAL '1 hour', ts, origin => {origin}) AS bucket,
       count(*) AS n_rows,
       sum(sample_count)::bigint AS sample_count,
       sum(pv_power_w) AS sum_pv_power_w,
       max(pv_power_w) AS max_pv_power_w,
       sum(battery_power_w) AS sum_battery_power_w,
       sum(battery_soc_pct) AS sum_battery_soc_pct,
       sum(load_power_w) AS sum_load_power_w,
       sum(export_power_w) AS sum_export_power_w,
       sum({usable}) AS covered_s,
       sum(pv_energy_kwh) AS pv_energy_kwh,
       sum(greatest(load_power_w, 0) * {usable}) / 3600000.0 AS load_energy_kwh,
       sum(greatest(export_power_w, 0) * {usable}) / 3600000.0 AS export_energy_kwh,
       sum(greatest(-export_power_w, 0) * {usable}) / 3600000.0 AS import_energy_kwh,
       sum(greatest(battery_power_w, 0) * {usable}) / 3600000.0 AS battery_charge_kwh,
       sum(greatest(-battery_power_w, 0) * {usable}) / 3600000.0 AS battery_discharge_kwh
FROM sungrow_samples
GROUP BY device_id, 2
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS sungrow_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT device_id,
       time_bucket(INTERVAL '1 day', bucket, {timezone}, origin => {origin}) AS bucket,
       sum(n_rows)::bigint AS n_rows,
       sum(sample_count)::bigint AS sample_count,
       sum(sum_pv_power_w) AS sum_pv_power_w,
       max(max_pv_power_w) AS max_pv_power_w,
       sum(sum_battery_power_w) AS sum_battery_power_w,
       sum(sum_battery_soc_pct) AS sum_battery_soc_pct,
       sum(sum_load_power_w) AS sum_load_power_w,
       sum(sum_export_power_w) AS sum_export_power_w,
       sum(covered_s) AS covered_s,
       sum(pv_energy_kwh) AS pv_energy_kwh,
       sum(load_energy_kwh) AS load_energy_kwh,
       sum(export_energy_kwh) AS export_energy_kwh,
       sum(import_energy_kwh) AS import_energy_kwh,
       sum(battery_charge_kwh) AS battery_charge_kwh,
       sum(battery_discharge_kwh) AS battery_discharge_kwh
FROM sungrow_hourly
GROUP BY device_id, 2
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS sungrow_monthly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT device_id,
       time_bucket(INTERVAL '1 month', bucket, {timezone}, origin => {origin}) AS bucket,
       sum(n_rows)::bigint AS n_rows,
       sum(sample_count)::bigint AS sample_count,
       sum(sum_pv_power_w) AS sum_pv_power_w,
       max(max_pv_power_w) AS max_pv_power_w,
       sum(sum_battery_power_w) AS sum_battery_power_w,
       sum(sum_battery_soc_pct) AS sum_battery_soc_pct,
       sum(sum_load_power_w) AS sum_load_power_w,
       sum(sum_export_power_w) AS sum_export_power_w,
       sum(covered_s) AS covered_s,
       sum(pv_energy_kwh) AS pv_energy_kwh,
       sum(load_energy_kwh) AS load_energy_kwh,
       sum(export_energy_kwh) AS export_energy_kwh,
       sum(import_energy_kwh) AS import_energy_kwh,
       sum(battery_charge_kwh) AS battery_charge_kwh,
       sum(battery_discharge_kwh) AS battery_discharge_kwh
FROM sungrow_daily
GROUP BY device_id, 2
WITH NO DATA;

-- Each level materialises a bucket only some time after it ends (end_offset), once the
-- level below has materialised it, so a materialised bucket is never missing a part
-- that the level below had not yet written; until then real-time aggregation answers.
-- The hourly end_offset is a whole hour because TimescaleDB 2.19 rounds the refresh
-- window to UTC hours regardless of the origin: with less, a run could materialise an
-- unfinished local hour in zones such as Asia/Kathmandu (UTC+05:45).
SELECT add_continuous_aggregate_policy('sungrow_hourly',
    start_offset => NULL, end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '5 minutes', if_not_exists => true);
SELECT add_continuous_aggregate_policy('sungrow_daily',
    start_offset => NULL, end_offset => INTERVAL '2 hours',
    schedule_interval => INTERVAL '15 minutes', if_not_exists => true);
SELECT add_continuous_aggregate_policy('sungrow_monthly',
    start_offset => NULL, end_offset => INTERVAL '3 hours',
    schedule_interval => INTERVAL '30 minutes', if_not_exists => true);
