"""GET /openapi.json: the HTTP contract of docs/API.md, generated from the marshmallow schemas."""

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app
from marshmallow import RAISE, Schema, fields

from .rollups import FRAMES, RESOLUTIONS
from .schemas import (
    FiniteNumber,
    IngestBatchSchema,
    RealtimeQueryArgsSchema,
    SampleSchema,
    SeriesQueryArgsSchema,
    StrictInteger,
    Timestamp,
)

JSON = "application/json"
BEARER = [{"bearerAuth": []}]
HEADERS = {
    "WWW-Authenticate": {"description": "`Bearer`", "required": True, "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds", "required": True, "schema": {"type": "integer"}},
}
# What the series view, not its schema, checks and defaults (each with its own 422 text).
SERIES_QUERY = {
    "frame": {"enum": sorted(FRAMES), "default": "day", "description": "Unless from/to."},
    "resolution": {"enum": list(RESOLUTIONS), "default": "hour", "description": "With from/to."},
    "from": {"description": "Range start: ISO 8601 timestamp (no offset: UTC) or a local date."},
    "to": {"description": "Range end (excluded), as from; at most 10000 buckets."},
    "tz": {"description": "IANA zone for this request; default the site's TIMEZONE."},
}

bp = Blueprint("openapi", __name__)


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


def _custom_fields(self, field, **kwargs) -> dict:
    """OpenAPI properties of the project's own fields that no (type, format) pair can say."""
    if isinstance(field, ErrorDetail):
        items = self.resolve_nested_schema(ValidationItemSchema)
        return {"oneOf": [{"type": "string"}, {"type": "array", "items": items}]}
    if isinstance(field, LocationStep):
        return {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    if isinstance(field, FiniteNumber) and getattr(field, "limit", None):  # magnitude bound
        ret, limit = kwargs["ret"], field.limit
        low, high = max(ret.get("minimum", -limit), -limit), min(ret.get("maximum", limit), limit)
        return {"minimum": low, "maximum": high}
    if isinstance(field, Timestamp) and "description" not in field.metadata:
        return {"description": "ISO 8601, offset optional (UTC), 2000-01-01 to one day from now."}
    return {}


def _error(description: str, header: str | None = None) -> dict:
    response = {"description": description, "content": {JSON: {"schema": ErrorSchema}}}
    if header:
        response["headers"] = {header: HEADERS[header]}
    return response


def _responses(ok: dict, *errors: int) -> dict:
    """The 200 and the error responses of API.md for one operation."""
    known = {
        400: _error("Body is not valid JSON or not valid gzip."),
        401: _error("Missing credentials, or invalid or expired token.", "WWW-Authenticate"),
        403: _error("The device is not the authenticated device."),
        404: _error("No data found for the device."),
        413: _error("Body over MAX_REQUEST_BYTES, or more samples than MAX_SAMPLES_PER_REQUEST."),
        415: _error("A Content-Encoding other than gzip or identity."),
        422: _error("A list of {loc, msg, type}; a sentence for the series' own checks."),
        429: _error("Too many failed authentications from this address.", "Retry-After"),
        503: _error("Database unavailable, try again later.", "Retry-After"),
    }
    return {200: ok, **{status: known[status] for status in errors}}


def _ok(description: str, schema) -> dict:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _add_paths(spec: APISpec, max_samples: int) -> None:
    for path, name in (("/health", "getHealth"), ("/", "getRoot")):
        ok = _ok("Liveness: the process serves requests.", HealthSchema)
        spec.path(path, operations={"get": {"operationId": name, "responses": _responses(ok)}})
    spec.path(
        "/v1/ingest",
        operations={
            "post": {
                "operationId": "ingest",
                "summary": "Store a batch of samples atomically; repeats are skipped.",
                "security": BEARER,
                "parameters": [
                    {
                        "in": "header",
                        "name": "Content-Encoding",
                        "description": "The body may be gzip-compressed; "
                        "the size limit applies after decompression.",
                        "schema": {"type": "string", "enum": ["gzip", "identity"]},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "description": f"At most {max_samples} samples (more is a 413).",
                    "content": {JSON: {"schema": IngestBatchSchema}},
                },
                "responses": _responses(
                    _ok("Stored; counts only rows newly written.", IngestResultSchema),
                    *(400, 401, 403, 413, 415, 422, 429, 503),
                ),
            }
        },
    )
    spec.path(
        "/v1/realtime",
        operations={
            "get": {
                "operationId": "getRealtime",
                "summary": "The newest sample of a device.",
                "security": BEARER,
                "parameters": [{"in": "query", "schema": RealtimeQueryArgsSchema}],
                "responses": _responses(
                    _ok("The newest sample, ts in UTC with offset.", SampleSchema),
                    *(401, 403, 404, 422, 429, 503),
                ),
            }
        },
    )
    spec.path(
        "/v1/series",
        operations={
            "get": {
                "operationId": "getSeries",
                "summary": "Rollups of a frame or of a from/to range, as JSON or CSV.",
                "security": BEARER,
                "parameters": [{"in": "query", "schema": SeriesQueryArgsSchema}],
                "responses": _responses(
                    {
                        "description": "Buckets in ascending time; CSV for format=csv or "
                        "Accept: text/csv.",
                        "content": {JSON: {"schema": SeriesSchema}, "text/csv": {}},
                    },
                    *(401, 403, 422, 429, 503),
                ),
            }
        },
    )


def build_spec(app: Flask) -> dict:
    """The OpenAPI document of this app, as a JSON-ready dict."""
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="sungrow-server",
        version="1",
        openapi_version="3.0.3",
        plugins=[plugin],
        info={"description": "Sungrow inverter telemetry; every detail text is in docs/API.md."},
    )
    plugin.map_to_openapi_type(FiniteNumber, "number", None)
    plugin.map_to_openapi_type(StrictInteger, "integer", None)
    plugin.map_to_openapi_type(Timestamp, "string", "date-time")
    plugin.converter.add_attribute_function(_custom_fields)
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    settings = app.config["SETTINGS"]
    _add_paths(spec, settings.max_samples_per_request)
    document = spec.to_dict()
    for parameter in document["paths"]["/v1/series"]["get"]["parameters"]:
        notes = dict(SERIES_QUERY.get(parameter["name"], {}))
        if "description" in notes:
            parameter["description"] = notes.pop("description")
        parameter["schema"].update(notes)
    return document


@bp.record_once
def _build(state) -> None:
    state.app.extensions["sungrow.openapi"] = build_spec(state.app)


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3 document, built once when the app was made."""
    return current_app.extensions["sungrow.openapi"]
