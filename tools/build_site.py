"""Build the workshop's static site: every lesson with its stored outputs, an index, launch buttons.

Run it as ``python3 workshop.py site`` (or ``.venv/bin/python tools/build_site.py``). Nothing is
executed: the site shows the outputs committed in ``notebooks/``. The generator is MkDocs with the
Material theme and mkdocs-jupyter (``mkdocs.yml``); this script only prepares its input in
``artifacts/site-docs/`` and runs it, writing the site to ``artifacts/site/`` (open
``artifacts/site/index.html``, or serve the folder). The GitHub Pages workflow
(``.github/workflows/pages.yml``) runs the same script on every push to ``main``.

What the preparation does, per lesson:

* the index page is made from the README's lesson table (title, what you learn, time), with each
  lesson's "Open in Colab" and "Launch on Binder" links;
* the Colab badge at the top of each lesson becomes two launch buttons (plain links, so that the
  site needs no image from elsewhere);
* headings lose their code marks (`` `grad_fn` `` -> ``grad_fn``): mkdocs-jupyter's table of contents
  and the page's heading anchors slug code differently, and its links would miss;
* links between lessons (``02_detach.ipynb``) point at the lesson's page, links to other files of the
  repository (``../helpers/…``) at GitHub;
* every picture becomes an image file with alternative text: for a graph, its text form (which states
  the graph); for a plot, the first sentence of the markdown cell before it.

Previous/next links come from the theme (``navigation.footer``), in lesson order.
"""

from __future__ import annotations

import argparse
import base64
import html
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def _project():
    """helpers/project.py alone, without the helpers package (which needs PyTorch): the Pages
    workflow installs only the site generator."""
    spec = importlib.util.spec_from_file_location("workshop_project", ROOT / "helpers" / "project.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_p = _project()
BRANCH, REPO_URL, binder_url, colab_url = _p.BRANCH, _p.REPO_URL, _p.binder_url, _p.colab_url
BOOTSTRAP_CELL = _p.BOOTSTRAP_CELL

CONFIG = ROOT / "mkdocs.yml"
DOCS = ROOT / "artifacts" / "site-docs"  # mkdocs.yml's docs_dir
SITE = ROOT / "artifacts" / "site"  # mkdocs.yml's site_dir
IMAGES = "images"
#: The longest alternative text taken from a picture's text form.
MAX_ALT = 1500

_LINK = re.compile(r"\]\(([^)\s]+)\)")
_LESSON_LINK = re.compile(r"^(\d\d_[A-Za-z0-9_]+)\.ipynb(#.*)?$")
_FILE_TARGET = re.compile(r"^(\.\./)*[\w./-]+\.(ipynb|py|md|txt|yml|yaml|toml|json|png|svg)(#[\w.-]*)?$")
_HEADING = re.compile(r"^(#{1,6} .*)$", re.M)
_COLAB_BADGE = re.compile(r"^\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)\s*$", re.M)


def launch_buttons(notebook_path: str) -> str:
    """The "Open in Colab" and "Launch on Binder" links of a lesson, as Material buttons."""
    colab = colab_url(notebook_path)
    binder = binder_url(f"lab/tree/{notebook_path}")
    return (f'<a class="md-button" href="{html.escape(colab)}">Open in Colab</a> '
            f'<a class="md-button" href="{html.escape(binder)}">Launch on Binder</a>')


def rewrite_links(markdown: str, base: str = "notebooks") -> str:
    """Links in a lesson's markdown, made to work on the site: lessons -> their page, other files of
    the repository -> GitHub. ``base`` is the folder the links are relative to."""

    def fix(m: re.Match) -> str:
        target = m[1]
        if not _FILE_TARGET.match(target):
            return m[0]  # an address, an anchor on the same page, or no link at all (code: `f(x)[0](y)`)
        lesson = _LESSON_LINK.match(Path(target).name)
        if lesson and (Path(base) / target).resolve().parent == (ROOT / "notebooks").resolve():
            return f"](../{lesson[1]}/{lesson[2] or ''})"
        path = (ROOT / base / target.split("#")[0]).resolve().relative_to(ROOT.resolve()).as_posix()
        return f"]({REPO_URL}/blob/{BRANCH}/{path})"

    return _LINK.sub(fix, markdown)


def _first_sentence(markdown: str) -> str:
    """The first sentence of the last paragraph that is not a heading (the text closest to a plot)."""
    paragraphs = [p for p in markdown.split("\n\n") if p.strip() and not p.lstrip().startswith("#")]
    if not paragraphs:
        return ""
    text = re.sub(r"[`*_>|]", "", re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", paragraphs[-1]))
    text = " ".join(text.split())
    return re.split(r"(?<=[.:!?])\s+(?=[A-Z(])", text, maxsplit=1)[0][:300]


def alt_text(output: nbformat.NotebookNode, previous_markdown: str) -> str:
    """A picture's alternative text: its text form, unless that is only a Matplotlib figure's size."""
    plain = output.get("data", {}).get("text/plain", "")
    if plain and not plain.startswith("<Figure"):
        return plain if len(plain) <= MAX_ALT else plain[:MAX_ALT] + " …"
    sentence = _first_sentence(previous_markdown)
    return f"Plot: {sentence}" if sentence else "Plot drawn by the code above"


def prepare_notebook(source: Path, docs: Path) -> tuple[Path, int]:
    """Write the site's copy of one lesson into ``docs``; returns its path and how many pictures it has."""
    nb = nbformat.read(source, as_version=4)
    # the setup cell only makes helpers/ importable in a kernel: a reader of the site has none
    nb.cells = [c for c in nb.cells if not (c.cell_type == "code" and c.source == BOOTSTRAP_CELL)]
    stem, pictures, previous_markdown = source.stem, 0, ""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            text = cell.source
            if index == 0:
                text = _COLAB_BADGE.sub(launch_buttons(f"notebooks/{source.name}"), text, count=1)
            text = _HEADING.sub(lambda m: m[1].replace("`", ""), text)
            cell.source = rewrite_links(text)
            previous_markdown = cell.source
            continue
        if cell.cell_type != "code":
            continue
        for k, output in enumerate(cell.get("outputs", [])):
            png = output.get("data", {}).get("image/png")
            if png is None:
                continue
            name = f"{stem}-{index:02d}-{k}.png"
            (docs / IMAGES).mkdir(parents=True, exist_ok=True)
            (docs / IMAGES / name).write_bytes(base64.b64decode(png))
            alt = html.escape(alt_text(output, previous_markdown), quote=True)
            output.data = {"text/html": f'<img src="../{IMAGES}/{name}" alt="{alt}">'}
            output.metadata = {}
            pictures += 1
    target = docs / source.name
    nbformat.write(nb, target)
    return target, pictures


def lesson_rows(readme: str) -> list[list[str]]:
    """The README's lesson table, as rows of cells (without the header)."""
    section = readme.split("## Lessons", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in row.strip().strip("|").split("|")] for row in rows]
    return [c for c in cells[2:] if c and re.fullmatch(r"\d\d", c[0])]


def index_page(readme: str) -> str:
    """The site's front page: the README's title and opening, and its lesson table with site links."""
    title = readme.splitlines()[0].lstrip("# ").strip()
    opening = readme.split("## Lessons", 1)[0].split("\n", 1)[1]
    opening = "\n".join(line for line in opening.splitlines()  # badges, and the link to this very site
                        if not line.startswith(("[![", "**Read the lessons online:**"))).strip()
    lines = [f"# {title}", "", rewrite_links(opening, base="."), "", "## Lessons", "",
             "| # | Lesson | What you learn | Time | Open |", "|---|---|---|---|---|"]
    for row in lesson_rows(readme):
        number, lesson, learn, minutes = row[0], row[1], row[2], row[3]
        m = re.fullmatch(r"\[(.+)\]\(notebooks/(\d\d_[A-Za-z0-9_]+)\.ipynb\)", lesson)
        if not m:
            raise ValueError(f"README lesson table: cannot read the lesson link in row {number}: {lesson!r}")
        buttons = (f'<a href="{html.escape(colab_url(f"notebooks/{m[2]}.ipynb"))}">Colab</a> · '
                   f'<a href="{html.escape(binder_url(f"lab/tree/notebooks/{m[2]}.ipynb"))}">Binder</a>')
        lines.append(f"| {number} | [{m[1]}]({m[2]}.ipynb) | {learn} | {minutes} | {buttons} |")
    return "\n".join(lines) + "\n"


def prepare(docs: Path = DOCS) -> dict[str, int]:
    """Fill ``docs`` with the index and the lessons; returns the number of pictures per lesson."""
    if docs.exists():
        shutil.rmtree(docs)
    docs.mkdir(parents=True)
    (docs / "index.md").write_text(index_page((ROOT / "README.md").read_text(encoding="utf-8")), encoding="utf-8")
    counts = {}
    for source in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        _, counts[source.stem] = prepare_notebook(source, docs)
    return counts


def build(strict: bool = True) -> float:
    """Prepare the input and run MkDocs; returns the seconds it took."""
    start = time.perf_counter()
    prepare()
    command = [sys.executable, "-m", "mkdocs", "build", "--clean", "--config-file", str(CONFIG)]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # a banner about MkDocs' successors, not a warning
    subprocess.run(command + (["--strict"] if strict else []), cwd=ROOT, env=env, check=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-strict", action="store_true", help="do not stop at MkDocs warnings")
    args = parser.parse_args(argv)
    seconds = build(strict=not args.no_strict)
    print(f"site built in {seconds:.1f} s: {SITE.relative_to(ROOT)}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
