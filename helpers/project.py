"""Where the project lives: the one place its public address is written.

The README's badges, the Colab bootstrap cell at the top of every lesson and the instructor's guide
all derive from these constants; ``tests/test_links.py`` fails when a copy disagrees.
"""

from __future__ import annotations

#: The repository's public home.
REPO_URL = "https://github.com/autograd-workshop/autograd-workshop"
#: The branch the badges and the Colab bootstrap point at.
BRANCH = "main"
#: ``owner/name`` as GitHub, Binder and Colab spell it.
REPO_SLUG = REPO_URL.removeprefix("https://github.com/")


def colab_url(notebook_path: str) -> str:
    """The "Open in Colab" address of a notebook, given its path in the repository."""
    return f"https://colab.research.google.com/github/{REPO_SLUG}/blob/{BRANCH}/{notebook_path}"


def colab_badge(notebook_path: str) -> str:
    """The Markdown of the "Open in Colab" badge: the first line of every lesson, and the README's table."""
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(notebook_path)})"


def binder_url(urlpath: str = "lab/tree/notebooks/01_autograd_graph.ipynb") -> str:
    """The Binder address that builds the repository and opens JupyterLab at ``urlpath`` (by default
    on lesson 01, not the Launcher)."""
    return f"https://mybinder.org/v2/gh/{REPO_SLUG}/{BRANCH}?urlpath={urlpath}"


#: The first code cell of every lesson, word for word (``tests/test_notebooks.py`` checks it;
#: ``python3 workshop.py notebooks`` writes it into the lesson sources). Locally it only makes
#: ``helpers`` importable and prints nothing; on Colab, which opens one notebook without the
#: repository, it first fetches the repository and installs what Colab lacks, printing one line, and
#: shows git's or pip's output only when one fails. Its input is collapsed in JupyterLab
#: (:data:`SETUP_CELL_METADATA`) and shown as a form on Colab (``@title``).
#: ``AUTOGRAD_WORKSHOP_REPO`` overrides the address (the offline test points it at a local clone).
BOOTSTRAP_CELL = f'''\
# @title Setup (the same in every lesson): make the workshop's `helpers` importable
import os, subprocess, sys
from pathlib import Path

if "google.colab" in sys.modules and not Path("autograd-workshop/helpers").is_dir():
    print("Colab: fetching the workshop's helpers, installing what Colab lacks (about a minute)")
    repo = os.environ.get("AUTOGRAD_WORKSHOP_REPO",
                          "{REPO_URL}")
    clone = ["git", "clone", "--depth", "1", "--branch", "{BRANCH}", repo, "autograd-workshop"]
    install = ["pip", "install", "-r", "autograd-workshop/requirements-colab.txt"]
    for name, step in (("git clone", clone), ("pip install", [sys.executable, "-m", *install])):
        done = subprocess.run(step, capture_output=True, text=True)  # shown only if it fails
        if done.returncode != 0:
            raise RuntimeError(f"{{name}} failed:\\n{{done.stdout}}{{done.stderr}}")
for root in [Path.cwd(), *Path.cwd().parents, Path("autograd-workshop").resolve()]:
    if (root / "helpers" / "__init__.py").is_file():
        sys.path.insert(0, str(root))
        break
else:
    raise RuntimeError("helpers/ not found: start Jupyter from the repository (see README)")'''

#: The setup cell's metadata: input collapsed in JupyterLab, a form (title only) on Colab.
SETUP_CELL_METADATA = {"cellView": "form", "jupyter": {"source_hidden": True}}
