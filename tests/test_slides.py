"""tools/build_slides.py: the slide metadata written from a lesson's sections (tests/test_browser_slides.py
opens the decks and checks that every slide fits 1280x720)."""

import base64
import struct
import sys
import zlib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import build_slides  # noqa: E402


def png(width: int, height: int) -> str:
    """A real PNG of that size (white, grayscale), base64 as a notebook stores it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff" * width for _ in range(height))
    raw = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return base64.b64encode(raw).decode()


PNG = png(400, 200)


def lesson() -> nbformat.NotebookNode:
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    out = nbformat.v4.new_output
    return nbformat.v4.new_notebook(cells=[
        md("[![Open In Colab](https://x/badge.svg)](https://x)\n\n# 09 · Title\n\nFirst sentence. Second one."),
        code("setup()"),
        md("## 1. A section\n\nThe key sentence. More text.\n\nA second paragraph."),
        code("long()\n" * 30, outputs=[out("stream", text="a\n")]),
        code("# NBVAL_IGNORE_OUTPUT\nshown()", outputs=[out("stream", text="".join(f"{i}\n" for i in range(60)))]),
        md("Notes only."),
        md("## 2. Pictures\n\n| a table | first |"),
        code("text()", outputs=[out("stream", text="x\n")]),
        code("plot()", outputs=[out("display_data", data={"image/png": PNG, "text/plain": "p"}),
                                out("stream", text="after\n")]),
    ])


def kinds(nb):
    return [c.metadata["slideshow"]["slide_type"] for c in nb.cells]


def test_one_slide_per_section_with_heading_key_sentence_code_and_notes():
    nb = build_slides.annotate(lesson())
    slides = [c for c in nb.cells if c.metadata["slideshow"]["slide_type"] == "slide"]
    assert [c.source for c in slides] == ["# 09 · Title\n\nFirst sentence.", "## 1. A section\n\nThe key sentence.",
                                          "## 2. Pictures\n\n| a table | first |"]  # a table opens it: shown
    notes = [c.source for c in nb.cells if c.metadata["slideshow"]["slide_type"] == "notes"]
    assert "Second one." in notes[0] and "More text.\n\nA second paragraph." in notes[1] and "Notes only." in notes
    shown = [c for c in nb.cells if c.metadata["slideshow"]["slide_type"] == "-"]
    assert [c.source for c in shown] == ["shown()", "plot()"]  # the long cell and the title's setup are skipped
    assert kinds(nb).count("skip") == 3


def test_long_outputs_are_cut_with_a_count_and_a_picture_stands_alone():
    nb = build_slides.annotate(lesson())
    text, picture = [c for c in nb.cells if c.metadata["slideshow"]["slide_type"] == "-"]
    lines = text.outputs[0].text.splitlines()
    assert len(lines) == build_slides.MAX_TEXT_LINES - 1 and lines[-1].endswith("more lines in the notebook)")
    assert [o.output_type for o in picture.outputs] == ["display_data"]


def test_every_readme_lesson_has_a_deck_and_reveal_js_is_copied(tmp_path):
    stems = build_slides.lesson_stems()[:2]
    decks = build_slides.build(tmp_path, stems)
    assert [d.name for d in decks] == [f"{s}.slides.html" for s in stems]
    html = decks[0].read_text()
    assert 'src="reveal.js/dist/reveal.js"' in html and "unpkg.com" not in html and "cdnjs" not in html
    assert (tmp_path / "reveal.js" / "dist" / "reveal.js").is_file()
    assert (tmp_path / "reveal.js" / "plugin" / "notes" / "notes.js").is_file()
    assert kinds(nbformat.read(tmp_path / f"{stems[0]}.ipynb", as_version=4))[0] == "slide"


def heads(nb):
    return [c.source for c in nb.cells if c.metadata["slideshow"]["slide_type"] == "slide"]


def test_a_heading_below_an_anchor_or_a_paragraph_starts_its_own_slide():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook(cells=[
        md("# 11 · Title\n\nIntro."),
        md("## 1. First\n\nOne. More.\n\n## 2. Second, in the same cell\n\nTwo."),
        code("x = 1"),
        md('Closing words of 2.\n\n<a id="third" name="third"></a>\n\n## Third\n\nThree here.'),
        md("```python\n## not a heading, in a code fence\n```"),
    ])
    out = build_slides.annotate(nb)
    assert heads(out) == ["# 11 · Title\n\nIntro.", "## 1. First\n\nOne.", "## 2. Second, in the same cell\n\nTwo.",
                          '<a id="third" name="third"></a>\n\n## Third\n\nThree here.']  # the link target kept
    notes = [c.source for c in out.cells if c.metadata["slideshow"]["slide_type"] == "notes"]
    assert "More." in notes and "Closing words of 2." in notes
    assert any("not a heading" in n for n in notes)


def test_summary_table_exercises_and_a_long_table():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    table = "| a | b |\n|---|---|\n" + "".join(f"| {i} | x |\n" for i in range(20))
    nb = nbformat.v4.new_notebook(cells=[
        md("# 12 · Title\n\nIntro."),
        md("## Index\n\n" + table),
        code("import torch\nseed_everything(0)"),  # no output: not shown beside a text
        md("## Summary\n\n| use | when |\n|---|---|\n| hook | always |"),
        md("## Exercises\n\nRun each check.\n\n**12.1** Name the cause. It is one of three.\n\nMore about 12.1."),
        code("answer = None\ncheck('12.1', answer)", outputs=[nbformat.v4.new_output("stream", text="not yet\n")]),
        md("**12.2** Write `f(x)` that " + "does a thing " * 30 + "`and stops`."),
    ])
    out = build_slides.annotate(nb)
    index, summary, exercises = heads(out)[1:]
    rows = build_slides.MAX_BLOCK_LINES
    assert index.startswith("## Index\n\n| a | b |") and f"… {20 + 2 - rows} more rows in the notebook" in index
    assert sum(line.startswith("|") for line in index.splitlines()) == rows
    assert summary == "## Summary\n\n| use | when |\n|---|---|\n| hook | always |"
    first, second = exercises.split("\n\n", 1)[1].split("\n\n")[1].splitlines()
    assert exercises.startswith("## Exercises\n\nRun each check.")
    assert first == "- **12.1** Name the cause."
    assert second.startswith("- **12.2** Write `f(x)` that does") and second.endswith(" …")
    assert second.count("`") % 2 == 0 and len(second) < build_slides.MAX_EXERCISE_CHARS + 20
    assert [c.source for c in out.cells if c.metadata["slideshow"]["slide_type"] == "-"] == []  # no stub shown


def test_a_picture_is_laid_out_where_it_shows_largest():
    code, out = nbformat.v4.new_code_cell, nbformat.v4.new_output

    def shown(width, height, source="draw()"):
        cell = code(source, outputs=[out("display_data", data={"image/png": png(width, height), "text/plain": "p"})])
        scale = build_slides.layout_picture(cell, "## 1. A heading", "A short key sentence.")
        return scale, cell.metadata["tags"], cell.outputs[0].metadata["image/png"]["width"]

    scale, tags, width = shown(445, 813)  # tall: beside heading, text and code, the slide's height
    assert tags == [f"slide-tall-{width}"] and 0.75 < scale < 0.9 and width == int(445 * scale)
    scale, tags, width = shown(1200, 300, "x = 1\n" * 3)  # wide: under the code
    assert tags == ["slide-stacked"] and width == int(1200 * scale) and scale > 0.95
    scale, tags, width = shown(300, 300)  # small: beside the code, as it is
    assert tags == ["slide-beside-300"] and scale == 1.0 and width == 300
    scale, tags, width = shown(5000, 40)  # wider than the slide: no room beside it, scaled to the width
    assert tags == ["slide-stacked"] and width == int(5000 * scale) <= build_slides.WIDTH
    assert build_slides.png_size(png(7, 5)) == (7, 5)
    css = build_slides.layout_css(nbformat.v4.new_notebook(cells=[code("a", metadata={"tags": ["slide-beside-300"]})]))
    assert "celltag_slide-beside-300 { grid-template-columns: minmax(0, 1fr) 300px; }" in css


def test_sentences_split_outside_emphasis_summary_tables_and_exercise_tasks():
    assert build_slides.key_sentence("**5a. Left out is not frozen.** A layer. More.")[0] == \
        "**5a. Left out is not frozen.** A layer."
    assert build_slides.key_sentence("Call `f(x). Then` it. Next one.")[0] == "Call `f(x). Then` it."
    shown, notes = build_slides.slide_text("## Summary\n\nRows: default options.\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert shown == "| a | b |\n|---|---|\n| 1 | 2 |" and "Rows: default options." in notes
    assert build_slides.exercise_task("Two ranks. One parameter. What does each get? Extra.") == \
        "Two ranks. One parameter. What does each get?"
    assert build_slides.exercise_task("Write `f(x)`. It must work.") == "Write `f(x)`."
