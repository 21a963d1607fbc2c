"""GET /: the dashboard for a browser, the liveness answer for everything else."""

from pathlib import Path

from flask import Blueprint, current_app, request

from ..health.views import health
from ..web.pages import AssetFolder, page

bp = Blueprint("dashboard", __name__, template_folder="templates")
assets = AssetFolder(Path(__file__).parent / "static")
bp.add_url_rule("/static/dashboard/<path:filename>", "asset", assets.response)


def wants_page() -> bool:
    """Whether the client prefers HTML to JSON, as a browser's Accept header says.

    Health checkers, curl and edge daemons send no Accept, `*/*` or `application/json`,
    and keep getting `{"status": "ok"}` from `/`, as the contract has always said.
    """
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"


@bp.get("/")
def index():
    """The page for a browser; `{"status": "ok"}` for any other client."""
    response = page("dashboard.html") if wants_page() else current_app.make_response(health())
    response.vary.add("Accept")  # one URL, two answers: caches must tell them apart
    return response
