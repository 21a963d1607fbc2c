"""The query arguments of GET /v1/series, with the choices the OpenAPI document shows."""

from datetime import UTC, date, datetime

from marshmallow import Schema, validate

from ..web.fields import Text, ZoneName
from ..web.query_args import DeviceArgsSchema, SiteArgsSchema
from .request import FRAMES, MAX_BUCKETS, RESOLUTIONS


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
                "description": "Range start: ISO 8601 timestamp (no offset: UTC) or a local date."
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
