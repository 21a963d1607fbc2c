"""Tokens made by the CLI, and the sites, as each worker holds them: read from PostgreSQL
at most every REFRESH_S seconds, never once per request."""

import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import psycopg
from psycopg import Connection, errors
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from ..errors import DatabaseUnavailable
from .grants import Grant
from .tokens import stored_digest

log = logging.getLogger(__name__)

TOKENS = """
SELECT id, digest, role, devices, sites, all_devices FROM sungrow_tokens
WHERE revoked_at IS NULL
"""
SITES = """
SELECT s.site_id, array_remove(array_agg(d.device_id ORDER BY d.device_id), NULL)
FROM sungrow_sites s LEFT JOIN sungrow_site_devices d USING (site_id)
GROUP BY s.site_id
"""
MARK_USED = """
UPDATE sungrow_tokens t SET last_used_at = u.at
FROM unnest(%s::bigint[], %s::timestamptz[]) AS u(id, at)
WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.at)
"""
UNAVAILABLE = (psycopg.Error, PoolTimeout, PoolClosed)


class StoreUnavailable(DatabaseUnavailable):
    """The tokens could not be read for longer than a revocation may wait."""


@dataclass(frozen=True)
class Snapshot:
    """The tokens (by keyed digest) and sites (with their members) read at `loaded`."""

    grants: dict[bytes, Grant] = field(default_factory=dict)
    sites: dict[str, tuple[str, ...]] = field(default_factory=dict)
    loaded: float = float("-inf")  # time.monotonic() of the read


def read_snapshot(conn: Connection, key: bytes) -> Snapshot:
    """Every unrevoked token and every site, as of now (empty before init-db made them)."""
    now = time.monotonic()
    try:
        tokens = conn.execute(TOKENS).fetchall()
        sites = conn.execute(SITES).fetchall()
    except errors.UndefinedTable:
        if not conn.autocommit:
            conn.rollback()
        log.warning("no token or site tables yet: run init-db")
        return Snapshot(loaded=now)
    grants = {
        _keyed(key, bytes(digest)): Grant(
            role, frozenset(devices), frozenset(sites_), all_devices, token_id
        )
        for token_id, digest, role, devices, sites_, all_devices in tokens
    }
    return Snapshot(grants, {site: tuple(members) for site, members in sites}, now)


def _keyed(key: bytes, digest: bytes) -> bytes:
    return hmac.new(key, digest, hashlib.sha256).digest()


class TokenStore:
    """The database's tokens and sites, re-read by the first request that finds them older
    than REFRESH_S; while one request reads, the others use what is held, until it is
    MAX_AGE_S old. So a token made or revoked by the CLI counts on every worker within
    MAX_AGE_S plus one read, and a token check costs no round trip.

    Held tokens are keyed by an HMAC (under a key drawn at start-up) of their SHA-256, and a
    presented token is looked up the same way: as for DEVICE_TOKENS, the time a look-up
    takes depends only on a digest nobody can steer (auth/tokens.TokenRegistry).

    `last used` is remembered per token and written at most every FLUSH_S seconds per
    worker, by a timer, in one statement.
    """

    REFRESH_S = 2.0
    MAX_AGE_S = 4.0
    EFFECT_S = 5  # what a user is told: MAX_AGE_S and one read
    FLUSH_S = 3.0

    def __init__(self, pool: ConnectionPool):
        self._pool = pool
        self._key = secrets.token_bytes(32)
        self._snapshot = Snapshot()
        self._lock = threading.Lock()
        self._used: dict[int, datetime] = {}
        self._used_lock = threading.Lock()
        self._flush_timer: threading.Timer | None = None

    def snapshot(self) -> Snapshot:
        """Fresh enough tokens and sites; StoreUnavailable if they cannot be read."""
        held = self._snapshot
        age = time.monotonic() - held.loaded
        if age < self.REFRESH_S:
            return held
        # One request reads; others go on with what is held until it is too old to trust.
        if not self._lock.acquire(blocking=age >= self.MAX_AGE_S):
            return held
        try:
            if self._snapshot is held:
                self._reload()
        finally:
            self._lock.release()
        held = self._snapshot
        if time.monotonic() - held.loaded >= self.MAX_AGE_S:  # the read failed
            raise StoreUnavailable
        return held

    def expire(self) -> None:
        """Have the next request re-read the tokens and sites (a change made in this process)."""
        self._snapshot = replace(self._snapshot, loaded=float("-inf"))

    def _reload(self) -> None:
        try:
            with self._pool.connection() as conn:
                self._snapshot = read_snapshot(conn, self._key)
        except UNAVAILABLE as exc:  # the database is down: what is held ages out
            log.warning("could not read tokens and sites: %s", type(exc).__name__)

    def grant_for(self, token: str) -> tuple[Grant | None, Snapshot]:
        """The grant of a presented token (None if unknown), and the snapshot it came from."""
        snapshot = self.snapshot()
        return snapshot.grants.get(_keyed(self._key, stored_digest(token))), snapshot

    def used(self, grant: Grant) -> None:
        """Note that a token was used; written to the database within FLUSH_S seconds."""
        now = datetime.now(UTC)
        with self._used_lock:
            self._used[grant.token_id] = now
            if self._flush_timer is None:
                self._flush_timer = threading.Timer(self.FLUSH_S, self.flush)
                self._flush_timer.daemon = True
                self._flush_timer.start()

    def close(self) -> None:
        """Write what is pending now, before the pool closes (a worker that exits)."""
        with self._used_lock:
            timer = self._flush_timer
        if timer is not None:
            timer.cancel()
        self.flush()

    def flush(self) -> None:
        """Write the pending `last used` times (best effort: they are only a hint)."""
        with self._used_lock:
            pending, self._used = self._used, {}
            self._flush_timer = None
        if not pending:
            return
        try:
            with self._pool.connection() as conn:
                conn.execute(MARK_USED, (list(pending), list(pending.values())))
        except UNAVAILABLE as exc:
            log.warning("could not record token use: %s", type(exc).__name__)
