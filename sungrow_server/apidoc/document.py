"""The OpenAPI document of docs/API.md's contract, generated from the marshmallow schemas."""

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import fields

from ..config import Settings
from ..ingest.limits import MAX_FIELDS
from ..ingest.schemas import IngestBatchSchema, SampleSchema
from ..realtime.views import RealtimeQueryArgsSchema
from ..series.args import SeriesQueryArgsSchema
from ..web.fields import FiniteNumber, StrictInteger, Text, Timestamp
from . import monitoring
from .answers import JSON, answers, error, success
from .responses import (
    DevicesSchema,
    ErrorDetail,
    HealthSchema,
    IngestResultSchema,
    LocationStep,
    SeriesSchema,
    SiteRealtimeSchema,
    SiteSeriesSchema,
    ValidationItemSchema,
)

BEARER = [{"bearerAuth": []}]


SITE_ID = Text(
    metadata={
        "query": {
            "description": "A site (several devices read as one) instead of a device: give "
            "site_id and leave device_id out; both is a 422. A read-only token's."
        }
    }
)
SUBJECT = (
    "Give device_id for one device, or site_id for a site. OpenAPI 3.0 cannot say 'exactly "
    "one of', so device_id, the form edge daemons use, is listed as required."
)


class RealtimeDocArgsSchema(RealtimeQueryArgsSchema):
    """GET /v1/realtime's query as documented: a device or a site."""

    site_id = SITE_ID


class SeriesDocArgsSchema(SeriesQueryArgsSchema):
    """GET /v1/series's query as documented: a device or a site."""

    site_id = SITE_ID


def _custom_fields(self, field, **kwargs) -> dict:
    """OpenAPI properties of the project's own fields that no (type, format) pair can say."""
    if isinstance(field, ErrorDetail):
        items = self.resolve_nested_schema(ValidationItemSchema)
        return {"oneOf": [{"type": "string"}, {"type": "array", "items": items}]}
    if isinstance(field, fields.Nested) and field.allow_none:  # null or exactly that schema
        return {"anyOf": [self.resolve_nested_schema(field.schema)], "nullable": True}
    if isinstance(field, LocationStep):
        return {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    if isinstance(field, FiniteNumber) and getattr(field, "limit", None):  # magnitude bound
        ret, limit = kwargs["ret"], field.limit
        low, high = max(ret.get("minimum", -limit), -limit), min(ret.get("maximum", limit), limit)
        return {"minimum": low, "maximum": high}
    if isinstance(field, Timestamp) and "description" not in field.metadata:
        return {
            "description": "RFC 3339 date-time, Z or +hh:mm (none: UTC), at most 6 fraction "
            "digits, 2000-01-01 to one day from now."
        }
    notes = field.metadata.get("query", {})  # a query argument's choices and default
    return {key: notes[key] for key in ("enum", "default") if key in notes}


def _query_description(self, field, **kwargs) -> dict:
    """A query argument's description, from its `query` metadata."""
    notes = field.metadata.get("query", {})
    return {"description": notes["description"]} if "description" in notes else {}


def _add_paths(spec: APISpec, settings: Settings) -> None:
    max_samples, span_days = settings.max_samples_per_request, settings.max_batch_span_s / 86400
    ok = success("Liveness: the process serves requests.", HealthSchema)
    spec.path("/health", operations={"get": {"operationId": "getHealth", "responses": answers(ok)}})
    page = {
        "description": "Liveness, as /health. A client whose Accept header prefers text/html "
        "to application/json (a browser) gets the dashboard page instead; no Accept, */* or "
        "application/json get the JSON.",
        "content": {JSON: {"schema": HealthSchema}, "text/html": {"schema": {"type": "string"}}},
    }
    spec.path("/", operations={"get": {"operationId": "getRoot", "responses": answers(page)}})
    monitoring.add_paths(spec)
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
                    "description": f"At most {max_samples} samples (more is a 413), "
                    f"within {span_days:g} days of each other (MAX_BATCH_SPAN_S; more is a "
                    f"422); at most {MAX_FIELDS} fields in the body and in each sample (more is "
                    "a 422). Unknown fields, within that limit, are ignored and not stored.",
                    "content": {JSON: {"schema": IngestBatchSchema}},
                },
                "responses": {
                    **answers(
                        success("Stored; counts only rows newly written.", IngestResultSchema),
                        *(400, 401, 403, 408, 413, 415, 422, 429, 503),
                    ),
                    503: error(
                        "Database unavailable, or too many slow uploads at once; try again later.",
                        "Retry-After",
                    ),
                },
            }
        },
    )
    spec.path(
        "/v1/realtime",
        operations={
            "get": {
                "operationId": "getRealtime",
                "summary": "The newest sample of a device, or of each device of a site.",
                "description": SUBJECT,
                "security": BEARER,
                "parameters": [{"in": "query", "schema": RealtimeDocArgsSchema}],
                "responses": answers(
                    success(
                        "The newest sample, ts in UTC with offset; for a site, each member's "
                        "and their total.",
                        {"oneOf": [SampleSchema, SiteRealtimeSchema]},
                    ),
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
                "description": SUBJECT,
                "security": BEARER,
                "parameters": [{"in": "query", "schema": SeriesDocArgsSchema}],
                "responses": answers(
                    {
                        "description": "Buckets in ascending time; CSV for format=csv or "
                        "Accept: text/csv.",
                        "content": {
                            JSON: {"schema": {"oneOf": [SeriesSchema, SiteSeriesSchema]}},
                            "text/csv": {},
                        },
                    },
                    *(401, 403, 404, 422, 429, 503),
                ),
            }
        },
    )
    spec.path(
        "/v1/devices",
        operations={
            "get": {
                "operationId": "getDevices",
                "summary": "The devices and sites the token can read, how fresh each device "
                "is and whether its edge is stuck on a refused batch.",
                "security": BEARER,
                "responses": answers(
                    success("Devices sorted by id; sites with their members.", DevicesSchema),
                    *(401, 429, 503),
                ),
            }
        },
    )


def build_spec(settings: Settings) -> dict:
    """The OpenAPI document of an app with these settings, as a JSON-ready dict."""
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
    plugin.converter.add_parameter_attribute_function(_query_description)
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    _add_paths(spec, settings)
    return spec.to_dict()
