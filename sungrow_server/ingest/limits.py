"""What a batch may hold besides what its schema checks: how far apart its samples lie."""

from datetime import datetime

from ..errors import APIError


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
