"""Operations: metrics, request ids and JSON logs, readiness, the stuck-edge status,
alerts, and `doctor`.

Nothing is imported here at module level: gunicorn.conf.py imports `ops.logs` in the
master, which must not load the metrics before PROMETHEUS_MULTIPROC_DIR is set.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    """Observe every request, the realtime cache and the pool; serve /metrics."""
    from ..db.pool import get_pool
    from ..realtime.cache import get_cache
    from . import metrics, requests, views
    from .pool_stats import SAMPLER, PoolSampler

    requests.init_app(app)
    views.init_app(app)
    get_cache(app).observe = metrics.cache_event
    sampler = app.extensions[SAMPLER] = PoolSampler(get_pool(app))
    if metrics.multiprocess():  # under gunicorn: each worker keeps its gauges current
        sampler.start()


def close(app: Flask) -> None:
    """Write what this worker still holds (unknown-field counts), before the pool closes."""
    from .requests import TALLY

    app.extensions[TALLY].close()
