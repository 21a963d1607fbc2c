"""A stuck edge made visible: each device's last refused batch, how many were refused since
newer data was stored, and the unknown sample fields it sent.

A refused batch is rare and is written to the database at once. A stored batch adds no
round trip: whether a refusal still counts is decided when the status is read (the
device's newest sample moved past the one it had when refused), and unknown fields are
added up in each worker and written, at most every few seconds, by a request of that
worker once its answer has gone out.
"""

import atexit
import logging
import threading
import time
from collections import Counter
from datetime import datetime

from psycopg import Connection
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

FLUSH_AFTER_S = 5.0
DETAIL_CHARS = 300

RECORD_REFUSAL = """
INSERT INTO sungrow_device_status AS s (device_id, last_refused_at, last_refused_status,
    last_refused_detail, refused_since_stored, refused_newest_ts)
SELECT %(device)s, now(), %(status)s, %(detail)s, 1,
       (SELECT max(ts) FROM sungrow_samples WHERE device_id = %(device)s)
ON CONFLICT (device_id) DO UPDATE SET
    last_refused_at = EXCLUDED.last_refused_at,
    last_refused_status = EXCLUDED.last_refused_status,
    last_refused_detail = EXCLUDED.last_refused_detail,
    refused_since_stored = CASE
        WHEN EXCLUDED.refused_newest_ts IS NOT DISTINCT FROM s.refused_newest_ts
        THEN s.refused_since_stored + 1 ELSE 1 END,
    refused_newest_ts = EXCLUDED.refused_newest_ts
"""
ADD_UNKNOWN = """
INSERT INTO sungrow_device_status AS s (device_id, unknown_fields)
SELECT * FROM unnest(%s::text[], %s::bigint[])
ON CONFLICT (device_id) DO UPDATE SET unknown_fields = s.unknown_fields + EXCLUDED.unknown_fields
"""
STATUS = """
SELECT device_id, last_refused_at, last_refused_status, last_refused_detail,
       refused_since_stored, refused_newest_ts, unknown_fields
FROM sungrow_device_status WHERE device_id = ANY(%s)
"""
# The newest sample of each device, each looked up on its own (device_id, ts) index.
NEWEST = """
SELECT d, (SELECT max(ts) FROM sungrow_samples WHERE device_id = d) FROM unnest(%s::text[]) d
"""
KNOWN = "SELECT device_id FROM sungrow_device_status"


def first_error(detail) -> str:
    """The first error of an answer's `detail`: the sentence, or `loc: msg` of a 422 list."""
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        item = detail[0]
        where = ".".join(str(step) for step in item.get("loc", []))
        text = f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", ""))
    else:
        text = str(detail)
    return text[:DETAIL_CHARS]


def record_refusal(conn: Connection, device_id: str, status: int, detail: str) -> None:
    """Remember that a batch of the device was refused with `status`."""
    conn.execute(RECORD_REFUSAL, {"device": device_id, "status": status, "detail": detail})


def newest_samples(conn: Connection, device_ids) -> dict[str, datetime | None]:
    """The newest stored sample's ts of each device (None without data)."""
    return dict(conn.execute(NEWEST, (sorted(device_ids),), prepare=False).fetchall())


def known_devices(conn: Connection) -> set[str]:
    """Devices the status table knows (refused or sent unknown fields)."""
    return {row[0] for row in conn.execute(KNOWN).fetchall()}


def _moved_past(newest: datetime | None, newest_then: datetime | None) -> bool:
    """Whether data newer than the device's newest sample at its last refusal is stored.

    Compared, not matched: a `newest` read from the realtime cache may lag the database
    for a moment after a commit, and a lag must not clear a stuck edge.
    """
    return newest is not None and (newest_then is None or newest > newest_then)


def edge_status(
    conn: Connection, device_ids, newest: dict[str, datetime | None] | None = None
) -> dict[str, dict]:
    """The stuck-edge fields of /v1/devices for each device id:
    `{"last_refused": {"at", "status", "detail"} | None, "refused_since_stored": int,
    "unknown_fields": int}`. `newest` (each device's newest sample ts, as GET /v1/devices
    already knows it) is read from the database if not given.
    """
    device_ids = sorted(set(device_ids))
    if newest is None:
        newest = newest_samples(conn, device_ids)
    rows = {row[0]: row for row in conn.execute(STATUS, (device_ids,)).fetchall()}
    status = {}
    for device_id in device_ids:
        row = rows.get(device_id)
        if row is None:
            status[device_id] = {
                "last_refused": None,
                "refused_since_stored": 0,
                "unknown_fields": 0,
            }
            continue
        _, at, code, detail, count, newest_then, unknown = row
        still = at is not None and not _moved_past(newest.get(device_id), newest_then)
        status[device_id] = {
            "last_refused": {"at": at.isoformat(), "status": code, "detail": detail}
            if at
            else None,
            "refused_since_stored": count if still else 0,
            "unknown_fields": unknown,
        }
    return status


class UnknownFieldTally:
    """Unknown fields per device, counted in this worker and written at most every
    FLUSH_AFTER_S seconds, by the worker's first request after that, once answered.

    No thread of its own: a write behind the requests' back would borrow a pool
    connection at any moment, and so make the pool open one while requests run.
    """

    def __init__(self, pool: ConnectionPool, delay_s: float | None = None):
        self._pool = pool
        self._delay_s = FLUSH_AFTER_S if delay_s is None else delay_s
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._due = 0.0  # time.monotonic() from which the pending counts are written
        atexit.register(self.close)  # after the pool's own atexit close: runs before it

    def add(self, device_id: str, count: int) -> None:
        """Count `count` unknown field values of a stored batch of the device."""
        with self._lock:
            if not self._counts:
                self._due = time.monotonic() + self._delay_s
            self._counts[device_id] += count

    def due(self) -> bool:
        """Whether counts have waited long enough to be written (no lock: a hint)."""
        return bool(self._counts) and time.monotonic() >= self._due

    def flush(self) -> None:
        """Write what was counted; on failure keep it for the next try."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        if not counts:
            return
        if self._pool.closed:  # only if the pool was closed without closing this first
            log.warning("unknown-field counts of %d device(s) not stored", len(counts))
            return
        devices = sorted(counts)
        try:
            with self._pool.connection(timeout=2) as conn:
                conn.execute(ADD_UNKNOWN, (devices, [counts[d] for d in devices]))
        except Exception as exc:  # the database may be down; counts are kept
            log.warning("could not store unknown-field counts: %s", type(exc).__name__)
            with self._lock:
                self._counts.update(counts)
                self._due = time.monotonic() + self._delay_s

    def close(self) -> None:
        """Write what is pending, before the pool closes (a worker or an app that ends)."""
        atexit.unregister(self.close)
        self.flush()
