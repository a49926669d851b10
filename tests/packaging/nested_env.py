"""A new virtual environment that sees this one's packages, for the tests that install into an environment of their
own (the wheel, the dependency floors) without downloading everything again."""

from __future__ import annotations

import site
import subprocess
import sys
from pathlib import Path


def this_environments_site_dirs() -> list[str]:
    """The site-packages folders the running interpreter reads, in its order (a venv's own, then any it inherits)."""
    folders = list(site.getsitepackages())
    if site.ENABLE_USER_SITE and Path(site.getusersitepackages()).is_dir():
        folders.append(site.getusersitepackages())
    return folders


def environment_over_this_one(folder: Path) -> Path:
    """The Python of a new virtual environment under `folder`: what is installed into it comes first, then every
    package of the environment running the tests (its `.pth` files too, so an editable install of the project)."""
    # `venv --system-site-packages` would inherit the *base* interpreter's packages, not those of a venv running the
    # tests; a .pth calling site.addsitedir adds the running environment's own folders after the new one's.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    lines = "; ".join(f"site.addsitedir({path!r})" for path in this_environments_site_dirs())
    (Path(purelib) / "zipfit_tests_outer_environment.pth").write_text(f"import site; {lines}\n", encoding="utf-8")
    return python
