"""What every request leaves behind: its X-Request-ID, its count and duration, and for
ingest the samples stored, the unknown fields ignored, or the batch refused.

Installed by the factory as the app's first before_request and an after_request, so no
capability imports this. Views leave facts on `g` (`device_id`, `samples_stored`,
`unknown_fields`); the JSON log formatter reads `sungrow.*` keys of the WSGI environ.
"""

import itertools
import logging
import os
import re
import time

from flask import Flask, Response, current_app, g, request

from ..db.pool import get_pool
from . import metrics
from .edges import UnknownFieldTally, first_error, record_refusal

log = logging.getLogger(__name__)

TALLY = "sungrow.unknown_fields"
# A request id from nginx ($request_id) or another proxy, if it looks like one.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
INGEST = "/v1/ingest"
REFUSAL_DB_TIMEOUT_S = 1.0

# Labelled children, looked up once: `labels()` costs more than the increment itself.
_requests: dict[tuple, object] = {}
_latency: dict[str, object] = {}
_stored: dict[str, object] = {}
_unknown: dict[str, object] = {}


def _child(children: dict, metric, device: str):
    """The metric's child for the device, looked up once."""
    child = children.get(device)
    if child is None:
        child = children[device] = metric.labels(device)
    return child


class _RequestIds:
    """32 hex digits, unique: a random prefix per process and a counter. A tenth of what
    uuid4() costs (it reads the kernel's random source for every request)."""

    def __init__(self):
        self.reset()
        os.register_at_fork(after_in_child=self.reset)  # gunicorn's workers: their own

    def reset(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._count = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._count):016x}"


_ids = _RequestIds()


def begin() -> None:
    """Before anything else: the start time and the request id, kept in the WSGI environ
    (where gunicorn's access log finds them, and one lookup of the request proxy)."""
    environ = request.environ
    environ["sungrow.started"] = time.perf_counter()
    incoming = environ.get("HTTP_X_REQUEST_ID")
    rid = incoming if incoming and REQUEST_ID.fullmatch(incoming) else _ids.next()
    environ["sungrow.request_id"] = rid


def finish(response: Response) -> Response:
    """Return the request id; count the answer; note what an ingest did."""
    req = request._get_current_object()  # one context lookup instead of one per attribute
    environ = req.environ
    elapsed = time.perf_counter() - environ.get("sungrow.started", time.perf_counter())
    rid = environ.get("sungrow.request_id")
    if rid:
        response.headers["X-Request-ID"] = rid
    rule = req.url_rule
    endpoint = rule.rule if rule is not None else "unmatched"
    key = (endpoint, req.method, response.status_code)
    counter = _requests.get(key)
    if counter is None:
        counter = _requests[key] = metrics.REQUESTS.labels(endpoint, key[1], str(key[2]))
    counter.inc()
    histogram = _latency.get(endpoint)
    if histogram is None:
        histogram = _latency[endpoint] = metrics.LATENCY.labels(endpoint)
    histogram.observe(elapsed)
    device = g.get("device_id")
    environ["sungrow.device_id"] = device
    if endpoint == INGEST:
        _ingested(response, device)
    return response


def _ingested(response: Response, device: str | None) -> None:
    status = response.status_code
    tally: UnknownFieldTally = current_app.extensions[TALLY]
    if status == 200:
        stored = g.get("samples_stored")
        if stored:
            _child(_stored, metrics.SAMPLES_STORED, device).inc(stored)
        unknown = g.get("unknown_fields")
        if unknown:
            _child(_unknown, metrics.UNKNOWN_FIELDS, device).inc(unknown)
            tally.add(device, unknown)
    elif 400 <= status < 500:
        metrics.REFUSED.labels(str(status), device or "").inc()
        if device:
            _remember_refusal(response, device)
    if tally.due():  # written once the answer has gone out, not before
        response.call_on_close(tally.flush)


def _remember_refusal(response: Response, device: str) -> None:
    """Store the refusal; a database that fails only costs a WARNING, never the answer."""
    body = response.get_json(silent=True) or {}
    detail = first_error(body.get("detail", ""))
    try:
        with get_pool().connection(timeout=REFUSAL_DB_TIMEOUT_S) as conn:
            record_refusal(conn, device, response.status_code, detail)
    except Exception as exc:
        log.warning("could not record a refused batch of %s: %s", device, type(exc).__name__)


def init_app(app: Flask) -> None:
    """Install the hooks (first of all before_request hooks) and the unknown-field tally."""
    app.extensions[TALLY] = UnknownFieldTally(get_pool(app))
    app.before_request_funcs.setdefault(None, []).insert(0, begin)
    app.after_request(finish)
