"""Liveness: GET /health and GET /, outside authentication."""
