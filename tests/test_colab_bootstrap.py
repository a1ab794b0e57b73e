"""The bootstrap cell that opens every lesson, run as Colab would run it — offline.

Colab opens one notebook without the repository. A stand-in ``google.colab`` module makes the cell
take its Colab branch; ``AUTOGRAD_WORKSHOP_REPO`` points the clone at a local repository made from this
working tree; pip is forbidden the network (the requirements are already installed here), so the test
proves the cell's steps without reaching GitHub or PyPI.
"""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from helpers.project import BOOTSTRAP_CELL

ROOT = Path(__file__).resolve().parent.parent


def run_cell(cwd: Path, env: dict, prelude: str = "") -> subprocess.CompletedProcess:
    program = prelude + BOOTSTRAP_CELL + textwrap.dedent("""
        import helpers, helpers.graphs, torchviz
        print("helpers from", Path(helpers.__file__).resolve().parent.parent)
        """)
    return subprocess.run([sys.executable, "-c", program], cwd=cwd, env=env, capture_output=True, text=True)


def make_origin(tmp: Path) -> Path:
    """A git repository on branch main holding what the bootstrap fetches from this working tree."""
    origin = tmp / "origin"
    origin.mkdir()
    shutil.copytree(ROOT / "helpers", origin / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "requirements-colab.txt", origin)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", str(origin)]
    subprocess.run(git[:5] + ["init", "--quiet", "--initial-branch", "main", str(origin)], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "--quiet", "-m", "origin"], check=True)
    return origin


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


def colab(tmp_path: Path) -> tuple[Path, str]:
    """Colab's working directory (outside any repository) and a prelude that fakes ``google.colab``."""
    content = tmp_path / "content"
    content.mkdir()
    fake = tmp_path / "fake"
    (fake / "google" / "colab").mkdir(parents=True)
    (fake / "google" / "__init__.py").write_text("")
    (fake / "google" / "colab" / "__init__.py").write_text("")
    return content, f"import sys; sys.path.insert(0, {str(fake)!r}); import google.colab\n"


def test_on_colab_it_clones_the_repository_and_imports_helpers(tmp_path):
    origin = make_origin(tmp_path)
    content, prelude = colab(tmp_path)
    result = run_cell(content, clean_env(AUTOGRAD_WORKSHOP_REPO=str(origin)), prelude)
    assert result.returncode == 0, result.stderr
    clone = content / "autograd-workshop"
    assert (clone / "helpers" / "__init__.py").is_file()
    # one line of progress, and nothing from git or pip when they succeed
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Colab: fetching the workshop's helpers"), result.stdout
    assert lines[1] == f"helpers from {clone.resolve()}"
    assert result.stderr == ""
    # a second run (kernel restarted) finds the clone, fetches nothing and prints nothing
    again = run_cell(content, clean_env(AUTOGRAD_WORKSHOP_REPO=str(tmp_path / "nowhere")), prelude)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [f"helpers from {clone.resolve()}"]


def test_on_colab_a_failing_step_shows_its_output(tmp_path):
    content, prelude = colab(tmp_path)
    result = run_cell(content, clean_env(AUTOGRAD_WORKSHOP_REPO=str(tmp_path / "nowhere")), prelude)
    assert result.returncode != 0
    assert "RuntimeError: git clone failed:" in result.stderr
    assert "nowhere" in result.stderr  # git's own message names the missing repository


def test_elsewhere_it_only_finds_helpers_and_touches_no_network(tmp_path):
    poison = tmp_path / "bin"
    poison.mkdir()
    for tool in ("git", "pip"):  # any attempt to fetch fails loudly
        (poison / tool).write_text("#!/bin/sh\necho called >&2; exit 99\n")
        (poison / tool).chmod(0o755)
    env = clean_env(PATH=f"{poison}{os.pathsep}{os.environ['PATH']}")
    result = run_cell(ROOT / "notebooks", env)
    assert result.returncode == 0, result.stderr
    assert f"helpers from {ROOT}" in result.stdout
    assert "called" not in result.stderr


def test_outside_the_repository_it_says_how_to_fix_it(tmp_path):
    result = run_cell(tmp_path, clean_env())
    assert result.returncode != 0
    assert "helpers/ not found: start Jupyter from the repository" in result.stderr
