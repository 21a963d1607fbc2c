"""The package's rooms and their order: each imports only from rooms below it, so that the
shared base never depends on a capability and a change to one room stays in its folder."""

import ast
from pathlib import Path

from sungrow_server.testing import REPO

PACKAGE = REPO / "sungrow_server"
# Lowest first. A room may import from its own folder and from rooms of lower layers.
LAYERS = (
    {"model", "config"},  # what a sample is; the settings
    {"errors"},  # the one error shape
    {"web", "db"},  # shared HTTP pieces; the pool and the schema
    {"sites"},  # several devices read as one: their rows and commands
    {"auth"},  # who may call /v1: tokens, roles, scopes
    {"realtime"},  # the newest sample and its cache
    {"ops"},  # metrics, request ids, readiness, edge status, alerts, doctor
    {"ingest", "series", "health", "devices"},  # capabilities (they use the realtime cache)
    {"transfer"},  # export and import through ingest's write path; backup and restore
    {"dashboard"},  # the page (GET / answers health's JSON to clients other than browsers)
    {"apidoc"},  # the document of every capability, and /docs
    {"routes", "cli"},  # the app's URLs and commands
    {"__init__"},  # create_app
    {"__main__"},  # the command line of an installed server
)
MAX_LINES = 250


def room_of(path: Path) -> str:
    """The room a module belongs to: its folder under the package, or its own name."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def is_room(name: str) -> bool:
    """Whether `name` is a folder or module of the package (else a name in its __init__)."""
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()


def imported_rooms(source: str, depth: int) -> set[str]:
    """The rooms of the package that a module imports; `depth` is how many folders below
    the package it lies (0 for a top-level module)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level:
            if node.level > depth:  # reaches up to the package itself
                target = (node.module or "").split(".")[0]
                names = [target] if target else [alias.name for alias in node.names]
                found.update(name if is_room(name) else "__init__" for name in names)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names = [node.module] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                if name == "sungrow_server":
                    found.add("__init__")
                elif name.startswith("sungrow_server."):
                    found.add(name.split(".")[1])
    return found


def layer(room: str) -> int:
    return next(index for index, rooms in enumerate(LAYERS) if room in rooms)


def upward(room: str, targets: set[str]) -> set[str]:
    """The imported rooms that are not below `room`."""
    return {target for target in targets - {room} if layer(target) >= layer(room)}


def modules() -> list[Path]:
    return [path for path in PACKAGE.rglob("*.py") if room_of(path) != "testing"]


def test_every_room_has_a_layer():
    assert {room_of(path) for path in modules()} == set().union(*LAYERS)


def test_imports_only_run_down():
    wrong = {}
    for path in modules():
        depth = len(path.relative_to(PACKAGE).parts) - 1
        found = upward(room_of(path), imported_rooms(path.read_text(), depth))
        if found:
            wrong[str(path.relative_to(REPO))] = found
    assert wrong == {}


def test_the_check_catches_an_upward_import():
    # config/settings.py importing a capability, relatively or absolutely, is caught.
    for line in ("from ..series.query import series", "from sungrow_server.ingest import views"):
        assert upward("config", imported_rooms(line, depth=1))
    assert not upward("series", imported_rooms("from ..db.pool import get_pool", depth=1))


def test_the_harness_imports_nothing_of_the_server():
    for path in (PACKAGE / "testing").rglob("*.py"):
        assert imported_rooms(path.read_text(), depth=1) <= {"testing"}, path


def test_modules_stay_short():
    long = {
        str(path.relative_to(REPO)): count
        for path in PACKAGE.rglob("*.py")
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
