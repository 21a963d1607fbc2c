"""POST /v1/ingest: a batch of samples, stored atomically, acknowledged only once committed."""

from flask import Blueprint, g, request

from ..auth import require_device, require_writer
from ..config import get_settings
from ..db.pool import get_pool
from ..errors import APIError
from ..realtime.cache import get_cache
from ..realtime.latest import latest_sample
from ..web.body_deadline import get_body_readers
from .body import parse_json, read_body
from .limits import check_fields, check_span
from .schemas import ingest_batch_schema, unknown_fields
from .write import insert_samples

bp = Blueprint("ingest", __name__)


@bp.post("/ingest")
def ingest():
    """Validate the whole batch, insert it in one transaction, then refresh the cache.

    The 200 is sent only after the transaction block has committed; any failure before
    or during the commit leaves the batch unacknowledged and the edge daemon retries it.
    """
    require_writer()  # before the body is even read: a read-only token stores nothing
    settings = get_settings()
    body = read_body(request, settings.max_request_bytes, get_body_readers())
    payload = parse_json(body)
    samples = payload.get("samples") if isinstance(payload, dict) else None
    if isinstance(samples, list) and len(samples) > settings.max_samples_per_request:
        raise APIError(
            413,
            f"Batch size {len(samples)} exceeds limit of {settings.max_samples_per_request}. "
            "Split into smaller batches.",
        )
    check_fields(payload)
    batch = ingest_batch_schema.load(payload)["samples"]
    check_span(batch, settings.max_batch_span_s)
    for device_id in {sample["device_id"] for sample in batch}:
        require_device(device_id, "Sample device ID does not match authenticated device.")
    # Facts for the operations hooks (metrics, stuck-edge status), read after the request.
    g.unknown_fields = unknown_fields(samples)

    with get_pool().connection() as conn:
        inserted, newest = insert_samples(conn, g.device_id, batch, settings.timezone)
        if inserted and newest is None:
            newest = latest_sample(conn, g.device_id)
    if newest is not None:
        get_cache().offer(newest)
    g.samples_stored = inserted
    return {"inserted": inserted}
