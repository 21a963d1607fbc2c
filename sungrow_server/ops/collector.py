"""Metrics read from the database when /metrics is scraped: per device, and the rollups."""

import logging
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from psycopg_pool import ConnectionPool

from ..db import rollup_health
from .edges import edge_status, known_devices, newest_samples

log = logging.getLogger(__name__)

DB_TIMEOUT_S = 2.0


def _seconds(ts: datetime | None) -> float | None:
    return ts.timestamp() if ts is not None else None


class DatabaseCollector:
    """Per device: newest sample, last refused batch, refusals since newer data was stored.
    On the licensed TimescaleDB: each rollup's watermark and pending invalidations, its
    policy's failures, and whether anything keeps the rollups materialised."""

    def __init__(self, pool: ConnectionPool, configured_devices, has_rollups):
        self._pool = pool
        self._devices = set(configured_devices)
        self._has_rollups = has_rollups  # a callable(conn) -> bool

    def collect(self):
        up = GaugeMetricFamily("sungrow_database_up", "PostgreSQL answered this scrape (1/0).")
        try:
            with self._pool.connection(timeout=DB_TIMEOUT_S) as conn:
                families = list(self._devices_metrics(conn))
                if self._has_rollups(conn):
                    families += self._rollup_metrics(conn)
        except Exception as exc:
            log.warning("metrics: database not readable: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _devices_metrics(self, conn):
        devices = self._devices | known_devices(conn)
        newest = newest_samples(conn, devices)
        status = edge_status(conn, devices, newest)
        last = GaugeMetricFamily(
            "sungrow_device_last_sample_timestamp_seconds",
            "Timestamp of the device's newest stored sample.",
            labels=["device"],
        )
        refused_at = GaugeMetricFamily(
            "sungrow_device_last_refused_timestamp_seconds",
            "When the device's last ingest batch was refused (4xx).",
            labels=["device", "status"],
        )
        since = GaugeMetricFamily(
            "sungrow_device_refused_since_stored",
            "Batches of the device refused since newer data was last stored (a stuck edge).",
            labels=["device"],
        )
        for device in sorted(devices):
            if newest.get(device) is not None:
                last.add_metric([device], _seconds(newest[device]))
            refused = status[device]["last_refused"]
            if refused:
                at = datetime.fromisoformat(refused["at"])
                refused_at.add_metric([device, str(refused["status"])], at.timestamp())
            since.add_metric([device], status[device]["refused_since_stored"])
        return [last, refused_at, since]

    def _rollup_metrics(self, conn):
        watermark = GaugeMetricFamily(
            "sungrow_rollup_watermark_timestamp_seconds",
            "End of what the rollup view has materialised.",
            labels=["view"],
        )
        pending = GaugeMetricFamily(
            "sungrow_rollup_pending_invalidations",
            "Changes below the watermark not yet materialised.",
            labels=["view"],
        )
        for level in rollup_health.levels(conn):
            if level.watermark is not None:
                watermark.add_metric([level.view], _seconds(level.watermark))
            pending.add_metric([level.view], level.pending)
        health = rollup_health.health(conn)
        failures = GaugeMetricFamily(
            "sungrow_rollup_policy_failures",
            "Failed runs of the view's refresh policy (TimescaleDB's job statistics).",
            labels=["view"],
        )
        for policy in health.policies:
            failures.add_metric([policy.view], policy.failures)
        refreshed = GaugeMetricFamily(
            "sungrow_rollup_refreshed_timestamp_seconds",
            "When refresh-aggregates last completed (the timer's runs).",
        )
        if health.refreshed_at is not None:
            refreshed.add_metric([], _seconds(health.refreshed_at))
        healthy = GaugeMetricFamily(
            "sungrow_rollups_healthy",
            "1 while policies or refresh-aggregates keep the rollups materialised, else 0.",
        )
        healthy.add_metric([], 1 if health.ok else 0)
        return [watermark, pending, failures, refreshed, healthy]
