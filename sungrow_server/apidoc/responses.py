"""The answers of the API as marshmallow schemas, for the OpenAPI document only."""

from marshmallow import RAISE, Schema, fields

from ..auth import ROLES
from ..ops.readiness import EDITIONS
from ..series.request import FRAMES, RESOLUTIONS
from ..web.fields import Timestamp


class ErrorDetail(fields.Raw):
    """The `detail` of an error: a sentence, or a list of validation items."""


class LocationStep(fields.Raw):
    """One step of a validation item's `loc`: a key or a list index."""


class ResponseSchema(Schema):
    """Answers carry exactly the documented fields."""

    class Meta:
        unknown = RAISE


class HealthSchema(ResponseSchema):
    """The answer of GET /health and GET /."""

    status = fields.String(required=True, metadata={"enum": ["ok"]})


class ReadinessSchema(ResponseSchema):
    """The 200 of GET /health/ready: PostgreSQL answers; Redis or the rollups may not."""

    status = fields.String(required=True, metadata={"enum": ["ok", "degraded"]})
    database = fields.String(required=True, metadata={"enum": ["ok"]})
    redis = fields.String(required=True, metadata={"enum": ["ok", "unavailable"]})
    edition = fields.String(required=True, metadata={"enum": list(EDITIONS)})
    reasons = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "One sentence per cause of `degraded`; empty when ok."},
    )


class IngestResultSchema(ResponseSchema):
    """The answer of POST /v1/ingest: rows newly written."""

    inserted = fields.Integer(required=True, metadata={"minimum": 0})


class BucketSchema(ResponseSchema):
    """One bucket of GET /v1/series; averages are over raw samples."""

    bucket = Timestamp(required=True, metadata={"description": "Bucket start, UTC with offset."})
    avg_pv_power_w = fields.Float(required=True)
    max_pv_power_w = fields.Float(required=True)
    avg_battery_power_w = fields.Float(required=True)
    avg_battery_soc_pct = fields.Float(required=True, metadata={"minimum": 0, "maximum": 100})
    avg_load_power_w = fields.Float(required=True)
    avg_export_power_w = fields.Float(required=True)
    sample_count = fields.Integer(required=True, metadata={"minimum": 1})
    pv_energy_kwh = fields.Float(required=True)
    load_energy_kwh = fields.Float(required=True, metadata={"minimum": 0})
    export_energy_kwh = fields.Float(required=True, metadata={"minimum": 0})
    import_energy_kwh = fields.Float(required=True, metadata={"minimum": 0})
    battery_charge_kwh = fields.Float(required=True, metadata={"minimum": 0})
    battery_discharge_kwh = fields.Float(required=True, metadata={"minimum": 0})
    coverage = fields.Float(required=True, metadata={"minimum": 0, "maximum": 1})
    incomplete = fields.Boolean(required=True)


class SeriesSchema(ResponseSchema):
    """The JSON answer of GET /v1/series: a frame, or a from/to range."""

    device_id = fields.String(required=True)
    frame = fields.String(metadata={"enum": sorted(FRAMES)})
    start = Timestamp(data_key="from", metadata={"description": "Range start, with offset."})
    end = Timestamp(data_key="to", metadata={"description": "Range end, with offset."})
    resolution = fields.String(required=True, metadata={"enum": list(RESOLUTIONS)})
    timezone = fields.String(required=True, metadata={"description": "The zone used."})
    series = fields.List(fields.Nested(BucketSchema), required=True)


class ValidationItemSchema(ResponseSchema):
    """One item of a 422 list."""

    loc = fields.List(LocationStep(), required=True)
    msg = fields.String(required=True)
    type = fields.String(required=True)


class ErrorSchema(ResponseSchema):
    """Every error body."""

    detail = ErrorDetail(required=True)


class SiteSeriesSchema(ResponseSchema):
    """The JSON answer of GET /v1/series for a site: its members' buckets combined."""

    site_id = fields.String(required=True)
    devices = fields.List(fields.String(), required=True, metadata={"description": "Members."})
    frame = fields.String(metadata={"enum": sorted(FRAMES)})
    start = Timestamp(data_key="from", metadata={"description": "Range start, with offset."})
    end = Timestamp(data_key="to", metadata={"description": "Range end, with offset."})
    resolution = fields.String(required=True, metadata={"enum": list(RESOLUTIONS)})
    timezone = fields.String(required=True, metadata={"description": "The zone used."})
    series = fields.List(fields.Nested(BucketSchema), required=True)


class MemberSampleSchema(ResponseSchema):
    """A member of a site: its newest sample, or only `device_id` and a null `ts`."""

    device_id = fields.String(required=True)
    ts = Timestamp(required=True, allow_none=True, metadata={"description": "null: no data."})
    pv_power_w = fields.Float()
    pv_daily_kwh = fields.Float(allow_none=True)
    battery_power_w = fields.Float()
    battery_soc_pct = fields.Float()
    battery_temp_c = fields.Float(allow_none=True)
    load_power_w = fields.Float()
    export_power_w = fields.Float()
    sample_count = fields.Integer()


class SiteTotalSchema(ResponseSchema):
    """The members' sum: powers of those reporting, today's daily counters, mean SoC."""

    ts = Timestamp(required=True, allow_none=True, metadata={"description": "Newest member ts."})
    pv_power_w = fields.Float(required=True)
    battery_power_w = fields.Float(required=True)
    load_power_w = fields.Float(required=True)
    export_power_w = fields.Float(required=True)
    pv_daily_kwh = fields.Float(required=True, allow_none=True)
    battery_soc_pct = fields.Float(required=True, allow_none=True)
    devices_reporting = fields.Integer(required=True, metadata={"minimum": 0})


class SiteRealtimeSchema(ResponseSchema):
    """The answer of GET /v1/realtime for a site."""

    site_id = fields.String(required=True)
    devices = fields.List(fields.Nested(MemberSampleSchema), required=True)
    total = fields.Nested(SiteTotalSchema, required=True)


class LastRefusedSchema(ResponseSchema):
    """A device's last ingest batch answered with a 4xx after authentication."""

    at = Timestamp(required=True, metadata={"description": "When, UTC with offset."})
    status = fields.Integer(required=True, metadata={"minimum": 400, "maximum": 499})
    detail = fields.String(required=True, metadata={"description": "The first error's text."})


class DeviceStateSchema(ResponseSchema):
    """A device the token can read, how fresh its data is, and whether its edge is stuck."""

    device_id = fields.String(required=True)
    last_ts = Timestamp(required=True, allow_none=True, metadata={"description": "null: no data."})
    age_s = fields.Float(required=True, allow_none=True)
    stale = fields.Boolean(required=True, metadata={"description": "Older than STALE_AFTER_S."})
    last_refused = fields.Nested(LastRefusedSchema, required=True, allow_none=True)
    refused_since_stored = fields.Integer(
        required=True,
        metadata={"minimum": 0, "description": "Refused since newer data was stored."},
    )
    unknown_fields = fields.Integer(
        required=True,
        metadata={"minimum": 0, "description": "Values of unknown sample fields ignored."},
    )


class SiteMembersSchema(ResponseSchema):
    """A site the token can read, and its members."""

    site_id = fields.String(required=True)
    devices = fields.List(fields.String(), required=True)


class DevicesSchema(ResponseSchema):
    """The answer of GET /v1/devices."""

    role = fields.String(required=True, metadata={"enum": list(ROLES)})
    timezone = fields.String(required=True, metadata={"description": "The site's TIMEZONE."})
    stale_after_s = fields.Integer(required=True, metadata={"minimum": 1})
    devices = fields.List(fields.Nested(DeviceStateSchema), required=True)
    sites = fields.List(fields.Nested(SiteMembersSchema), required=True)
