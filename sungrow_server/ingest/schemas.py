"""The body of POST /v1/ingest: a batch of samples, each checked field by field."""

from marshmallow import EXCLUDE, Schema, fields, validate

from ..web.compiled_loader import CompiledList
from ..web.fields import REQUIRED, FiniteNumber, StrictInteger, Text, Timestamp

INT4_MAX = 2**31 - 1


class IngestSchema(Schema):
    """Unknown fields are ignored and not stored: an edge daemon newer than this server
    must never be stalled by a field it added, since it retries a refused batch forever.
    The view counts them (`unknown_fields`) for operators."""

    error_messages = {"type": "Input should be a valid dictionary"}

    class Meta:
        unknown = EXCLUDE


class SampleSchema(IngestSchema):
    """One sample as an edge daemon sends it."""

    device_id = Text(required=True, error_messages=REQUIRED)
    ts = Timestamp(required=True)
    pv_power_w = FiniteNumber(required=True)
    pv_daily_kwh = FiniteNumber(load_default=None, allow_none=True)
    battery_power_w = FiniteNumber(required=True)
    battery_soc_pct = FiniteNumber(
        required=True,
        validate=validate.Range(0, 100, error="Input should be between 0 and 100"),
    )
    battery_temp_c = FiniteNumber(load_default=None, allow_none=True, limit=1000)
    load_power_w = FiniteNumber(required=True)
    export_power_w = FiniteNumber(required=True)
    sample_count = StrictInteger(
        load_default=1,
        validate=[
            validate.Range(min=1, error="Input should be greater than or equal to 1"),
            validate.Range(max=INT4_MAX, error=f"Input should be less than or equal to {INT4_MAX}"),
        ],
    )


class IngestBatchSchema(IngestSchema):
    """The body of POST /v1/ingest."""

    # Valid batches skip marshmallow's per-item bookkeeping (see web/compiled_loader.py);
    # the rules and the errors are SampleSchema's.
    samples = CompiledList(
        fields.Nested(SampleSchema),
        required=True,
        error_messages={**REQUIRED, "invalid": "Input should be a valid list"},
    )


ingest_batch_schema = IngestBatchSchema()

SAMPLE_KEYS = frozenset(SampleSchema().fields)


def unknown_fields(samples: list) -> int:
    """How many values of unknown fields a batch of sample objects carries (ignored)."""
    known = SAMPLE_KEYS
    return sum(len(item.keys() - known) for item in samples if not item.keys() <= known)
