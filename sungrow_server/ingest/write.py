"""The write path: a batch of one device stored atomically, with its derived columns."""

from datetime import timedelta
from operator import itemgetter
from zoneinfo import ZoneInfo

from psycopg import Connection
from psycopg.errors import UniqueViolation

from ..model.columns import COLUMNS, DERIVED, TYPES
from ..model.energy import INTERVAL, PV_ENERGY, REACH, derive

# A validated sample's values in column order, after the device.
ROW = itemgetter(*COLUMNS[1:])
TS = itemgetter("ts")

# A batch that does not only append is written with binary COPY into a per-connection
# temporary table, then moved by one statement that skips rows already stored.
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
# append, or that meets a row written outside the lock (unique violation), is merged.
PRECEDING = """
SELECT p.ts, p.pv_daily_kwh, EXISTS (
    SELECT FROM sungrow_samples WHERE device_id = %(device_id)s AND ts >= %(first)s)
FROM (SELECT) AS one LEFT JOIN LATERAL (
    SELECT ts, pv_daily_kwh FROM sungrow_samples
    WHERE device_id = %(device_id)s AND ts >= %(reach_from)s AND ts < %(first)s
    ORDER BY ts DESC LIMIT 1
) AS p ON true
"""
# A batch with no stored sample within REACH before it may hold the device's first one.
NOTE_FIRST = """
INSERT INTO sungrow_device_first (device_id, first_ts) VALUES (%(device_id)s, %(first)s)
ON CONFLICT (device_id) DO UPDATE SET first_ts = EXCLUDED.first_ts
WHERE EXCLUDED.first_ts < sungrow_device_first.first_ts
"""
COPY_APPEND = f"COPY sungrow_samples ({', '.join((*COLUMNS, *DERIVED))}) FROM STDIN (FORMAT BINARY)"
APPEND_TYPES = [*(TYPES[name] for name in COLUMNS), "float8", "float8"]

# The move also derives each new row's interval and PV energy (see energy.py) from its
# neighbours, and rewrites the stored rows whose neighbours change. Only neighbours are
# read: for each sample, the stored row at or before it (itself if already stored: the
# sample is a repeat and skipped), and for each new sample the stored row after it,
# whose interval and energy it changes. Each is one index probe, so a late batch costs
# what its own samples cost, however many rows are stored between them (two samples a
# year apart on a year of 5 s samples: 53 s when every row between them was read, long
# past statement_timeout on every retry). A neighbour farther than energy.REACH gives
# the same values as none, and is not looked for. Every read is also bounded by
# constants (the batch's span widened by REACH), so that on a hypertable only the
# chunks that can hold a neighbour are planned, not every chunk of the device.
# In-order batches, the usual case, rewrite nothing.
MOVE_STAGE = f"""
WITH batch AS (
    SELECT {", ".join(COLUMNS)} FROM {STAGE}
), probe AS (
    SELECT b.ts, b.pv_power_w, b.pv_daily_kwh, p.ts AS p_ts, p.pv_daily_kwh AS p_kwh
    FROM batch b LEFT JOIN LATERAL (
        SELECT ts, pv_daily_kwh FROM sungrow_samples
        WHERE device_id = %(device_id)s AND ts <= b.ts AND ts >= b.ts - %(reach)s
          AND ts >= %(reach_from)s AND ts <= %(last)s
        ORDER BY ts DESC LIMIT 1
    ) AS p ON true
), fresh AS (
    SELECT * FROM probe WHERE p_ts IS DISTINCT FROM ts
), following AS (
    SELECT DISTINCT n.* FROM fresh f CROSS JOIN LATERAL (
        SELECT ts, pv_power_w, pv_daily_kwh, interval_s, pv_energy_kwh FROM sungrow_samples
        WHERE device_id = %(device_id)s AND ts > f.ts AND ts <= f.ts + %(reach)s
          AND ts > %(first)s AND ts <= %(reach_to)s
        ORDER BY ts LIMIT 1
    ) AS n
), merged AS (
    -- role: 0 a new sample, 1 a stored row after one, 2 a stored row only before one
    SELECT ts, pv_power_w, pv_daily_kwh, 0 AS role,
           NULL::float8 AS old_interval, NULL::float8 AS old_energy
    FROM fresh
    UNION ALL
    SELECT ts, pv_power_w, pv_daily_kwh, 1, interval_s, pv_energy_kwh FROM following
    UNION ALL
    SELECT DISTINCT p_ts, NULL::float8, p_kwh, 2, NULL::float8, NULL::float8 FROM fresh
    WHERE p_ts IS NOT NULL AND p_ts NOT IN (SELECT ts FROM following)
), derived AS (
    SELECT ts, role, old_interval, old_energy,
           {INTERVAL} AS interval_s, {PV_ENERGY} AS pv_energy_kwh
    FROM (
        SELECT *, lag(ts) OVER w AS prev_ts, lag(pv_daily_kwh) OVER w AS prev_kwh
        FROM merged WINDOW w AS (ORDER BY ts)
    ) m
), changed AS (
    SELECT ts, interval_s::float8, pv_energy_kwh FROM derived
    WHERE role = 1 AND (old_interval IS DISTINCT FROM interval_s
                        OR old_energy IS DISTINCT FROM pv_energy_kwh)
), inserted AS (
    INSERT INTO sungrow_samples ({", ".join(COLUMNS)}, interval_s, pv_energy_kwh)
    SELECT b.*, d.interval_s, d.pv_energy_kwh
    FROM batch b JOIN derived d ON d.ts = b.ts AND d.role = 0
    ON CONFLICT (device_id, ts) DO NOTHING
    RETURNING ts
)
SELECT (SELECT count(*) FROM inserted),
       coalesce((SELECT max(ts) FROM inserted) = %(last)s, false) AND NOT EXISTS (
           SELECT FROM sungrow_samples WHERE device_id = %(device_id)s AND ts > %(last)s),
       (SELECT coalesce(array_agg(ts ORDER BY ts), '{{}}') FROM changed),
       (SELECT array_agg(interval_s ORDER BY ts) FROM changed),
       (SELECT array_agg(pv_energy_kwh ORDER BY ts) FROM changed)
"""
# The stored rows whose neighbour changed, rewritten by their times, a statement for
# each group of them within an hour: every statement reads at most an hour of the
# device's rows, whatever plan the statistics lead to (joined to the statement above, or
# matched by `ts = ANY(...)` alone, a device whose rows had no statistics yet had all
# of them read to find two), and on a hypertable only that hour's chunks are planned.
# All the groups go in one round trip.
UPDATE_CHANGED = """
UPDATE sungrow_samples s SET interval_s = d.interval_s, pv_energy_kwh = d.pv_energy_kwh
FROM unnest(%(times)s::timestamptz[], %(intervals)s::float8[], %(energies)s::float8[])
     AS d (ts, interval_s, pv_energy_kwh)
WHERE s.device_id = %(device_id)s AND s.ts = d.ts AND s.ts >= %(lo)s AND s.ts <= %(hi)s
"""
GROUP_SPAN = timedelta(hours=1)


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
        "reach": REACH,
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
            if prev_ts is None:
                conn.execute(NOTE_FIRST, params)
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
            conn.execute(NOTE_FIRST, params)
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
    """Stage a batch, merge it between stored rows (MOVE_STAGE), and rewrite the stored
    rows whose neighbours changed (UPDATE_CHANGED)."""
    device_id = params["device_id"]
    with conn.cursor() as cursor:
        with cursor.copy(COPY_STAGE) as copy:
            copy.set_types([TYPES[name] for name in COLUMNS])
            for sample in batch:
                copy.write_row((device_id, *ROW(sample)))
        move = cursor.execute(MOVE_STAGE, params, prepare=False)
        inserted, newest, times, intervals, energies = move.fetchone()
        if times:
            with conn.pipeline():
                for group in _groups(times, intervals, energies):
                    cursor.execute(UPDATE_CHANGED, {**group, "device_id": device_id}, prepare=False)
    return inserted, newest


def _groups(times: list, intervals: list, energies: list):
    """The changed rows (in time order) in groups that each span at most GROUP_SPAN."""
    start = 0
    for end in range(1, len(times) + 1):
        if end == len(times) or times[end] - times[start] > GROUP_SPAN:
            yield {
                "times": times[start:end],
                "intervals": intervals[start:end],
                "energies": energies[start:end],
                "lo": times[start],
                "hi": times[end - 1],
            }
            start = end
