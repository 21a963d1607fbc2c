"""GET /openapi.json: the document built once, when the app was made."""

from flask import Blueprint, Flask, current_app

from ..config import Settings
from . import document

EXTENSION = "sungrow.openapi"
bp = Blueprint("openapi", __name__)


def init_app(app: Flask, settings: Settings) -> None:
    """Build the app's OpenAPI document once."""
    app.extensions[EXTENSION] = document.build_spec(settings)


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3 document."""
    return current_app.extensions[EXTENSION]
