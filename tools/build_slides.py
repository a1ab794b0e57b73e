"""Build a reveal.js slide deck per lesson: ``python3 workshop.py slides`` (or
``.venv/bin/python tools/build_slides.py``), into ``artifacts/slides/``.

Each lesson of the README's table is read from ``notebooks/`` (its stored outputs), and the build
writes *slide metadata* (``cell.metadata.slideshow.slide_type``, the metadata nbconvert and RISE
read) into a copy of it, ``artifacts/slides/NN_name.ipynb``:

* the title cell becomes the title slide (the lesson's first sentence under it);
* every section (a ``## …`` heading, also one that follows an anchor or a paragraph in its cell: the
  cell is cut before it) becomes one slide: its heading and its *key sentence* (the first sentence of
  the section's text; where the section opens with a table or a list, as a Summary does, that block,
  a long table cut to its first rows) are split off into a cell of their own (``slide``), the rest of
  the section's text becomes speaker notes (``notes``);
* the section's code cell that proves the claim is shown on the slide with its output (``-``): the
  first one with a picture, else the first with an output that fits, else (on a slide without text
  only) the first short one; a text output longer than the slide has room for is cut, with a line
  saying how many lines follow in the notebook; a picture is placed beside the code, under it, or
  beside everything from the top of the slide, whichever shows it largest (``layout_picture``);
* an Exercises slide lists the exercises (number and task: ``exercise_task``), not the answer cells;
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
import base64
import copy
import importlib.util
import math
import re
import shutil
import struct
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
MAX_LINE_CHARS = 145
#: Longest code line shown in the normal type size (longer: smaller type, ``slide-wide``).
MAX_CODE_CHARS = 120
#: Exercises listed on an Exercises slide: each one's task (exercise_task), cut at this many characters.
MAX_EXERCISE_CHARS = 260
#: A table or list that opens a section (a Summary's table, say) is shown on its slide up to this many lines.
MAX_BLOCK_LINES = 16
#: What the layout of a slide with a picture reckons with (px at 1280x720, the CSS below): room left
#: for the heading and key sentence, and how much of a line of code (monospace) takes.
HEADING_CHARS, HEADING_PX = 58, 50
SENTENCE_CHARS, SENTENCE_PX = 88, 34
CODE_CHAR_PX, CODE_LINE_PX, GAP_PX = 8.5, 18, 16

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
.reveal .jp-RenderedImage img { max-width: 100%; height: auto; }  /* its width: set by the build */
.reveal .celltag_slide-wide .jp-InputArea-editor pre { font-size: 12px !important; }
.reveal .celltag_slide-stacked { display: block !important; }
/* code beside its picture (the build gives the picture's column its width: layout_css) */
.reveal .jp-CodeCell:has(img) {
  display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; align-items: start; }
.reveal .jp-CodeCell:has(img) .highlight pre { font-size: 14px !important; }
/* a tall picture beside heading, text and code, from the top of the slide (layout_css) */
.reveal .slides section:has(> [class*="celltag_slide-tall-"]) > .jp-MarkdownCell { grid-column: 1; grid-row: 1; }
.reveal [class*="celltag_slide-tall-"] { display: contents !important; }
.reveal [class*="celltag_slide-tall-"] > .jp-Cell-inputWrapper { grid-column: 1; grid-row: 2; align-self: start; }
.reveal [class*="celltag_slide-tall-"] > .jp-Cell-outputWrapper { grid-column: 2; grid-row: 1 / 3; }
.reveal table { font-size: 18px; border-collapse: collapse; }
.reveal th, .reveal td { padding: 3px 10px; border-bottom: 1px solid #ccc; vertical-align: top; }
.reveal ul { margin: 0 0 12px 1.2em; }
.reveal li { margin: 0 0 8px; line-height: 1.3; }
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


_ANCHOR = re.compile(r"^\s*<a\s+(?:id|name)=[^>]*>\s*</a>\s*$")
_BLOCK = re.compile(r"(\||```|[-*+] |\d+\. |>|<)")  # a table, code, a list, a quote or HTML: no sentence


def heading_of(text: str) -> str | None:
    """The ``## …`` heading a markdown text opens with (anchor and blank lines before it allowed)."""
    for line in text.splitlines():
        if line.strip() and not _ANCHOR.match(line):
            return line if line.startswith("## ") else None
    return None


def split_at_headings(cells: list) -> list:
    """The cells with every markdown cell cut before each ``## `` heading that is not its first line
    (outside code fences), so that every section starts a cell of its own; anchor lines just above a
    heading (``<a id="…"></a>``, the sections' link targets) go with it."""
    out = []
    for cell in cells:
        lines = cell.source.splitlines() if cell.cell_type == "markdown" else []
        starts, fenced = [], False
        for k, line in enumerate(lines):
            if line.lstrip().startswith("```"):
                fenced = not fenced
            elif not fenced and line.startswith("## "):
                j = k
                while j > 0 and (_ANCHOR.match(lines[j - 1]) or not lines[j - 1].strip()):
                    j -= 1
                if j > 0:
                    starts.append(j)
        if not starts:
            out.append(cell)
            continue
        for a, b in zip([0, *starts], [*starts, len(lines)]):
            part = "\n".join(lines[a:b]).strip("\n")
            if part.strip():
                piece = copy.deepcopy(cell)
                piece.source = part
                out.append(piece)
    return out


def _body(text: str) -> str:
    """A markdown text without its heading and anchor lines."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("#") and not _ANCHOR.match(line)).strip()


def key_sentence(text: str) -> tuple[str, str]:
    """The first sentence of a markdown text (after its heading and anchor lines), and the rest."""
    body = _body(text)
    first = body.split("\n\n", 1)[0]
    if _BLOCK.match(first.lstrip()):
        return "", body
    flat = " ".join(first.split())
    parts = [flat]
    for m in re.finditer(r"(?<=[.!?])\s+(?=[A-Z(`*\[])", flat):  # not inside **bold** or `code`
        head = flat[:m.start()]
        if head.count("**") % 2 == 0 and head.count("`") % 2 == 0:
            parts = [head, flat[m.end():]]
            break
    sentence = parts[0]
    rest = (parts[1] if len(parts) > 1 else "") + ("\n\n" + body.split("\n\n", 1)[1] if "\n\n" in body else "")
    return sentence, rest.strip()


def slide_text(text: str) -> tuple[str, str]:
    """What a section's slide shows under its heading, and the rest (its speaker notes): the key
    sentence, or, where the section opens with a table or a list (a Summary), that block if it has at
    most ``MAX_BLOCK_LINES`` lines."""
    sentence, rest = key_sentence(text)
    if sentence and heading_of(text) == "## Summary":  # a Summary's table matters more than its caption
        body = _body(text)
        table = next((b for b in body.split("\n\n") if b.lstrip().startswith("|")), None)
        if table:
            shown, _ = slide_text(table)
            return shown, body
    if sentence:
        return sentence, rest
    block, _, after = rest.partition("\n\n")
    lines = block.splitlines()
    if block.lstrip().startswith("|") and len(lines) > MAX_BLOCK_LINES:  # a long table: its first rows
        more = len(lines) - MAX_BLOCK_LINES
        return "\n".join(lines[:MAX_BLOCK_LINES]) + f"\n\n*… {more} more rows in the notebook*", rest
    if block.lstrip().startswith(("|", "- ", "* ", "+ ")) or re.match(r"\d+\. ", block.lstrip()):
        if len(lines) <= MAX_BLOCK_LINES:
            return block, after.strip()
    return "", rest


def _shorten(text: str, limit: int) -> str:
    """``text`` cut at a word before ``limit`` characters, never inside inline code."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    if cut.count("`") % 2:  # an inline code span left open: cut before it
        cut = cut[:cut.rindex("`")].rstrip()
    return cut.rstrip(",;:") + " …"


_ASKS = re.compile(r"(Write|Give|Make|Implement|Name|Diagnose|Compute|Use|Find|Answer|Work)\b|.*\?$")


def exercise_task(text: str) -> str:
    """An exercise's sentences up to the one that asks (a question, or one that starts with an
    imperative: Write, Give, …), at most four."""
    taken, rest = [], text
    while rest and len(taken) < 4:
        sentence, rest = key_sentence(rest)
        if not sentence:
            break
        taken.append(sentence)
        if _ASKS.match(sentence):
            break
    return " ".join(taken) or " ".join(text.split())


def exercise_list(cells: list) -> str:
    """An Exercises slide's list: each exercise's number and first sentence, from the section's text."""
    items = []
    for cell in cells:
        if cell.cell_type != "markdown":
            continue
        for paragraph in cell.source.split("\n\n"):
            m = re.match(r"\*\*(\d\d\.\d)\*\*\s+(.*)", paragraph.strip(), re.S)
            if m:
                items.append(f"- **{m[1]}** {_shorten(exercise_task(m[2]), MAX_EXERCISE_CHARS)}")
    return "\n".join(items)


def png_size(data: str) -> tuple[int, int]:
    """Width and height of a base64 PNG, from its header."""
    raw = base64.b64decode("".join(data.split())[:44])
    if raw[:8] != b"\x89PNG\r\n\x1a\n" or raw[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return struct.unpack(">II", raw[16:24])


def _rows(text: str, per_row: int) -> int:
    """Rows that ``text`` takes with ``per_row`` characters a row (at least 1)."""
    per_row = max(1, per_row)
    return sum(max(1, math.ceil(len(line) / per_row)) for line in text.splitlines() if line.strip())


def layout_picture(cell, heading: str, shown: str) -> float:
    """Lay out a shown cell's picture as it shows largest, and set its width (output metadata, which
    nbconvert writes into the ``img``); returns its scale. Three layouts, the room of each reckoned
    from the lengths of the heading, the text and the code (``HEADING_*``, ``SENTENCE_*``, ``CODE_*``):

    * ``beside``: under the heading and text, the code and, right of it, the picture;
    * ``stacked``: under the heading and text, the code and, under it, the picture (a wide picture);
    * ``tall``: heading, text and code in a left column, the picture right of them from the top of
      the slide to its bottom (a tall picture).
    """
    output = next(o for o in cell.outputs if "image/png" in o.get("data", {}))
    width, height = png_size(output.data["image/png"])
    code = cell.source.splitlines() or [""]
    code_w, code_h = CODE_CHAR_PX * max(map(len, code)) + 24, CODE_LINE_PX * len(code) + 24
    inner_w, inner_h = WIDTH - 24, HEIGHT - 64

    def text_h(column: float) -> float:
        return (HEADING_PX * _rows(heading, int(column * HEADING_CHARS / inner_w))
                + SENTENCE_PX * _rows(shown, int(column * SENTENCE_CHARS / inner_w)))

    free = inner_h - text_h(inner_w)
    scales = {"beside": min(1.0, (inner_w - GAP_PX - code_w) / width, free / height),
              "stacked": min(1.0, inner_w / width, (free - GAP_PX - code_h) / height)}
    tall = min(1.0, (inner_w - GAP_PX - code_w) / width, (HEIGHT - 70) / height)  # arrows at the bottom
    if text_h(inner_w - GAP_PX - width * tall) + code_h <= inner_h:  # the left column holds the rest
        scales["tall"] = tall
    layout = max(scales, key=scales.get)
    shown_w = max(1, int(width * scales[layout]))
    cell.metadata.setdefault("tags", []).append(f"slide-{layout}" + ("" if layout == "stacked" else f"-{shown_w}"))
    output.setdefault("metadata", {}).setdefault("image/png", {})["width"] = shown_w
    return scales[layout]


def layout_css(nb: nbformat.NotebookNode) -> str:
    """The grid columns of an annotated lesson's slides that show a picture beside the code or the
    whole slide (``layout_picture``): one rule per picture width."""
    rules = []
    for tag in sorted({t for c in nb.cells for t in c.metadata.get("tags", [])
                       if re.fullmatch(r"slide-(beside|tall)-\d+", t)}):
        w = int(tag.rsplit("-", 1)[1])
        if tag.startswith("slide-beside-"):
            rules.append(f".reveal .jp-CodeCell.celltag_{tag} {{ grid-template-columns: minmax(0, 1fr) {w}px; }}")
        else:
            rules.append(f".reveal .slides section:has(> .celltag_{tag}) {{ display: grid !important; "
                         f"grid-template-columns: minmax(0, 1fr) {w}px; grid-template-rows: auto 1fr; "
                         f"column-gap: {GAP_PX}px; }}")
    return "\n".join(rules) + "\n"


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


def choose_code_cell(cells: list, has_text: bool = False) -> int | None:
    """Index (in ``cells``) of the code cell a section's slide shows; a cell without output (imports,
    say) only on a slide with no text of its own."""
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
    return fits[0][0] if fits and not has_text else None


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
    for cell in split_at_headings(nb.cells):
        if cell.cell_type == "markdown" and heading_of(cell.source):
            sections.append([])
        sections[-1].append(cell)
    out = []
    for number, cells in enumerate(sections):
        if not cells:
            continue
        first, heading, shown_text, exercises = cells[0], "", "", False
        if first.cell_type == "markdown":
            text = _BADGE.sub("", first.source).strip()
            lines = text.splitlines()
            anchors = "".join(line.strip() for line in lines if _ANCHOR.match(line))  # link targets
            heading = next((line for line in lines if line.startswith("#")), "")
            exercises = number > 0 and bool(re.match(r"## Exercises\b", heading))
            if exercises:  # the exercises themselves, not the answer cells
                intro, _ = key_sentence(text)
                shown_text = "\n\n".join(part for part in (
                    "" if re.match(r"\*\*\d\d\.\d\*\*", intro) else intro, exercise_list(cells)) if part)
                rest = _body(text)
            else:
                shown_text, rest = slide_text(text)
                if not shown_text and len(cells) > 1 and cells[1].cell_type == "markdown":
                    shown_text, more = slide_text(cells[1].source)  # the text is in the next cell
                    if shown_text:
                        rest = "\n\n".join(part for part in (rest, more) if part.strip())
                        cells = [first, *cells[2:]]
            head = nbformat.v4.new_markdown_cell("\n\n".join(p for p in (anchors, heading, shown_text) if p))
            out.append(_slide(head, "slide"))
            if rest.strip():
                out.append(_slide(nbformat.v4.new_markdown_cell(rest.strip()), "notes"))
            cells = cells[1:]
        shown = choose_code_cell(cells, bool(shown_text)) if number > 0 and not exercises else None
        for i, cell in enumerate(cells):
            if i == shown:
                cell.source = slide_code(cell.source)
                fit_outputs(cell)
                widest = max(map(len, cell.source.splitlines() or [""]))
                if widest > MAX_CODE_CHARS:  # smaller type
                    cell.metadata.setdefault("tags", []).append("slide-wide")
                if _has_picture(cell):
                    layout_picture(cell, heading, shown_text)
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
        body, _ = slides.from_notebook_node(nb, resources={"workshop_css": CSS + layout_css(nb),
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
