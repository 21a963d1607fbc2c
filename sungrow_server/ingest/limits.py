"""What a batch may hold besides what its schema checks: how many fields an object has,
how far apart its samples lie."""

from datetime import datetime

from ..errors import APIError, capped

# A sample has ten fields; newer edge daemons may add some (unknown fields are the
# schema's business), never this many. Checked before any schema work: a sample with
# 125,000 keys in a 1 MB body once took 1.4 s of CPU and 80 MiB to answer.
MAX_FIELDS = 100


def check_fields(payload) -> None:
    """422 for a body, or a sample in it, with more than MAX_FIELDS fields."""
    if type(payload) is not dict:
        return  # the schema says what is wrong
    items = []
    if len(payload) > MAX_FIELDS:
        items.append(_too_many([], "The body", len(payload)))
    samples = payload.get("samples")
    if type(samples) is list:
        for index, item in enumerate(samples):
            if type(item) is dict and len(item) > MAX_FIELDS:
                items.append(_too_many(["samples", index], "A sample", len(item)))
    if items:
        raise APIError(422, capped(items))


def _too_many(loc: list, what: str, count: int) -> dict:
    msg = f"{what} has {count} fields; at most {MAX_FIELDS} are allowed"
    return {"loc": loc, "msg": msg, "type": "value_error"}


def check_span(batch: list[dict], max_span_s: int) -> None:
    """422 when the samples of one batch lie further apart than `max_span_s` seconds.

    An edge daemon sends its spool in order, at most 1000 samples of one every few
    seconds (83 minutes at 5 s), so a real batch spans hours at most, or the gap of an
    edge switched off while it held unsent samples. A batch spread over years made
    TimescaleDB create a chunk for every week it touched (two batches over 2000-2026:
    1,401 chunks, which every query over the table then planned).
    """
    if len(batch) < 2:
        return
    times = [sample["ts"] for sample in batch]
    first, last = min(times), max(times)
    span_s = (last - first).total_seconds()
    if span_s > max_span_s:
        message = (
            f"The samples of one batch must lie within {_duration(max_span_s)} of each other "
            f"(MAX_BATCH_SPAN_S); these span {_duration(span_s)}, from {_iso(first)} to "
            f"{_iso(last)}."
        )
        raise APIError(422, [{"loc": ["samples"], "msg": message, "type": "value_error"}])


def _duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.4g} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.4g} hours"
    return f"{seconds:.4g} s"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
