"""GET /health/ready and GET /metrics in the OpenAPI document."""

from apispec import APISpec

from .answers import answers, success
from .responses import ReadinessSchema


def add_paths(spec: APISpec) -> None:
    """Readiness and the metrics: for operators, outside authentication."""
    ready = success(
        "PostgreSQL answers within 1 s; `degraded`: Redis or the rollups do not.", ReadinessSchema
    )
    spec.path(
        "/health/ready",
        operations={"get": {"operationId": "getReadiness", "responses": answers(ready, 503)}},
    )
    metrics = {
        "description": "Prometheus text format, all workers together.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    spec.path(
        "/metrics",
        operations={
            "get": {
                "operationId": "getMetrics",
                "summary": "For client addresses in METRICS_ALLOW only.",
                "responses": answers(metrics, 404, not_found="Not an allowed address."),
            }
        },
    )
