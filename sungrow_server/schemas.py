"""marshmallow schemas for ingest bodies and query arguments."""

import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from .fastload import CompiledList

REQUIRED = {"required": "Field required", "null": "Field required"}

TINY = 1e-9
INT4_MAX = 2**31 - 1

# Timestamps outside this window are refused: before it, a clock that was never set;
# after it, a clock running ahead, which would hide every real sample behind it.
EARLIEST_TS = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


class FiniteNumber(fields.Field):
    """A JSON number (not a string, not a boolean), finite and of at most `limit` magnitude.

    Magnitudes below TINY are stored as 0: no meter measures them, and sums of such
    values would underflow in PostgreSQL.
    """

    default_error_messages = {
        **REQUIRED,
        "invalid": "Input should be a valid number",
        "finite": "Input should be a finite number",
        "limit": "Input should be between -{limit:g} and {limit:g}",
    }

    def __init__(self, *, limit: float = 1e9, **kwargs):
        super().__init__(**kwargs)
        self.limit = limit

    def _deserialize(self, value, attr, data, **kwargs):
        # Exact type checks: bool is an int subclass, and is refused.
        if type(value) is float:
            number = value
        elif type(value) is int:
            try:
                number = float(value)
            except OverflowError:
                raise self.make_error("finite") from None
        else:
            raise self.make_error("invalid")
        limit = self.limit
        if not -limit <= number <= limit:  # also false for NaN
            if not math.isfinite(number):
                raise self.make_error("finite")
            raise self.make_error("limit", limit=limit)
        return number if number >= TINY or number <= -TINY else 0.0


class StrictInteger(fields.Field):
    """A JSON integer (an integral float such as 3.0 is accepted as 3)."""

    default_error_messages = {**REQUIRED, "invalid": "Input should be a valid integer"}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise self.make_error("invalid")


class Timestamp(fields.Field):
    """ISO 8601 with an offset (none means UTC), returned as an aware UTC datetime."""

    default_error_messages = {
        **REQUIRED,
        "invalid": "Input should be a valid datetime",
        "range": "Input should be a datetime between 2000-01-01 and one day from now",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or len(value) > 64:
            raise self.make_error("invalid")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise self.make_error("invalid") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        try:
            parsed = parsed.astimezone(UTC)
        except OverflowError:
            raise self.make_error("range") from None
        if not EARLIEST_TS <= parsed <= datetime.now(UTC) + FUTURE_SLACK:
            raise self.make_error("range")
        return parsed


class Text(fields.String):
    """A string with the error texts edge daemons expect."""

    default_error_messages = {
        **REQUIRED,
        "invalid": "Input should be a valid string",
        "invalid_utf8": "Input should be a valid string",
    }


class StrictSchema(Schema):
    """Unknown fields are an error, with the texts edge daemons expect."""

    error_messages = {
        "unknown": "Extra inputs are not permitted",
        "type": "Input should be a valid dictionary",
    }

    class Meta:
        unknown = RAISE


class SampleSchema(StrictSchema):
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


class IngestBatchSchema(StrictSchema):
    """The body of POST /v1/ingest."""

    # Valid batches skip marshmallow's per-item bookkeeping (see fastload.py); the rules
    # and the errors are SampleSchema's.
    samples = CompiledList(
        fields.Nested(SampleSchema),
        required=True,
        error_messages={**REQUIRED, "invalid": "Input should be a valid list"},
    )


class RealtimeQueryArgsSchema(Schema):
    """Query arguments of GET /v1/realtime."""

    class Meta:
        unknown = EXCLUDE

    device_id = Text(required=True, validate=validate.Length(min=1, error="Field required"))


class ZoneName(Text):
    """An IANA time zone name."""

    default_error_messages = {
        **Text.default_error_messages,
        "zone": "Unknown time zone; use an IANA name such as Europe/Berlin",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        name = super()._deserialize(value, attr, data, **kwargs).strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.make_error("zone") from None
        return name


class RangeBound(Text):
    """A range bound: an ISO 8601 timestamp (no offset: UTC) or a date (local midnight)."""

    default_error_messages = {
        **Text.default_error_messages,
        "bound": "Input should be an ISO 8601 date or datetime",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        raw = super()._deserialize(value, attr, data, **kwargs).strip()
        try:
            if len(raw) == 10:
                return date.fromisoformat(raw)
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            raise self.make_error("bound") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class SeriesQueryArgsSchema(RealtimeQueryArgsSchema):
    """Query arguments of GET /v1/series; frame and resolution are checked by the view."""

    frame = Text()
    resolution = Text()
    tz = ZoneName()
    start = RangeBound(data_key="from")
    end = RangeBound(data_key="to")
    format = Text(validate=validate.OneOf(["json", "csv"], error="Input should be 'json' or 'csv'"))


ingest_batch_schema = IngestBatchSchema()
realtime_args_schema = RealtimeQueryArgsSchema()
series_args_schema = SeriesQueryArgsSchema()
