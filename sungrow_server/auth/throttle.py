"""Failed-authentication throttling per client address, in each worker process."""

import ipaddress
import math
import threading
import time

from flask import Request

MAX_TRACKED = 10000


def client_address(request: Request, trusted_proxies: frozenset[str]) -> str:
    """The client's address: the peer, or behind trusted proxies the last untrusted hop.

    X-Forwarded-For is believed only when the peer itself is a trusted proxy, and is read
    from the right, skipping trusted hops, so a client cannot pick its own address.
    """
    peer = request.remote_addr or ""
    if peer not in trusted_proxies:
        return peer
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed(hops):
        if hop and hop not in trusted_proxies:
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return peer


class FailedAuthThrottle:
    """After `limit` failed authentications in `window_s` seconds an address waits.

    A fixed window per address: cheap, bounded in memory (the oldest addresses are
    forgotten first), and safe under gunicorn's threads. `limit` 0 turns it off.
    """

    def __init__(self, limit: int, window_s: int):
        self.limit = limit
        self.window_s = window_s
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int | None:
        """Seconds the address must wait, or None if it may try."""
        if not self.limit:
            return None
        with self._lock:
            start, count = self._windows.get(address, (0.0, 0))
        remaining = start + self.window_s - time.monotonic()
        if count >= self.limit and remaining > 0:
            return max(1, math.ceil(remaining))
        return None

    def failed(self, address: str) -> None:
        """Count one failed authentication from the address."""
        if not self.limit:
            return
        now = time.monotonic()
        with self._lock:
            start, count = self._windows.pop(address, (now, 0))
            if now >= start + self.window_s:
                start, count = now, 0
            self._windows[address] = (start, count + 1)
            while len(self._windows) > MAX_TRACKED:
                del self._windows[next(iter(self._windows))]
