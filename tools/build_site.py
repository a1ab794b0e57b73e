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
  the graph); for a plot, the first sentence of the markdown cell before it. It is shown as wide as
  the text but never below :data:`MIN_SCALE` of its size (a wider one scrolls in its box), and a tap
  opens it full size (mkdocs-glightbox);
* the test suite's cell markers (``# NBVAL_IGNORE_OUTPUT``, ``# NBVAL_RAISES_EXCEPTION``) leave the
  code, and cells are numbered from 1 (the setup cell is left out);
* the lesson as committed (setup cell and all) is copied to ``downloads/`` and linked from its page
  ("Download the notebook").

The front page also says how to run the lessons on your own machine (the README's Quick start
commands). ``tools/site/`` holds the site's stylesheet (phone layout, outputs that keep their lines,
dark mode's notebook colours) and its MkDocs hook (``mkdocs.yml``).

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
sys.path.insert(0, str(Path(__file__).resolve().parent))  # build_slides, beside this file


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
DOWNLOADS = "downloads"  # mkdocs.yml's mkdocs-jupyter ``ignore``: copied as they are, not made pages
ASSETS = ROOT / "tools" / "site"
#: Smallest displayed/natural width of a picture on the site (the browser test's MIN_IMAGE_SCALE):
#: below it a picture scrolls sideways in its box instead of shrinking further.
MIN_SCALE = 0.55
#: The longest alternative text taken from a picture's text form.
MAX_ALT = 1500

_LINK = re.compile(r"\]\(([^)\s]+)\)")
_LESSON_LINK = re.compile(r"^(\d\d_[A-Za-z0-9_]+)\.ipynb(#.*)?$")
_FILE_TARGET = re.compile(r"^(\.\./)*[\w./-]+\.(ipynb|py|md|txt|yml|yaml|toml|json|png|svg)(#[\w.-]*)?$")
_HEADING = re.compile(r"^(#{1,6} .*)$", re.M)
_COLAB_BADGE = re.compile(r"^\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)\s*$", re.M)
_NBVAL_MARKER = re.compile(r"^([ \t]*)# NBVAL_[A-Z_]+[ \t]*(.*)(\n?)", re.M)


def launch_buttons(notebook_path: str) -> str:
    """The "Open in Colab", "Launch on Binder" and "Download the notebook" links of a lesson, as
    Material buttons in a row that wraps on a phone."""
    colab = colab_url(notebook_path)
    binder = binder_url(f"lab/tree/{notebook_path}")
    name = Path(notebook_path).name
    return (f'<div class="launch"><a class="md-button" href="{html.escape(colab)}">Open in Colab</a> '
            f'<a class="md-button" href="{html.escape(binder)}">Launch on Binder</a> '
            f'<a class="md-button download" href="../{DOWNLOADS}/{html.escape(name)}" download="{html.escape(name)}" '
            f'title="the notebook with its outputs; run it in the workshop\'s folder (see the front page)">'
            f'Download the notebook</a></div>')


def strip_markers(code: str) -> str:
    """A code cell's source without the test suite's ``# NBVAL_…`` markers (a comment after one stays)."""
    return _NBVAL_MARKER.sub(lambda m: f"{m[1]}# {m[2]}{m[3]}" if m[2].strip() else "", code)


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height of a PNG, from its header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 24:
        raise ValueError("not a PNG")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def picture_html(src: str, alt: str, png: bytes) -> str:
    """A picture as wide as the text, never narrower than MIN_SCALE of its size (then it scrolls in
    its box); mkdocs-glightbox makes it open full size on a tap."""
    try:
        width, height = png_size(png)
    except ValueError:
        return f'<img src="{src}" alt="{alt}">'
    style = f"width: min({width}px, max(100%, {round(width * MIN_SCALE)}px))"
    return (f'<div class="picture-scroll"><img src="{src}" alt="{alt}" width="{width}" height="{height}" '
            f'style="{style}"></div>')


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
    stem, pictures, previous_markdown, count = source.stem, 0, "", 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            text = cell.source
            if index == 0:
                buttons = launch_buttons(f"notebooks/{source.name}")  # in place of the Colab badge,
                text = _COLAB_BADGE.sub("", text, count=1).lstrip("\n")  # after the title
                head, _, rest = text.partition("\n")
                text = f"{head}\n\n{buttons}\n\n{rest}" if head.startswith("# ") else f"{buttons}\n\n{text}"
            text = _HEADING.sub(lambda m: m[1].replace("`", ""), text)
            cell.source = rewrite_links(text)
            previous_markdown = cell.source
            continue
        if cell.cell_type != "code":
            continue
        cell.source = strip_markers(cell.source)
        count += 1
        cell.execution_count = count
        for k, output in enumerate(cell.get("outputs", [])):
            if output.get("output_type") == "execute_result":
                output.execution_count = count
            png = output.get("data", {}).get("image/png")
            if png is None:
                continue
            name = f"{stem}-{index:02d}-{k}.png"
            (docs / IMAGES).mkdir(parents=True, exist_ok=True)
            data = base64.b64decode(png)
            (docs / IMAGES / name).write_bytes(data)
            alt = html.escape(alt_text(output, previous_markdown), quote=True)
            output.data = {"text/html": picture_html(f"../{IMAGES}/{name}", alt, data)}
            output.metadata = {}
            pictures += 1
    target = docs / source.name
    nbformat.write(nb, target)
    (docs / DOWNLOADS).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, docs / DOWNLOADS / source.name)  # the lesson as committed, to run
    return target, pictures


def lesson_rows(readme: str) -> list[list[str]]:
    """The README's lesson table, as rows of cells (without the header)."""
    section = readme.split("## Lessons", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in row.strip().strip("|").split("|")] for row in rows]
    return [c for c in cells[2:] if c and re.fullmatch(r"\d\d", c[0])]


def run_locally(readme: str) -> str:
    """The front page's "Run the lessons on your machine": clone, then the README's Quick start
    commands (its first code block, without the optional ones), and its first sentence."""
    section = readme.split("## Quick start", 1)[1] if "## Quick start" in readme else ""
    section = section.split("\n## ", 1)[0]
    intro = section.strip().split("\n\n", 1)[0].strip() if section.strip() else ""
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", section, re.S)
    commands = [line for line in (block[1].splitlines() if block else []) if line.strip()
                and "optional" not in line]
    if not commands:
        commands = ["python3 workshop.py lab     # set up everything and open JupyterLab on the lessons"]
    folder = REPO_URL.rstrip("/").rsplit("/", 1)[1]
    lines = ["## Run the lessons on your machine", ""]
    if intro and not intro.startswith("```"):
        lines += [rewrite_links(intro, base="."), ""]
    lines += ["```bash", f"git clone {REPO_URL}.git", f"cd {folder}", *commands, "```", "",
              "Each lesson's page also has a **Download the notebook** button (the notebook with its "
              "outputs: put it in the repository's `notebooks/` folder to run it), and **Open in Colab** "
              "and **Launch on Binder** buttons that need no install.", ""]
    return "\n".join(lines)


def index_page(readme: str, slides: bool = False) -> str:
    """The site's front page: the README's title and opening, its lesson table with site links (a
    card per lesson on a phone), how to run the lessons locally, and (``slides``) the slide decks."""
    title = readme.splitlines()[0].lstrip("# ").strip()
    opening = readme.split("## Lessons", 1)[0].split("\n", 1)[1]
    opening = "\n".join(line for line in opening.splitlines()  # badges, and the link to this very site
                        if not line.startswith(("[![", "**Read the lessons online:**"))).strip()
    lines = [f"# {title}", "", rewrite_links(opening, base="."), "", "## Lessons", "",
             '<div class="lesson-table" markdown>', "",
             "| # | Lesson | What you learn | Time | Open |", "|---|---|---|---|---|"]
    for row in lesson_rows(readme):
        number, lesson, learn, minutes = row[0], row[1], row[2], row[3]
        m = re.fullmatch(r"\[(.+)\]\(notebooks/(\d\d_[A-Za-z0-9_]+)\.ipynb\)", lesson)
        if not m:
            raise ValueError(f"README lesson table: cannot read the lesson link in row {number}: {lesson!r}")
        buttons = (f'<a href="{html.escape(colab_url(f"notebooks/{m[2]}.ipynb"))}">Colab</a> · '
                   f'<a href="{html.escape(binder_url(f"lab/tree/notebooks/{m[2]}.ipynb"))}">Binder</a> · '
                   f'<a href="{DOWNLOADS}/{m[2]}.ipynb" download>Download</a>')
        if slides:
            buttons += f' · <a href="slides/{m[2]}.slides.html">Slides</a>'
        lines.append(f"| {number} | [{m[1]}]({m[2]}.ipynb) | {learn} | {minutes} | {buttons} |")
    lines += ["", "</div>", "", run_locally(readme)]
    if slides:
        lines += ["## Slides for instructors", "",
                  "Each lesson as a reveal.js slide deck (one slide per section: its heading, key sentence, "
                  "code and the output that shows it; press `S` for the speaker notes). They work offline: "
                  "`python3 workshop.py slides` builds them into `artifacts/slides/`, reveal.js beside them. "
                  "See INSTRUCTORS.md.", ""]
    return "\n".join(lines) + "\n"


def prepare(docs: Path = DOCS, slides: bool = True) -> dict[str, int]:
    """Fill ``docs`` with the index, the lessons, the stylesheet and (``slides``) the slide decks;
    returns the number of pictures per lesson."""
    if docs.exists():
        shutil.rmtree(docs)
    docs.mkdir(parents=True)
    (docs / "assets").mkdir()
    shutil.copyfile(ASSETS / "workshop.css", docs / "assets" / "workshop.css")
    if slides:
        import build_slides

        build_slides.build(docs / "slides")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (docs / "index.md").write_text(index_page(readme, slides=slides), encoding="utf-8")
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
