"""Every badge and link in the README and the lessons points at a real file, through the one project
address in helpers/project.py."""

import json
import re
from pathlib import Path

import pytest

from helpers.project import BRANCH, REPO_SLUG, REPO_URL, binder_url, colab_url

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
DOCS = [ROOT / "README.md", ROOT / "INSTRUCTORS.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def links(text):
    return LINK.findall(text)


def test_project_address_is_consistent():
    assert REPO_URL == f"https://github.com/{REPO_SLUG}"
    assert BRANCH == "main"


def test_binder_badge_opens_the_lessons_in_jupyterlab():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder_url()})" in readme
    assert binder_url().endswith("?urlpath=lab/tree/notebooks/01_autograd_graph.ipynb")  # lesson 01, not the Launcher
    assert (ROOT / "notebooks" / "01_autograd_graph.ipynb").is_file()
    assert (ROOT / "environment.yml").exists() and (ROOT / "notebooks").is_dir()


def test_readme_lists_every_lesson_with_a_colab_badge():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for nb in NOTEBOOKS:
        path = f"notebooks/{nb.name}"
        assert f"]({path})" in readme, f"README's lesson table lacks {path}"
        assert f"]({colab_url(path)})" in readme, f"README lacks the Colab badge of {path}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_link_resolves(doc):
    text = doc.read_text(encoding="utf-8")
    for target in links(text):
        if target.startswith(("https://colab.research.google.com/github/", "https://mybinder.org/v2/gh/")):
            assert REPO_SLUG in target and f"/{BRANCH}" in target, target
            if "/blob/" in target:
                path = target.split(f"/blob/{BRANCH}/", 1)[1]
                assert (ROOT / path).is_file(), f"{doc.name}: badge points at missing {path}"
        elif target.startswith("http"):
            continue  # external documentation
        elif target.startswith("#"):
            continue
        else:
            assert (doc.parent / target.split("#")[0]).exists(), f"{doc.name}: broken link {target}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_lesson_links_resolve(nb):
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")  # not code
    for target in links(text):
        if target.startswith("https://colab.research.google.com/github/"):
            assert target == colab_url(f"notebooks/{nb.name}"), target
        elif not target.startswith("http"):
            path, _, fragment = target.partition("#")
            page = nb.parent / path if path else nb
            assert page.exists(), f"{nb.name}: broken link {target}"
            if fragment and page.suffix == ".ipynb":
                assert fragment in anchors(page), f"{nb.name}: {target} names no anchor of {page.name}"


def anchors(notebook):
    """The fragments a link into ``notebook`` may name: explicit ``<a id=…>``/``name=…`` anchors,
    and each heading as JupyterLab anchors it (its text with spaces as hyphens)."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    found = set(re.findall(r'(?:id|name)="([^"]+)"', text))
    found |= {h.strip().replace(" ", "-") for h in re.findall(r"^#+ (.+)$", text, re.M)}
    return found


def test_site_and_pages_workflow_use_the_project_address():
    """mkdocs.yml and the Pages workflow name the project's address; it must be the one in
    helpers/project.py (GitHub Pages serves https://OWNER.github.io/NAME/)."""
    owner, name = REPO_SLUG.split("/")
    pages = f"https://{owner}.github.io/{name}/"
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert f"\nrepo_url: {REPO_URL}\n" in config
    assert f"\nsite_url: {pages}\n" in config
    assert pages in (ROOT / ".github" / "workflows" / "pages.yml").read_text(encoding="utf-8")
    assert f"]({pages})" in (ROOT / "README.md").read_text(encoding="utf-8"), "README links the site"
