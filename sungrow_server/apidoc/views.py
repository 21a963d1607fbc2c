"""GET /openapi.json: the document built once, when the app was made; GET /docs: the
document rendered by Swagger UI, served by this server like the dashboard."""

from pathlib import Path

from flask import Blueprint, Flask, current_app

from ..config import Settings
from ..web.pages import AssetFolder, page
from . import document

EXTENSION = "sungrow.openapi"
bp = Blueprint("openapi", __name__, template_folder="templates")
assets = AssetFolder(Path(__file__).parent / "static")
bp.add_url_rule("/static/docs/<path:filename>", "asset", assets.response)


def init_app(app: Flask, settings: Settings) -> None:
    """Build the app's OpenAPI document once."""
    app.extensions[EXTENSION] = document.build_spec(settings)


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3 document."""
    return current_app.extensions[EXTENSION]


@bp.get("/docs")
def docs():
    """The API reference, rendered in the browser from /openapi.json."""
    return page("docs.html")
