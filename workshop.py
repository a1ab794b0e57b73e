#!/usr/bin/env python3
"""Autograd Workshop: set up, start JupyterLab on the lessons, run the tests.

    python3 workshop.py lab          set up (first time: a few minutes), then start JupyterLab
    python3 workshop.py test         set up, then run every test (helpers, notebooks, browser)
    python3 workshop.py notebooks    re-execute the lessons into notebooks/ (for authors)
    python3 workshop.py site         build the static site of the lessons into artifacts/site/
    python3 workshop.py slides       build a reveal.js slide deck per lesson into artifacts/slides/
    python3 workshop.py preflight    check this machine for a workshop and print a verdict
    python3 workshop.py setup        only set up

Set-up needs nothing but Python 3.11+ and makes a virtual environment in .venv/ from the pinned
requirements.txt. System programs: Graphviz's `dot` (pictures of graphs) and, for the tests only,
Chromium; on Debian/Ubuntu they are installed with apt-get when this runs as root or with password-less
sudo, otherwise you get a one-line instruction. A second run skips whatever is already in place.
This file uses the standard library only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
REQUIREMENTS = ROOT / "requirements.txt"
STAMP = VENV / ".requirements.sha256"
#: JupyterLab settings for the workshop (no news pop-up over the lessons); installed into the virtual
#: environment, where every `jupyter lab` started from it reads them (Binder: postBuild does the same).
LAB_SETTINGS = ROOT / "lab-settings" / "overrides.json"
#: The page `workshop.py lab` opens: lesson 01, not the Launcher.
FIRST_LESSON = "notebooks/01_autograd_graph.ipynb"
MIN_PYTHON = (3, 11)

GRAPHVIZ_HELP = {
    "Debian/Ubuntu": "sudo apt-get install graphviz",
    "Fedora": "sudo dnf install graphviz",
    "macOS": "brew install graphviz",
    "Windows": "winget install graphviz  (then open a new terminal so that `dot` is on PATH)",
    "conda": "conda install -c conda-forge graphviz",
}
CHROMIUM_HELP = {
    "Debian": "sudo apt-get install chromium",
    "other systems": "the browser test is skipped without /usr/bin/chromium; all other tests still run",
}


def say(message: str) -> None:
    print(f"[workshop] {message}", flush=True)


def venv_bin(name: str) -> Path:
    if os.name == "nt":
        return VENV / "Scripts" / (name + (".exe" if not name.endswith(".exe") else ""))
    return VENV / "bin" / name


def can_apt() -> list[str] | None:
    """The command prefix to run apt-get with (``[]`` as root, ``["sudo", "-n"]`` with
    password-less sudo), or None when apt-get cannot be used here."""
    if os.name == "nt" or sys.platform == "darwin" or not shutil.which("apt-get"):
        return None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n"]
    return None


_apt_updated = False


def apt_install(packages: list[str]) -> bool:
    """Install Debian packages when possible; True if they were installed."""
    global _apt_updated
    prefix = can_apt()
    if prefix is None:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        say("apt-get update")
        subprocess.run(prefix + ["apt-get", "update", "-qq"], env=env, check=False)
        _apt_updated = True
    say(f"apt-get install {' '.join(packages)}")
    result = subprocess.run(prefix + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
                            env=env, capture_output=True, text=True)
    if result.returncode != 0:
        say(f"apt-get install failed: {result.stderr.strip().splitlines()[-1:] or result.returncode}")
    return result.returncode == 0


def instructions(program: str, how: dict[str, str]) -> str:
    lines = [f"`{program}` was not found and could not be installed automatically. Install it with:"]
    lines += [f"  {where:14} {command}" for where, command in how.items()]
    return "\n".join(lines)


def ensure_python() -> None:
    if sys.version_info < MIN_PYTHON:
        sys.exit(f"Python {'.'.join(map(str, MIN_PYTHON))} or newer is needed; this is {sys.version.split()[0]}.")


def ensure_venv() -> None:
    if venv_bin("python").exists():
        return
    say(f"creating a virtual environment in {VENV.relative_to(ROOT)}/")
    try:
        venv.create(VENV, with_pip=True, clear=True)
    except (subprocess.CalledProcessError, OSError):
        shutil.rmtree(VENV, ignore_errors=True)
        package = f"python{sys.version_info.major}.{sys.version_info.minor}-venv"
        if apt_install([package]):
            venv.create(VENV, with_pip=True, clear=True)
        else:
            sys.exit(f"Could not create a virtual environment (Debian/Ubuntu: sudo apt-get install {package}).")


def requirements_digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def ensure_requirements() -> None:
    digest = requirements_digest()
    if STAMP.exists() and STAMP.read_text().strip() == digest:
        return
    say("installing the pinned Python packages (requirements.txt); the first time takes a few minutes")
    subprocess.run([str(venv_bin("python")), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(REQUIREMENTS)], check=True)
    STAMP.write_text(digest + "\n")


def lab_settings_dir(prefix: Path) -> Path:
    """Where JupyterLab looks for ``overrides.json`` in the environment at ``prefix``."""
    return prefix / "share" / "jupyter" / "lab" / "settings"


def ensure_lab_settings(prefix: Path = VENV) -> None:
    """Copy the workshop's JupyterLab settings into the environment, unless they are there already."""
    target = lab_settings_dir(prefix) / "overrides.json"
    if target.exists() and target.read_bytes() == LAB_SETTINGS.read_bytes():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(LAB_SETTINGS, target)


def ensure_program(program: str, apt_package: str, how: dict[str, str], required: bool) -> bool:
    """True when ``program`` is on PATH, after installing it with apt-get if it can."""
    if shutil.which(program):
        return True
    if apt_install([apt_package]) and shutil.which(program):
        return True
    if required:
        sys.exit(instructions(program, how))
    say(instructions(program, how))
    return False


def setup(browser: bool = False) -> None:
    ensure_python()
    ensure_venv()
    ensure_requirements()
    ensure_lab_settings()
    ensure_program("dot", "graphviz", GRAPHVIZ_HELP, required=True)
    if browser:
        ensure_program("chromium", "chromium", CHROMIUM_HELP, required=False)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("JUPYTER_PLATFORM_DIRS", "1")  # silences jupyter_core's path-migration warning
    env.setdefault("NO_MKDOCS_2_WARNING", "1")  # MkDocs' banner about its successors, on every site build
    return env


def run(args: list[str]) -> int:
    """Run a command from the virtual environment in the repository root; return its exit code."""
    return subprocess.run(args, cwd=ROOT, env=child_env()).returncode


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command == "setup":
        setup(browser=True)
        say("ready: `python3 workshop.py lab` starts JupyterLab, `python3 workshop.py test` runs the tests")
        return 0
    if command == "lab":
        setup()
        as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        return run([str(venv_bin("jupyter")), "lab", f"--ServerApp.root_dir={ROOT}",
                    f"--LabApp.default_url=/lab/tree/{FIRST_LESSON}", *as_root, *rest])
    if command == "test":
        setup(browser=True)
        return run([str(venv_bin("python")), "-m", "pytest", *rest])
    if command == "notebooks":
        setup()
        return run([str(venv_bin("python")), "tools/build_notebooks.py", *rest])
    if command == "site":
        setup()
        return run([str(venv_bin("python")), "tools/build_site.py", *rest])
    if command == "slides":
        setup()
        return run([str(venv_bin("python")), "tools/build_slides.py", *rest])
    if command == "preflight":
        if not venv_bin("python").exists():
            return run([sys.executable, "tools/preflight.py", *rest])
        return run([str(venv_bin("python")), "tools/preflight.py", *rest])
    print(__doc__.strip())
    return 0 if command in ("help", "-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
