"""The wheel is the whole product: built from this checkout, installed into a fresh virtual environment outside
it, `zipfit app` serves the app and the installed entry script runs its first page, with no file of the
checkout on the path."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
import tomllib
from .nested_env import environment_over_this_one

REPO = Path(__file__).resolve().parents[2]
TOP_LEVEL_LEFT_OUT = {".git", "build", "dist", "data", "tests", "benchmarks", "test-artifacts", ".hypothesis",
                      ".benchmarks", ".pytest_cache", ".ruff_cache", ".grimp_cache", ".import_linter_cache"}
STARTUP_SECONDS = 120


def left_out_of_the_copy(folder: str, names: list[str]) -> set[str]:
    """Caches and bytecode anywhere; at the top, what is not part of the build (tests, local data, git)."""
    top = Path(folder).resolve() == REPO
    return {name for name in names if name == "__pycache__" or name.endswith((".pyc", ".egg-info"))
            or (top and name in TOP_LEVEL_LEFT_OUT)}


def packages_on_disk() -> set[str]:
    return {path.parent.relative_to(REPO).as_posix().replace("/", ".")
            for top in ("zipfit_core", "zipfit_app") for path in (REPO / top).rglob("__init__.py")
            if "__pycache__" not in path.parts}


def shipped_files() -> set[str]:
    """What the wheel must hold: every module of the library and the app, the demo data, the entry script, every
    page (whatever it is called) and the Streamlit settings, as paths inside the wheel."""
    wanted = {f"zipfit_studio/{path.relative_to(REPO).as_posix()}"
              for path in [REPO / "app.py", REPO / ".streamlit" / "config.toml", *(REPO / "pages").glob("*.py")]}
    for top in ("zipfit_core", "zipfit_app"):
        wanted |= {path.relative_to(REPO).as_posix() for path in (REPO / top).rglob("*")
                   if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"}
    return wanted


def test_pyproject_lists_every_package_of_the_library_and_the_app() -> None:
    """setuptools gets an explicit list (the app's entry script needs a package mapped to the root folder):
    a new subpackage must be added there, or the wheel would lack it."""
    configured = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert set(configured["packages"]) == packages_on_disk() | {"zipfit_studio"}
    assert configured["package-dir"] == {"zipfit_studio": "."}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the checkout (the build writes build/ and *.egg-info beside the sources)."""
    source = tmp_path_factory.mktemp("source") / "zipfit-studio"
    shutil.copytree(REPO, source, ignore=left_out_of_the_copy, symlinks=True)
    out = tmp_path_factory.mktemp("dist")
    # No build isolation: the test environment's setuptools (requirements-test.txt) builds, with no download.
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                             "--disable-pip-version-check", "-q", "-w", str(out)],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    (built,) = out.glob("zipfit_studio-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory) -> Path:
    """A fresh virtual environment outside the checkout with the wheel installed (the heavy dependencies come from
    the environment running the tests, so nothing is downloaded)."""
    folder = tmp_path_factory.mktemp("venv") / "env"
    python = environment_over_this_one(folder)
    result = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                             "--disable-pip-version-check", "-q", str(wheel)], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    return folder


def outside_environment(tmp_path: Path) -> dict[str, str]:
    """The environment of a user who never cloned the repository: nothing of the checkout on the path."""
    environment = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "PYTHONHOME")}
    environment.update(HF_HUB_OFFLINE="1", ZIPFIT_CACHE_DIR=str(tmp_path / "cache"), PYTHONUNBUFFERED="1",
                       ZIPFIT_DATA_ROOT=str(tmp_path))
    return environment


def test_the_wheel_holds_the_library_the_app_and_every_page(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = shipped_files() - names
    assert not missing, sorted(missing)
    assert not [name for name in names if name.startswith(("tests/", "benchmarks/", "zipfit_studio/tests/"))]
    metadata = zipfile.ZipFile(wheel).read(next(name for name in names if name.endswith("/METADATA"))).decode()
    app_extra = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    streamlit = next(item for item in app_extra["app"] if item.startswith("streamlit")).replace(" ", "")
    assert "Provides-Extra: app" in metadata and streamlit in metadata.replace(" ", "")


def test_the_wheel_carries_the_license(wheel: Path) -> None:
    """pyproject.toml says MIT: the license's text travels in the wheel's dist-info, and the metadata names it."""
    archive = zipfile.ZipFile(wheel)
    licenses = [name for name in archive.namelist() if name.split("/")[0].endswith(".dist-info")
                and name.endswith("/LICENSE")]  # dist-info/LICENSE, or dist-info/licenses/LICENSE (PEP 639)
    assert len(licenses) == 1, archive.namelist()
    assert archive.read(licenses[0]).decode("utf-8") == (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "MIT License" in archive.read(licenses[0]).decode("utf-8")
    metadata = archive.read(next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA")))
    assert "License-File: LICENSE" in metadata.decode("utf-8")

def test_the_installed_packages_import_from_the_environment_not_the_checkout(venv: Path, tmp_path: Path) -> None:
    probe = ("import json, zipfit_app, zipfit_core, zipfit_core.cli.app as app;"
             "print(json.dumps([zipfit_app.__file__, zipfit_core.__file__, str(app.app_script())]))")
    result = subprocess.run([str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path, capture_output=True,
                            text=True, env=outside_environment(tmp_path), timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    for location in json.loads(result.stdout):
        assert Path(location).resolve().is_relative_to(venv.resolve()), location
        assert not Path(location).resolve().is_relative_to(REPO), location
    assert json.loads(result.stdout)[2].endswith("zipfit_studio/app.py")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode("utf-8", errors="replace")


@pytest.mark.timeout(STARTUP_SECONDS + 300)
def test_zipfit_app_serves_the_app_from_the_installed_wheel(venv: Path, tmp_path: Path) -> None:
    port = free_port()
    data_root = tmp_path / "my-data"
    data_root.mkdir()
    log = open(tmp_path / "server.log", "w+", encoding="utf-8")  # noqa: SIM115 (closed in `finally`, after the server)
    server = subprocess.Popen([str(venv / "bin" / "zipfit"), "app", "--port", str(port), "--data-root",
                               str(data_root)], cwd=tmp_path, env=outside_environment(tmp_path), stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, health = time.monotonic() + STARTUP_SECONDS, ""
        while time.monotonic() < deadline and server.poll() is None:
            try:
                health = fetch(f"http://127.0.0.1:{port}/_stcore/health")
                break
            except OSError:
                time.sleep(0.5)
        log.seek(0)
        assert health == "ok", (server.poll(), log.read())
        page = fetch(f"http://127.0.0.1:{port}/")
        assert '<div id="root">' in page and "<title>" in page
        log.seek(0)
        output = log.read()
        assert f":{port}" in output and "Traceback" not in output  # Streamlit says where it serves
    finally:
        with contextlib.suppress(ProcessLookupError):  # a server that died at start-up: its failure is the report
            os.killpg(server.pid, 15)  # the command and the Streamlit server it started
        server.wait(timeout=30)
        log.close()


@pytest.mark.timeout(300)
def test_the_installed_entry_script_runs_the_first_page(venv: Path, tmp_path: Path) -> None:
    """The page script really runs from the installed copy (AppTest in the environment, no browser): the frame
    draws the navigation and the Data page, with no exception."""
    probe = """
import json, sys
from streamlit.testing.v1 import AppTest
import zipfit_core.cli.app as app
script = app.app_script()
at = AppTest.from_file(str(script), default_timeout=120).run()
print(json.dumps({"script": str(script), "exceptions": [str(item.value) for item in at.exception],
                  "titles": [str(item.value) for item in at.title],
                  "modules": sorted({module.__file__ for name, module in sys.modules.items()
                                     if name.split(".")[0] in ("zipfit_app", "zipfit_core") and module.__file__})}))
"""
    result = subprocess.run([str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path, capture_output=True,
                            text=True, env=outside_environment(tmp_path), timeout=240, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["exceptions"] == []
    assert "Data" in report["titles"]
    assert all(Path(module).resolve().is_relative_to(venv.resolve()) for module in report["modules"])
