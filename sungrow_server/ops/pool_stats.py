"""The connection pool's state, copied into the metrics every few seconds by each worker."""

import threading
import weakref

from psycopg_pool import ConnectionPool

from . import metrics

INTERVAL_S = 2.0
SAMPLER = "sungrow.pool_sampler"


class PoolSampler:
    """Copies `pool.get_stats()` into the pool gauges and the timeout counter."""

    def __init__(self, pool: ConnectionPool):
        self._pool = weakref.ref(pool)
        self._timeouts = 0
        self._lock = threading.Lock()

    def sample(self) -> bool:
        """Copy the pool's numbers now; False once the pool is gone or closed."""
        pool = self._pool()
        if pool is None or pool.closed:
            return False
        stats = pool.get_stats()
        size = stats.get("pool_size", 0)
        metrics.POOL_SIZE.set(size)
        metrics.POOL_IN_USE.set(size - stats.get("pool_available", 0))
        metrics.POOL_WAITING.set(stats.get("requests_waiting", 0))
        with self._lock:
            timeouts = stats.get("requests_errors", 0)
            if timeouts > self._timeouts:
                metrics.POOL_TIMEOUTS.inc(timeouts - self._timeouts)
            self._timeouts = timeouts
        return True

    def start(self) -> None:
        """Sample in a daemon thread until the pool closes (one per gunicorn worker)."""
        stop = threading.Event()

        def run():
            while self.sample() and not stop.wait(INTERVAL_S):
                pass

        threading.Thread(target=run, name="sungrow-pool-metrics", daemon=True).start()
