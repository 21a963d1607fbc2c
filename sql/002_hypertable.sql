-- requires: timescaledb
-- The samples table as a hypertable on ts; rows already there move into chunks.
SELECT create_hypertable(
    'sungrow_samples', 'ts',
    chunk_time_interval => INTERVAL '7 days',
    migrate_data => true,
    if_not_exists => true
);
