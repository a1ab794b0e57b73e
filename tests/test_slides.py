"""tools/build_slides.py: the slide metadata written from a lesson's sections (tests/test_browser_slides.py
opens the decks and checks that every slide fits 1280x720)."""

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import build_slides  # noqa: E402

PNG = "iVBORw0KGgo="


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
                                          "## 2. Pictures"]
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
