"""Failed-authentication throttling per client address, counted across workers in Redis,
or in each worker's own table while Redis does not answer."""

import ipaddress
import logging
import math
import threading
import time

import redis
from flask import Request

log = logging.getLogger(__name__)

# Addresses under the limit counted in a worker's own table; the oldest are forgotten
# first beyond this many. Addresses over the limit are never forgotten before their
# window ends: putting one over the limit took `limit` failures, so they are few.
MAX_TRACKED = 10000
# After a Redis failure the worker counts on its own for this long.
BACKOFF_S = 1.0
KEY_PREFIX = "authfail:"

# One failure: the count of the address's window (which starts at its first failure)
# and the milliseconds left of it.
COUNT_FAILURE = """
local count = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {count, left}
"""


def client_address(request: Request, trusted_proxies: frozenset[str]) -> str:
    """The client's address: the peer, or behind trusted proxies the last untrusted hop."""
    forwarded_for = request.headers.get("X-Forwarded-For", "")
    return forwarded_client(request.remote_addr or "", forwarded_for, trusted_proxies)


def forwarded_client(peer: str, forwarded_for: str, trusted_proxies: frozenset[str]) -> str:
    """The client's address from the peer's and its X-Forwarded-For header.

    X-Forwarded-For is believed only when the peer itself is a trusted proxy, and is read
    from the right, skipping trusted hops, so a client cannot pick its own address.
    """
    if peer not in trusted_proxies:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    for hop in reversed(hops):
        if hop and hop not in trusted_proxies:
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return peer


def throttle_key(address: str) -> str:
    """What failures are counted by: an IPv4 address, or an IPv6 address's /64.

    One IPv6 subscriber is handed a whole /64 (at least), and picks any address in it at
    will; counting exact IPv6 addresses would give each subscriber 2^64 fresh limits.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network((ip, 64), strict=False))
    return str(ip)


class FailedAuthThrottle:
    """After `limit` failed authentications in `window_s` seconds an address waits.

    A fixed window per address (IPv6: per /64), starting at its first failure. The count
    is kept in Redis, so that every gunicorn worker adds to the same one; each worker
    remembers the addresses it has seen go over the limit, so that a request from one is
    refused before its token is looked at, without a round trip. A worker that has not
    seen it yet looks the token up, and a wrong one then gets 429 from the shared count:
    across all workers an address gets at most `limit` plus one try per worker.

    While Redis fails (and for BACKOFF_S after), each worker counts in its own table.
    `limit` 0 turns it off.
    """

    def __init__(self, limit: int, window_s: int, client: redis.Redis | None = None):
        self.limit = limit
        self.window_s = window_s
        self._count = client.register_script(COUNT_FAILURE) if client is not None else None
        self._skip_redis_until = 0.0
        self._blocked: dict[str, float] = {}  # key -> monotonic end of its window
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (start, count), no Redis
        self._lock = threading.Lock()
        self._next_purge = 0.0

    def retry_after(self, address: str) -> int | None:
        """Seconds the address must wait, or None if it may try."""
        if not self.limit:
            return None
        key = throttle_key(address)
        with self._lock:
            until = self._blocked.get(key)
        if until is None:
            return None
        left = until - time.monotonic()
        return max(1, math.ceil(left)) if left > 0 else None

    def failed(self, address: str) -> int | None:
        """Count one failed authentication from the address; the seconds it must now wait
        if it was over the limit already (its answer is then 429), else None."""
        if not self.limit:
            return None
        key = throttle_key(address)
        counted = self._count_in_redis(key)
        if counted is None:
            self._count_here(key)
            return None
        count, left_s = counted
        if count >= self.limit:
            with self._lock:
                self._block(key, time.monotonic() + left_s)
        return max(1, math.ceil(left_s)) if count > self.limit else None

    def _count_in_redis(self, key: str) -> tuple[int, float] | None:
        if self._count is None or time.monotonic() < self._skip_redis_until:
            return None
        try:
            count, left_ms = self._count(keys=[KEY_PREFIX + key], args=[self.window_s * 1000])
        except redis.RedisError as exc:
            self._skip_redis_until = time.monotonic() + BACKOFF_S
            log.warning("redis failed, counting failed logins per worker: %s", type(exc).__name__)
            return None
        return int(count), int(left_ms) / 1000

    def _count_here(self, key: str) -> None:
        """Count in this worker's own table; at the limit the address moves to the
        blocked ones until its window ends."""
        now = time.monotonic()
        with self._lock:
            start, count = self._windows.pop(key, (now, 0))
            if now >= start + self.window_s:
                start, count = now, 0
            if count + 1 >= self.limit:
                self._block(key, start + self.window_s)
                return
            self._windows[key] = (start, count + 1)
            while len(self._windows) > MAX_TRACKED:  # all under the limit: forgettable
                del self._windows[next(iter(self._windows))]

    def _block(self, key: str, until: float) -> None:
        """Refuse the key until `until` (with the lock held). Blocks are never evicted;
        once there are many, those whose window has ended are dropped, at most once a
        second."""
        self._blocked[key] = max(until, self._blocked.get(key, 0.0))
        now = time.monotonic()
        if len(self._blocked) > MAX_TRACKED and now >= self._next_purge:
            self._next_purge = now + 1.0
            for ended in [k for k, end in self._blocked.items() if end <= now]:
                del self._blocked[ended]
