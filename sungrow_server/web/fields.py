"""marshmallow fields with the exact types and error texts edge daemons already parse."""

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import fields

REQUIRED = {"required": "Field required", "null": "Field required"}

TINY = 1e-9

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
