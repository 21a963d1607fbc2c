"""The write path: a batch of one device stored atomically, with its derived columns."""

from operator import itemgetter
from zoneinfo import ZoneInfo

from psycopg import Connection
from psycopg.errors import UniqueViolation

from ..model.columns import COLUMNS, DERIVED, TYPES
from ..model.energy import INTERVAL, PV_ENERGY, REACH, derive

# A validated sample's values in column order, after the device.
ROW = itemgetter(*COLUMNS[1:])
TS = itemgetter("ts")

# A batch is written with binary COPY into a per-connection temporary table, then moved
# by one statement that skips rows already stored.
# Measured by bench/write_path.py: about twice as fast as one INSERT over unnest()
# arrays for 1000-sample batches, and as fast for 30-sample ones.
STAGE = "sungrow_ingest_stage"
CREATE_STAGE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} "
    f"({', '.join(f'{name} {TYPES[name]}' for name in COLUMNS)}) ON COMMIT DELETE ROWS"
)
COPY_STAGE = f"COPY {STAGE} ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"
# A device's writes are serialised: each transaction first takes this lock on its
# device, then reads what is stored. Without it, two batches of one device in flight at
# once were each derived from a snapshot without the other (an interval of 255 s where 5
# was right, twice the PV energy for interleaved batches), and nothing corrected them.
# The lock is released at commit or rollback. Its class (the first key) keeps it apart
# from other advisory locks on the database; two devices whose names share a hash only
# wait for each other.
LOCK_CLASS = 0x5347  # "SG"
LOCK_DEVICE = "SELECT pg_advisory_xact_lock(%(lock_class)s, hashtext(%(device_id)s))"
# The usual batch only appends: nothing of its device is stored at or after its first
# sample. It is written by binary COPY straight into the table, its derived columns
# computed by energy.derive from the stored sample before it. A batch that does not
# append, or that meets a concurrent one (unique violation), is merged instead.
PRECEDING = """
SELECT p.ts, p.pv_daily_kwh, EXISTS (
    SELECT FROM sungrow_samples WHERE device_id = %(device_id)s AND ts >= %(first)s)
FROM (SELECT) AS one LEFT JOIN LATERAL (
    SELECT ts, pv_daily_kwh FROM sungrow_samples
    WHERE device_id = %(device_id)s AND ts >= %(reach_from)s AND ts < %(first)s
    ORDER BY ts DESC LIMIT 1
) AS p ON true
"""
COPY_APPEND = f"COPY sungrow_samples ({', '.join((*COLUMNS, *DERIVED))}) FROM STDIN (FORMAT BINARY)"
APPEND_TYPES = [*(TYPES[name] for name in COLUMNS), "float8", "float8"]

# The move also derives each new row's interval and PV energy (see energy.py) from its
# neighbours: the batch merged with the stored rows from the one before it to the one
# after it. A late batch changes the neighbours of stored rows too, and those are
# rewritten in the same statement. In-order batches, the usual case, rewrite nothing.
# Every read of sungrow_samples is bounded by constants (the batch's span widened by
# energy.REACH), so that on a hypertable only the chunks that can hold a neighbour are
# planned, not every chunk of the device's history.
MOVE_STAGE = f"""
WITH batch AS (
    SELECT {", ".join(COLUMNS)} FROM {STAGE}
), bounds AS (
    SELECT (SELECT max(ts) FROM sungrow_samples WHERE device_id = %(device_id)s
              AND ts >= %(reach_from)s AND ts < %(first)s) AS lo,
           (SELECT min(ts) FROM sungrow_samples WHERE device_id = %(device_id)s
              AND ts > %(last)s AND ts <= %(reach_to)s) AS hi
), stored AS (
    SELECT ts, pv_power_w, pv_daily_kwh, interval_s, pv_energy_kwh FROM sungrow_samples
    WHERE device_id = %(device_id)s
      AND ts >= %(reach_from)s AND ts <= %(reach_to)s
      AND ts >= coalesce((SELECT lo FROM bounds), '-infinity')
      AND ts <= coalesce((SELECT hi FROM bounds), 'infinity')
), merged AS (
    SELECT ts, pv_power_w, pv_daily_kwh, true AS stored,
           interval_s AS old_interval, pv_energy_kwh AS old_energy
    FROM stored
    UNION ALL
    SELECT ts, pv_power_w, pv_daily_kwh, false, NULL, NULL
    FROM batch WHERE ts NOT IN (SELECT ts FROM stored)
), derived AS (
    SELECT ts, stored, old_interval, old_energy,
           {INTERVAL} AS interval_s, {PV_ENERGY} AS pv_energy_kwh
    FROM (
        SELECT *, lag(ts) OVER w AS prev_ts, lag(pv_daily_kwh) OVER w AS prev_kwh
        FROM merged WINDOW w AS (ORDER BY ts)
    ) m
), neighbours AS (
    UPDATE sungrow_samples s SET interval_s = d.interval_s, pv_energy_kwh = d.pv_energy_kwh
    FROM derived d
    WHERE d.stored AND s.device_id = %(device_id)s AND s.ts = d.ts
      AND s.ts >= %(reach_from)s AND s.ts <= %(reach_to)s
      AND d.ts > coalesce((SELECT lo FROM bounds), '-infinity')
      AND (d.old_interval IS DISTINCT FROM d.interval_s
           OR d.old_energy IS DISTINCT FROM d.pv_energy_kwh)
), inserted AS (
    INSERT INTO sungrow_samples ({", ".join(COLUMNS)}, interval_s, pv_energy_kwh)
    SELECT b.*, d.interval_s, d.pv_energy_kwh
    FROM batch b JOIN derived d ON d.ts = b.ts AND NOT d.stored
    ON CONFLICT (device_id, ts) DO NOTHING
    RETURNING ts
)
SELECT count(*),
       coalesce(max(ts) = %(last)s, false) AND NOT EXISTS (
           SELECT FROM sungrow_samples WHERE device_id = %(device_id)s AND ts > %(last)s)
FROM inserted
"""


def create_stage(conn: Connection) -> None:
    """Create the connection's temporary staging table (once per connection)."""
    conn.execute(CREATE_STAGE)


def insert_samples(
    conn: Connection, device_id: str, samples: list[dict], timezone: str
) -> tuple[int, dict | None]:
    """Store one device's samples atomically, in a transaction of their own.

    Returns the number of rows new and, when this batch wrote the device's newest sample,
    that sample (else None: read it with `realtime.latest.latest_sample` if it matters). A repeated
    timestamp inside the batch keeps its first sample. `timezone` is the site's zone,
    where the inverter's daily counter restarts.
    """
    unique = {}
    for sample in samples:
        unique.setdefault(sample["ts"], sample)
    if not unique:
        return 0, None
    batch = sorted(unique.values(), key=TS)
    first, last = batch[0]["ts"], batch[-1]["ts"]
    params = {
        "lock_class": LOCK_CLASS,
        "device_id": device_id,
        "timezone": timezone,
        "first": first,
        "last": last,
        "reach_from": first - REACH,
        "reach_to": last + REACH,
    }
    try:
        with conn.transaction():
            # The lock and the check leave in one round trip (the pipeline's sync); the
            # check is a statement of its own, so its snapshot is taken once the lock is
            # held and sees every batch of the device committed before.
            with conn.pipeline():
                conn.execute(LOCK_DEVICE, params)
                # Not prepared: plans made with the batch's own bounds read only the
                # chunks near the batch (a generic plan would take every chunk).
                check = conn.execute(PRECEDING, params, prepare=False)
            prev_ts, prev_kwh, later = check.fetchone()
            if later:
                inserted, newest = _merge(conn, batch, params)
            else:
                previous = (prev_ts, prev_kwh) if prev_ts is not None else None
                _append(conn, device_id, batch, previous, ZoneInfo(timezone))
                inserted, newest = len(batch), True
    except UniqueViolation:
        # A writer that does not take the lock stored one of these timestamps since the
        # check (the server's own writers all take it).
        with conn.transaction():
            conn.execute(LOCK_DEVICE, params)
            inserted, newest = _merge(conn, batch, params)
    if not newest:
        return inserted, None
    return inserted, dict(zip(COLUMNS, (device_id, *ROW(batch[-1])), strict=True))


def _append(
    conn: Connection, device_id: str, batch: list[dict], previous: tuple | None, zone: ZoneInfo
) -> None:
    """COPY a batch that only appends straight into the table, with its derived columns."""
    with conn.cursor() as cursor, cursor.copy(COPY_APPEND) as copy:
        copy.set_types(APPEND_TYPES)
        for sample, derived in zip(batch, derive(previous, batch, zone), strict=True):
            copy.write_row((device_id, *ROW(sample), *derived))


def _merge(conn: Connection, batch: list[dict], params: dict) -> tuple[int, bool]:
    """Stage a batch and merge it between stored rows (MOVE_STAGE)."""
    with conn.cursor() as cursor:
        with cursor.copy(COPY_STAGE) as copy:
            copy.set_types([TYPES[name] for name in COLUMNS])
            for sample in batch:
                copy.write_row((params["device_id"], *ROW(sample)))
        return cursor.execute(MOVE_STAGE, params, prepare=False).fetchone()
