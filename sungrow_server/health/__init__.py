"""Liveness (GET /health, GET /) and readiness (GET /health/ready), outside authentication."""
