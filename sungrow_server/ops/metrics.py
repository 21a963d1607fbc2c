"""The server's Prometheus metrics, counted in every gunicorn worker and added up at scrape.

Under gunicorn each worker writes its values to memory-mapped files in
PROMETHEUS_MULTIPROC_DIR (a fresh directory per master start, set by gunicorn.conf.py
before the workers import this module); a scrape, served by any worker, reads them all.
Without that variable (tests, `flask` commands) the values live in the process.
"""

import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
# `_created` series only in one process's own registry: the same answer in both modes.
disable_created_metrics()

REQUESTS = Counter(
    "sungrow_http_requests_total",
    "Requests answered, by endpoint, method and status.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "sungrow_http_request_duration_seconds",
    "Time from routing to the answer, by endpoint.",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SAMPLES_STORED = Counter(
    "sungrow_ingest_samples_stored_total", "Samples newly stored, by device.", ["device"]
)
REFUSED = Counter(
    "sungrow_ingest_refused_total",
    "Ingest batches refused (4xx), by status and device (empty before authentication).",
    ["status", "device"],
)
UNKNOWN_FIELDS = Counter(
    "sungrow_ingest_unknown_fields_total",
    "Values of unknown sample fields ignored (not stored), by device.",
    ["device"],
)
CACHE = Counter(
    "sungrow_cache_requests_total",
    "Realtime cache look-ups: hit, miss, skipped (after a failure) or error.",
    ["result"],
)
REDIS_ERRORS = Counter("sungrow_redis_errors_total", "Redis calls that failed.", ["action"])
POOL_IN_USE = Gauge(
    "sungrow_db_pool_connections_in_use",
    "PostgreSQL connections lent out, all workers.",
    multiprocess_mode="livesum",
)
POOL_SIZE = Gauge(
    "sungrow_db_pool_connections_open",
    "PostgreSQL connections open, all workers.",
    multiprocess_mode="livesum",
)
POOL_WAITING = Gauge(
    "sungrow_db_pool_requests_waiting",
    "Requests waiting for a connection, all workers.",
    multiprocess_mode="livesum",
)
POOL_TIMEOUTS = Counter(
    "sungrow_db_pool_timeouts_total", "Requests that got no connection in DB_POOL_TIMEOUT_S."
)


_CACHE = {result: CACHE.labels(result) for result in ("hit", "miss", "skipped", "error")}


def cache_event(event: str) -> None:
    """Count what the realtime cache tells (hit, miss, skipped, error:<action>)."""
    counter = _CACHE.get(event)
    if counter is not None:
        counter.inc()
        return
    REDIS_ERRORS.labels(event.removeprefix("error:")).inc()
    if event == "error:read":
        _CACHE["error"].inc()


def multiprocess() -> bool:
    """Whether values are shared between processes through PROMETHEUS_MULTIPROC_DIR."""
    return bool(os.environ.get(MULTIPROC_DIR))


def exposition(*collectors) -> bytes:
    """The text format of every worker's metrics and of `collectors` (read at scrape)."""
    registry = CollectorRegistry()
    if multiprocess():
        MultiProcessCollector(registry)
    else:
        registry.register(_Forward(REGISTRY))
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)


class _Forward:
    """Another registry's metrics (this process's), in a scrape's own registry."""

    def __init__(self, source):
        self._source = source

    def collect(self):
        return self._source.collect()
