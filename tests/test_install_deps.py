"""scripts/install-deps as a new user runs it: quiet when everything is there, and it finds
what Debian leaves out. apt-get is replaced by a stand-in that records its arguments:
installing packages is what these tests must not do."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sungrow_server.testing import REPO

pytestmark = pytest.mark.slow


def stand_in(directory: Path, name: str, script: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


@pytest.fixture
def shims(tmp_path) -> Path:
    """A directory put first on PATH, with an apt-get that records how it was called."""
    directory = tmp_path / "bin"
    directory.mkdir()
    stand_in(directory, "apt-get", f'echo "$*" >> {tmp_path / "apt-get.calls"}')
    return directory


def run(script: Path, shims: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{shims}:{os.environ['PATH']}"}
    return subprocess.run(
        [str(script), *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_with_everything_there_it_installs_nothing_and_says_nothing(shims):
    # scripts/test, which starts the suite, ran it with --test already.
    tools = ("nginx", "openssl", "systemd-analyze")
    if not all(shutil.which(tool) or os.access(f"/usr/sbin/{tool}", os.X_OK) for tool in tools):
        pytest.skip("the test tools are not installed: run scripts/install-deps --test first")
    if os.geteuid() == 0 and not list(Path("/usr/lib/postgresql").glob("*/lib/timescaledb.so")):
        pytest.skip("TimescaleDB is not installed: run scripts/install-deps --test first")
    result = run(REPO / "scripts" / "install-deps", shims, "--test")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert not (shims.parent / "apt-get.calls").exists()


def test_a_python_without_ensurepip_gets_python3_venv(shims, tmp_path):
    # Debian's python3 without python3-venv: no ensurepip, so `python3 -m venv` fails.
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "install-deps", project / "scripts")
    shutil.copy(REPO / "requirements.txt", project)
    stand_in(
        shims,
        "python3",
        'case "$*" in *ensurepip*) exit 1 ;; *) echo "python3 $*: stand-in" >&2; exit 3 ;; esac',
    )
    result = run(project / "scripts" / "install-deps", shims)
    calls = shims.parent / "apt-get.calls"
    if os.geteuid() == 0:
        assert "install -y -q --no-install-recommends python3-venv" in calls.read_text()
    else:
        assert result.returncode == 1
        assert "missing: python3-venv" in result.stderr
        assert not calls.exists()
    assert not (project / ".venv" / "bin" / "pip").exists()


def test_an_unknown_option_is_named():
    result = subprocess.run(
        [str(REPO / "scripts" / "install-deps"), "--tset"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "unknown option '--tset' (known: --timescaledb, --test)" in result.stderr
