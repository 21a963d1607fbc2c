"""marshmallow fields with the exact types and error texts edge daemons already parse."""

import math
import re
from datetime import UTC, datetime, timedelta

from marshmallow import fields

from ..config.parsers import is_zone_name
from ..errors import RFC3339_ONLY

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


# RFC 3339 (section 5.6), as edge daemons write timestamps: a full date and time with
# seconds, a fraction, and `Z` or a `+hh:mm`/`-hh:mm` offset; `t`, `z` and a space for
# the `T` are RFC 3339 too. Without an offset a timestamp is UTC, as API.md says.
# Python's own parser also takes week dates (2026-W48-2), bare dates, the basic format
# (20261129T013000Z) and offsets with seconds, and cuts a fraction after six digits, so
# that .0000001 and .0000009 became one row: none of that is taken.
RFC3339 = re.compile(
    r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)?",
    re.ASCII,
)


class NotRFC3339(ValueError):
    """Python reads it as a time, RFC 3339 does not."""


def parse_timestamp(text: str) -> datetime:
    """An RFC 3339 date-time (no offset: UTC) as an aware datetime, to the microsecond.

    ValueError if it is not one; NotRFC3339 if it is another ISO 8601 form. A fraction
    may have more than six digits only if the others are zeros: PostgreSQL keeps
    microseconds, and two instants must never become one row. Checked by the pattern,
    converted by Python's own parser (a third of the time of converting the parts).
    """
    match = RFC3339.fullmatch(text)
    if match is None:
        datetime.fromisoformat(text)  # ValueError: not a timestamp at all
        raise NotRFC3339(text)
    fraction, zone = match.groups()
    if fraction and len(fraction) > 7:
        if fraction[7:].strip("0"):
            raise NotRFC3339(text)
        text = text[:26] + text[19 + len(fraction) :]
    if zone == "z":
        text = text[:-1] + "Z"
    parsed = datetime.fromisoformat(text)  # ValueError: no such day, hour or offset
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Timestamp(fields.Field):
    """An RFC 3339 date-time (none: UTC), returned as an aware UTC datetime."""

    default_error_messages = {
        **REQUIRED,
        "invalid": "Input should be a valid datetime",
        "rfc3339": RFC3339_ONLY,
        "range": "Input should be a datetime between 2000-01-01 and one day from now",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or len(value) > 64:
            raise self.make_error("invalid")
        try:
            parsed = parse_timestamp(value)
        except NotRFC3339:
            raise self.make_error("rfc3339") from None
        except ValueError:
            raise self.make_error("invalid") from None
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
        if not is_zone_name(name):
            raise self.make_error("zone")
        return name
