"""Cross-origin reads: a page served from an origin of CORS_ALLOW_ORIGINS may call the
GET endpoints of /v1 with its token in Authorization; ingest never answers a browser."""

from flask import Flask, Request
from flask_cors import CORS

from ..config import Settings

# The read endpoints; /v1/ingest is left out, so a page can never write.
READ_PATHS = r"^/v1/(realtime|series|devices)$"


def init_app(app: Flask, settings: Settings) -> None:
    """CORS headers on the read endpoints for the configured origins (none by default).

    flask-cors keeps the rules of the CORS protocol (preflights, `Vary: Origin`, which
    request headers may be allowed) that a hand-written after_request would have to
    restate; it answers only origins of the list, and only on READ_PATHS.
    """
    if not settings.cors_allow_origins:
        return
    CORS(
        app,
        resources={READ_PATHS: {}},
        origins=list(settings.cors_allow_origins),
        methods=["GET"],
        allow_headers=["Authorization"],
        expose_headers=["Retry-After", "Content-Disposition"],
        supports_credentials=False,  # bearer tokens, no cookies
        max_age=600,
        intercept_exceptions=False,  # errors already pass through after_request
    )


def is_preflight(request: Request) -> bool:
    """A browser's CORS preflight: OPTIONS with Access-Control-Request-Method. It carries
    no credentials and gets no data, so it needs no token."""
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
