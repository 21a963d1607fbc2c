"""The server as a package: a wheel that carries the schema and the command line, without
the test harness, and a deployment lock that pins what the tests ran with."""

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from sungrow_server.testing import REPO
from tests.helpers import make_env, new_database

PIP = (sys.executable, "-m", "pip", "-q", "--disable-pip-version-check")
TEST_TOOLS = ("pytest", "pytest-postgresql", "ruff", "schemathesis", "hypothesis", "pip-tools")


def pins(path: Path) -> dict[str, str]:
    """name -> version of every `name==version` line of a requirements file."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==([^\s;\\]+)", line)
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def pip(*args: str) -> None:
    """Run pip in this environment; fail the test with its output if it fails."""
    done = subprocess.run([*PIP, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel `pip wheel .` builds, from a copy of the source (the tree stays clean)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("sungrow_server", "sql"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(source))
    return next(out.glob("sungrow_server-*.whl"))


def test_wheel_carries_every_room_and_the_schema_but_not_the_harness(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    sql_files = sorted(p.name for p in (REPO / "sql").glob("*.sql"))
    assert sql_files and all(f"sungrow_server/sql/{name}" in names for name in sql_files)
    rooms = {p.parent.relative_to(REPO).as_posix() for p in REPO.glob("sungrow_server/**/*.py")}
    shipped = {name.rsplit("/", 1)[0] for name in names if name.endswith(".py")}
    assert shipped == rooms - {"sungrow_server/testing"}
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "sungrow-server = sungrow_server.__main__:main" in text


def test_installed_command_applies_the_packaged_schema(wheel, clusters, redis_url, tmp_path):
    """Installed away from the source tree, `sungrow-server init-db` finds sql/ in the package."""
    target = tmp_path / "site"
    pip("install", "--no-deps", "--no-index", "--target", str(target), str(wheel))
    cluster = clusters.get("postgresql")
    with new_database(cluster) as janitor:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("FLASK_")},
            **make_env(cluster.url(janitor.dbname), redis_url),
            "PYTHONPATH": str(target),  # the installed package only, not the source tree
        }
        command = [str(target / "bin" / "sungrow-server"), "init-db"]
        run = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert "applied 001_samples.sql" in run.stdout
        probe = "import sungrow_server, sungrow_server.testing"
        missing = subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path)
        assert missing.returncode == 1  # the test harness is not installed


def test_lock_pins_the_runtime_at_the_tested_versions():
    lock_path = REPO / "requirements.lock"
    lock, tested = pins(lock_path), pins(REPO / "requirements.txt")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = {re.split(r"[\[<>=]", dep)[0].lower() for dep in project["dependencies"]}
    assert runtime <= lock.keys()
    for name in runtime:
        assert lock[name] == tested[name], name
    assert not set(TEST_TOOLS) & lock.keys()  # a deployment installs no test tools
    blocks = re.split(r"\n(?=[A-Za-z])", lock_path.read_text())
    pinned = [block for block in blocks if "==" in block.split("\n", 1)[0]]
    assert len(pinned) == len(lock)
    assert all("--hash=sha256:" in block for block in pinned)  # pip checks every download


def test_wheel_carries_the_pages_and_their_licences(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for room in ("dashboard", "apidoc"):
        folder = REPO / "sungrow_server" / room
        files = [p for sub in ("templates", "static") for p in (folder / sub).rglob("*")]
        expected = {p.relative_to(REPO).as_posix() for p in files if p.is_file()}
        assert expected and expected <= names, expected - names
    assert "sungrow_server/dashboard/static/vendor/uplot/LICENSE" in names
    assert "sungrow_server/apidoc/static/vendor/swagger-ui/LICENSE" in names
