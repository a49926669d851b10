"""The shape of the core: its public API, one version, one error hierarchy, modules of a readable size, the
layering contracts, and library messages that the CLI and the app put in their own words.

The import contracts themselves (.importlinter) run before pytest in scripts/test.sh; the test here checks
that they still catch what they are for: an upward import, and a cycle hidden inside a function.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import tomllib

import zipfit_core
from zipfit_app.ui.markdown import message
from zipfit_core.cli.main import main
from zipfit_core.cli.words import cli_text
from zipfit_core.errors import CacheDamaged, ScoringCancelled, ZipFitError
from zipfit_core.store.cache_admin import PruneCriteria

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "zipfit_core"
LAYERS = ("scoring", "data", "store", "jobs", "analysis", "engines", "cli")
MAX_MODULE_LINES = 500
APP = REPO / "zipfit_app"
APP_LAYERS = ("actions", "panels", "services", "state", "ui")
MAX_PAGE_LINES = 10


def test_the_public_api_names_what_a_library_user_needs():
    missing = [name for name in zipfit_core.__all__ if not hasattr(zipfit_core, name)]
    assert missing == []
    for needed in ("alignment_scores", "score_sources", "load_source", "select", "export_selection", "METHODS",
                   "JobManager", "ScoreRun", "ZipFitError"):
        assert needed in zipfit_core.__all__


def test_the_version_is_written_once():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert metadata.version("zipfit-studio") == zipfit_core.__version__  # the installed package read _version.py
    written = [path.relative_to(REPO) for path in CORE.rglob("*.py") if "__version__ = " in path.read_text()]
    assert written == [Path("zipfit_core/_version.py")]


def test_every_error_a_user_can_cause_is_a_zipfit_error():
    assert issubclass(ScoringCancelled, ZipFitError) and issubclass(CacheDamaged, ZipFitError)


def test_the_core_is_in_layers_of_modules_under_500_lines():
    assert sorted(path.name for path in CORE.iterdir() if path.is_dir() and (path / "__init__.py").exists()) \
        == sorted(LAYERS)
    flat = sorted(path.name for path in CORE.glob("*.py"))
    assert flat == ["__init__.py", "__main__.py", "_lazy.py", "_version.py", "bounds.py", "errors.py"]
    too_long = {str(path.relative_to(REPO)): lines for path in CORE.rglob("*.py")
                if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert too_long == {}


@pytest.mark.skipif(shutil.which("lint-imports") is None, reason="import-linter is installed by scripts/test.sh")
def test_the_contracts_catch_an_upward_import_hidden_in_a_function(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(REPO / "zipfit_core", copy / "zipfit_core", ignore=shutil.ignore_patterns("demo_data"))
    shutil.copytree(REPO / "zipfit_app", copy / "zipfit_app")
    shutil.copy(REPO / ".importlinter", copy / ".importlinter")
    kept = subprocess.run(["lint-imports", "--no-cache"], cwd=copy, capture_output=True, text=True)
    assert kept.returncode == 0, kept.stdout
    with open(copy / "zipfit_core" / "data" / "texts.py", "a", encoding="utf-8") as handle:
        handle.write("\n\ndef _reaches_up():\n    from zipfit_core.jobs import manager  # noqa: F401\n")
    broken = subprocess.run(["lint-imports", "--no-cache"], cwd=copy, capture_output=True, text=True)
    assert broken.returncode != 0
    assert "zipfit_core.data.texts -> zipfit_core.jobs.manager" in broken.stdout
    assert "No cycles are allowed in zipfit_core" in broken.stdout  # data <-> jobs is also a cycle
    with open(copy / "zipfit_app" / "services" / "scores.py", "a", encoding="utf-8") as handle:
        handle.write("\n\ndef _reads_the_session():\n    from zipfit_app.state.session import session  # noqa: F401\n")
    broken = subprocess.run(["lint-imports", "--no-cache"], cwd=copy, capture_output=True, text=True)
    assert "zipfit_app.services.scores -> zipfit_app.state.session" in broken.stdout


def test_library_messages_name_parameters_and_each_front_end_translates_them(capsys, tmp_path):
    with pytest.raises(ZipFitError) as refused:
        PruneCriteria().check()
    assert "`older_than_days`" in str(refused.value) and "--" not in str(refused.value)
    assert main(["cache", "prune", "--cache-dir", str(tmp_path)]) == 2
    printed = capsys.readouterr().err
    assert "--older-than DAYS" in printed and "`" not in printed
    capped = "Raise the cap (`max_chars`) to keep whole texts."
    assert cli_text(capped) == "Raise the cap (--max-chars) to keep whole texts."
    assert "max\\_chars" not in message(capped) and "1,000,000 characters in the app" in message(capped)


@pytest.mark.skipif(shutil.which("git") is None or not (REPO / ".git").exists(), reason="needs a git checkout")
def test_no_file_of_the_packages_is_ignored_by_git():
    files = [str(path.relative_to(REPO)) for folder in ("zipfit_core", "zipfit_app", "pages", "tests")
             for path in (REPO / folder).rglob("*.py") if "__pycache__" not in path.parts]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *files], cwd=REPO, capture_output=True,
                             text=True).stdout.split()
    assert ignored == []  # a clean clone (CI, a user) would miss them


def test_python_dash_m_runs_the_command_line():
    done = subprocess.run([sys.executable, "-m", "zipfit_core", "--version"], cwd=REPO, capture_output=True,
                          text=True)
    assert done.returncode == 0 and done.stdout.strip() == f"zipfit {zipfit_core.__version__}"


def _python_files_of_the_app() -> list[Path]:
    return [REPO / "app.py", *sorted((REPO / "pages").glob("*.py")), *sorted(APP.rglob("*.py"))]


def test_only_the_state_layer_touches_session_state_and_query_params():
    outside = {str(path.relative_to(REPO)) for path in _python_files_of_the_app()
               if not path.is_relative_to(APP / "state")
               and any(word in path.read_text(encoding="utf-8") for word in ("session_state", "query_params"))}
    assert outside == set()
    owners = sorted(path.name for path in (APP / "state").glob("*.py")
                    if "st.session_state" in path.read_text(encoding="utf-8"))
    assert owners == ["session.py"]  # one owner of the session's state (url.py owns the query string)


def test_the_app_is_in_layers_of_modules_under_500_lines_and_the_pages_are_thin():
    assert sorted(path.name for path in APP.iterdir() if path.is_dir() and (path / "__init__.py").exists()) \
        == sorted(APP_LAYERS)
    assert sorted(path.name for path in APP.glob("*.py")) == ["__init__.py", "config.py", "frame.py"]
    too_long = {str(path.relative_to(REPO)): lines for path in APP.rglob("*.py")
                if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert too_long == {}
    long_pages = {path.name: lines for path in (REPO / "pages").glob("*.py")
                  if (lines := len(path.read_text().splitlines())) > MAX_PAGE_LINES}
    assert long_pages == {}
