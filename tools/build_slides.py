"""Build a reveal.js slide deck per lesson: ``python3 workshop.py slides`` (or
``.venv/bin/python tools/build_slides.py``), into ``artifacts/slides/``.

Each lesson of the README's table is read from ``notebooks/`` (its stored outputs), and the build
writes *slide metadata* (``cell.metadata.slideshow.slide_type``, the metadata nbconvert and RISE
read) into a copy of it, ``artifacts/slides/NN_name.ipynb``:

* the title cell becomes the title slide (the lesson's first sentence under it);
* every section (``## …`` heading) becomes one slide: its heading and its *key sentence* (the first
  sentence of the section's text) are split off into a cell of their own (``slide``), the rest of the
  section's text becomes speaker notes (``notes``);
* the section's code cell that proves the claim is shown on the slide with its output (``-``): the
  first one with a picture, else the first with an output that fits, else the first short one; a text
  output longer than the slide has room for is cut, with a line saying how many lines follow in the
  notebook;
* every other cell is ``skip``.

nbconvert's reveal.js exporter (``SlidesExporter``) then writes ``artifacts/slides/NN_name.slides.html``
with the template in ``tools/slides_template/``: nbconvert's own, without the scripts it would load
from a CDN (jQuery, RequireJS, Mermaid, MathJax), with reveal.js loaded from ``reveal.js/`` beside the
decks. That copy of reveal.js (its ``dist/`` and its notes plugin) comes from the sphinx-revealjs
package (PyPI, pinned in requirements.txt), which ships it: the decks open from the folder, offline,
and the folder can be copied to a USB stick as it is. Slides are 1280×720; a slide whose content
would still not fit (a long key sentence, say) is scaled down by the deck's script until it does.
Press ``S`` for the speaker notes, ``F`` for full screen.

The annotated copy also presents live: open ``artifacts/slides/NN_name.ipynb`` in JupyterLab (the
pinned jupyterlab-rise extension), Run All, then the RISE button (or Alt+R).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
TEMPLATES = ROOT / "tools" / "slides_template"
OUT = ROOT / "artifacts" / "slides"
WIDTH, HEIGHT = 1280, 720
#: Lines of code and of text output one slide has room for (with its heading and key sentence).
MAX_CODE_LINES = 16
MAX_TEXT_LINES = 24
#: Longest output line shown whole (longer ones are cut, with an ellipsis).
MAX_LINE_CHARS = 118
#: Longest code line shown in the normal type size (longer: smaller type, ``slide-wide``).
MAX_CODE_CHARS = 120

_BADGE = re.compile(r"^\[!\[[^\]]*\]\([^)]*\)\]\([^)]*\)\s*$", re.M)

CSS = """
.reveal { font-size: 26px; }
.reveal .slides { text-align: left; }
.reveal .slides section { height: 100%; padding: 0; }
.reveal h1 { font-size: 52px; margin-bottom: 20px; }
.reveal h2 { font-size: 38px; margin: 0 0 12px; }
.reveal p { margin: 0 0 12px; line-height: 1.3; }
.reveal .jp-Cell { padding: 0; margin: 0 0 6px; }
.reveal .jp-InputPrompt, .reveal .jp-OutputPrompt, .reveal .jp-Collapser { display: none; }
.reveal .jp-InputArea-editor, .reveal .jp-OutputArea-output { width: 100%; }
.reveal .highlight, .reveal .highlight pre, .reveal .jp-InputArea-editor pre {
  margin: 0; font-size: 15px !important; line-height: 1.25 !important; }
.reveal .jp-OutputArea-output pre {
  font-size: 14px !important; line-height: 1.25 !important; white-space: pre; margin: 0; }
.reveal .jp-RenderedImage img { max-height: 470px; max-width: 100%; width: auto; height: auto; }
.reveal .celltag_slide-wide .jp-InputArea-editor pre { font-size: 12px !important; }
.reveal .celltag_slide-stacked { display: block !important; }
.reveal .celltag_slide-stacked .jp-RenderedImage img { max-height: 250px; }
/* code beside its picture */
.reveal .jp-CodeCell:has(img) {
  display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; align-items: start; }
.reveal .jp-CodeCell:has(img) .highlight pre { font-size: 14px; }
"""


def lesson_stems(readme: str | None = None) -> list[str]:
    """The lessons of the README's table, in its order."""
    from build_site import lesson_rows

    readme = readme if readme is not None else (ROOT / "README.md").read_text(encoding="utf-8")
    stems = []
    for row in lesson_rows(readme):
        m = re.search(r"\(notebooks/(\d\d_[A-Za-z0-9_]+)\.ipynb\)", row[1])
        if m:
            stems.append(m[1])
    return stems


def key_sentence(text: str) -> tuple[str, str]:
    """The first sentence of a markdown text (after its heading lines), and the rest."""
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#")).strip()
    first = body.split("\n\n", 1)[0]
    if first.lstrip().startswith(("|", "```", "-", "*", ">", "<")):  # a table, code or list: no sentence
        return "", body
    flat = " ".join(first.split())
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z(`*\[])", flat, maxsplit=1)
    sentence = parts[0]
    rest = (parts[1] if len(parts) > 1 else "") + ("\n\n" + body.split("\n\n", 1)[1] if "\n\n" in body else "")
    return sentence, rest.strip()


def _text_lines(output) -> int:
    if output.get("output_type") == "stream":
        return len(output.get("text", "").splitlines())
    data = output.get("data", {})
    if "image/png" in data:
        return 0
    return len(data.get("text/plain", "").splitlines())


def _has_picture(cell) -> bool:
    return any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def slide_code(source: str) -> str:
    """A cell's code as its slide shows it: no test markers, no runs of blank lines."""
    from build_site import strip_markers

    return re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", strip_markers(source)).strip("\n")


def _code_lines(cell) -> int:
    return len(slide_code(cell.source).splitlines())


def choose_code_cell(cells: list) -> int | None:
    """Index (in ``cells``) of the code cell a section's slide shows."""
    code = [(i, c) for i, c in enumerate(cells) if c.cell_type == "code" and c.source.strip()]
    fits = [(i, c) for i, c in code if _code_lines(c) <= MAX_CODE_LINES and not any(
        o.get("output_type") == "error" for o in c.get("outputs", []))]
    for i, c in fits:
        if _has_picture(c):
            return i
    for i, c in fits:
        lines = sum(_text_lines(o) for o in c.get("outputs", []))
        if c.get("outputs") and 0 < lines <= MAX_TEXT_LINES - _code_lines(c):
            return i
    for i, c in fits:
        if c.get("outputs"):
            return i
    return fits[0][0] if fits else None


def _cut(text: str, room: int) -> str:
    lines = text.splitlines()
    lines = [line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS - 1] + "…" for line in lines]
    if len(lines) > room:
        more = len(lines) - (room - 1)
        lines = lines[:room - 1] + [f"… ({more} more lines in the notebook)"]
    return "\n".join(lines) + "\n"


def fit_outputs(cell) -> None:
    """Cut a shown cell's text outputs to the room its slide has; only the first picture stays."""
    room = max(4, MAX_TEXT_LINES - _code_lines(cell))
    if _has_picture(cell):  # the picture beside the code; the text outputs stay in the notebook
        cell.outputs = [next(o for o in cell.outputs if "image/png" in o.get("data", {}))]
        return
    picture_seen, kept = False, []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            continue
        data = output.get("data", {})
        if "image/png" in data:
            if picture_seen:
                continue
            picture_seen = True
            kept.append(output)
            continue
        if picture_seen:  # beside a picture, text is the notebook's, not the slide's
            continue
        if output.get("output_type") == "stream":
            output.text = _cut(output.text, room)
            room -= len(output.text.splitlines())
        elif "text/plain" in data:
            output.data = {"text/plain": _cut(data["text/plain"], room)}
            room -= len(output.data["text/plain"].splitlines())
        else:
            continue
        kept.append(output)
        if room <= 1:
            break
    cell.outputs = kept


def _slide(cell, kind: str):
    cell.metadata["slideshow"] = {"slide_type": kind}
    return cell


def annotate(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of a lesson with slide metadata: one slide per section (see the module's docstring)."""
    nb = copy.deepcopy(nb)
    sections: list[list] = [[]]
    for cell in nb.cells:
        if cell.cell_type == "markdown" and re.match(r"^## ", cell.source):
            sections.append([])
        sections[-1].append(cell)
    out = []
    for number, cells in enumerate(sections):
        if not cells:
            continue
        first = cells[0]
        if first.cell_type == "markdown":
            text = _BADGE.sub("", first.source).strip()
            heading = next((line for line in text.splitlines() if line.startswith("#")), "")
            sentence, rest = key_sentence(text)
            head = nbformat.v4.new_markdown_cell(f"{heading}\n\n{sentence}".strip())
            out.append(_slide(head, "slide"))
            if rest:
                out.append(_slide(nbformat.v4.new_markdown_cell(rest), "notes"))
            cells = cells[1:]
        shown = choose_code_cell(cells) if number > 0 else None
        for i, cell in enumerate(cells):
            if i == shown:
                cell.source = slide_code(cell.source)
                fit_outputs(cell)
                widest = max(map(len, cell.source.splitlines() or [""]))
                tags = cell.metadata.setdefault("tags", [])
                if widest > MAX_CODE_CHARS:  # smaller type
                    tags.append("slide-wide")
                if _has_picture(cell) and (widest > MAX_CODE_CHARS // 2 or _code_lines(cell) > 8):
                    tags.append("slide-stacked")  # the picture under the code, not beside it
                out.append(_slide(cell, "-"))
            elif cell.cell_type == "markdown":
                out.append(_slide(cell, "notes"))
            else:
                out.append(_slide(cell, "skip"))
    for i, cell in enumerate(out):
        cell.id = f"s{i:03d}"
    nb.cells = out
    return nb


def reveal_source() -> Path:
    """reveal.js as the sphinx-revealjs package ships it (found without importing Sphinx)."""
    spec = importlib.util.find_spec("sphinx_revealjs")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("sphinx-revealjs is not installed (it ships reveal.js): python3 workshop.py setup")
    folder = Path(list(spec.submodule_search_locations)[0]) / "_static" / "revealjs"
    if not (folder / "dist" / "reveal.js").is_file():
        raise RuntimeError(f"no reveal.js in {folder}")
    return folder


def copy_reveal(target: Path) -> None:
    """reveal.js's dist/ (script, styles, themes with their fonts) and notes plugin, and its licence."""
    source = reveal_source()
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source / "dist", target / "dist")
    shutil.copytree(source / "plugin" / "notes", target / "plugin" / "notes")
    shutil.copyfile(source / "LICENSE", target / "LICENSE")


def exporter():
    from nbconvert import SlidesExporter

    return SlidesExporter(template_name="workshop_reveal", extra_template_basedirs=[str(TEMPLATES)],
                          reveal_url_prefix="reveal.js", reveal_theme="white", reveal_transition="none",
                          reveal_width=str(WIDTH), reveal_height=str(HEIGHT), exclude_input_prompt=True,
                          exclude_output_prompt=True)


def build(out: Path = OUT, stems: list[str] | None = None) -> list[Path]:
    """Write every lesson's annotated notebook and deck into ``out``; returns the decks."""
    out.mkdir(parents=True, exist_ok=True)
    copy_reveal(out / "reveal.js")
    slides = exporter()
    decks = []
    for stem in stems if stems is not None else lesson_stems():
        source = ROOT / "notebooks" / f"{stem}.ipynb"
        if not source.is_file():
            continue  # a README row whose notebook is not built yet
        nb = annotate(nbformat.read(source, as_version=4))
        nbformat.write(nb, out / f"{stem}.ipynb")
        body, _ = slides.from_notebook_node(nb, resources={"workshop_css": CSS,
                                                           "metadata": {"name": stem}})
        deck = out / f"{stem}.slides.html"
        deck.write_text(body, encoding="utf-8")
        decks.append(deck)
    return decks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers or names (default: every lesson)")
    args = parser.parse_args(argv)
    stems = lesson_stems()
    if args.lessons:
        stems = [s for s in stems if any(s.startswith(k) for k in args.lessons)]
    start = time.perf_counter()
    decks = build(OUT, stems)
    print(f"{len(decks)} slide decks built in {time.perf_counter() - start:.1f} s: "
          f"{OUT.relative_to(ROOT)}/NN_name.slides.html (reveal.js beside them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
