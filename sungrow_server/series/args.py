"""The query arguments of GET /v1/series, with the choices the OpenAPI document shows."""

import re
from datetime import date

from marshmallow import Schema, validate

from ..web.fields import Text, ZoneName, parse_timestamp
from ..web.query_args import DeviceArgsSchema, SiteArgsSchema
from .request import FRAMES, MAX_BUCKETS, RESOLUTIONS

DATE = re.compile(r"\d{4}-\d\d-\d\d", re.ASCII)
FIRST_YEAR, LAST_YEAR = 1900, 2999


class RangeBound(Text):
    """A range bound: a date YYYY-MM-DD (local midnight) or an RFC 3339 date-time (no
    offset: UTC), as ingest takes `ts`. ISO 8601's other forms are refused: `20261101`
    was UTC midnight where `2026-11-01` is local midnight.

    Years 1900 to 2999 only: no sample is stored outside 2000 to tomorrow, and the ends
    of the years Python can hold (1 and 9999) overflowed in local time: a 500.
    """

    default_error_messages = {
        **Text.default_error_messages,
        "bound": "Input should be a date YYYY-MM-DD or an RFC 3339 date-time "
        "such as 2026-11-01T00:00:00Z",
        "years": f"Input should be a date or date-time in the years {FIRST_YEAR} to {LAST_YEAR}",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        raw = super()._deserialize(value, attr, data, **kwargs).strip()
        try:
            bound = date.fromisoformat(raw) if DATE.fullmatch(raw) else parse_timestamp(raw)
        except ValueError:
            raise self.make_error("bound") from None
        if not FIRST_YEAR <= bound.year <= LAST_YEAR:
            raise self.make_error("years")
        return bound


class SeriesOptionsSchema(Schema):
    """What a series request asks for besides its device or site.

    `frame` and `resolution` are checked by request.parse_request, each with its own 422
    text. Each argument's `query` metadata is what the OpenAPI document says of it: its
    choices (`enum`), its `default` and its `description`.
    """

    frame = Text(
        metadata={
            "query": {"enum": sorted(FRAMES), "default": "day", "description": "Unless from/to."}
        }
    )
    resolution = Text(
        metadata={
            "query": {"enum": list(RESOLUTIONS), "default": "hour", "description": "With from/to."}
        }
    )
    tz = ZoneName(
        metadata={
            "query": {"description": "IANA zone for this request; default the site's TIMEZONE."}
        }
    )
    start = RangeBound(
        data_key="from",
        metadata={
            "query": {
                "description": "Range start: RFC 3339 date-time (no offset: UTC) or a local "
                "date YYYY-MM-DD."
            }
        },
    )
    end = RangeBound(
        data_key="to",
        metadata={
            "query": {
                "description": f"Range end (excluded), as from; at most {MAX_BUCKETS} buckets."
            }
        },
    )
    format = Text(validate=validate.OneOf(["json", "csv"], error="Input should be 'json' or 'csv'"))


class SeriesQueryArgsSchema(SeriesOptionsSchema, DeviceArgsSchema):
    """Query arguments of GET /v1/series."""


class SiteSeriesQueryArgsSchema(SeriesOptionsSchema, SiteArgsSchema):
    """Query arguments of GET /v1/series for a site."""


series_args_schema = SeriesQueryArgsSchema()
site_series_args_schema = SiteSeriesQueryArgsSchema()
