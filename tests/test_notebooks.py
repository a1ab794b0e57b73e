"""Notebook hygiene: what nbval cannot see for itself.

nbval (strict) checks that every stored output equals a fresh run. These tests check what makes that
comparison honest and the notebooks pleasant: executed top to bottom in a fresh kernel, no stored
errors except in cells marked to raise, nothing compared that varies between runs or machines, the
metadata JupyterLab needs and no more, each notebook equal to its jupytext source in lessons/, and the
same bootstrap cell first in every lesson.
"""

import json
import re
from pathlib import Path

import jupytext
import pytest

from helpers.project import BOOTSTRAP_CELL, colab_badge, colab_url

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOURCES = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))

VARYING = {
    "memory address": re.compile(r"\bat 0x[0-9a-fA-F]{6,}|\b0x[0-9a-fA-F]{8,}\b"),
    "CUDA device": re.compile(r"device='cuda|cuda:\d"),
    "local path": re.compile(r"(/root/|/home/\w+|/Users/\w+|/tmp/|/work/|C:\\\\Users|site-packages)"),
    "timing": re.compile(r"\b\d+(\.\d+)?\s*(ms|µs|us|ns|s)\b( ± | per loop|\s*$)", re.M),
}


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def text_of(output):
    if output["output_type"] == "stream":
        return "".join(output["text"])
    return "".join(output.get("data", {}).get("text/plain", ""))


def test_every_lesson_has_a_notebook_and_the_reverse():
    assert NOTEBOOKS, "no notebooks found"
    assert [p.stem for p in NOTEBOOKS] == [p.stem for p in SOURCES]
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(1, len(numbers) + 1)), "lessons are numbered 01, 02, … without gaps"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_executed_top_to_bottom_in_a_fresh_kernel(path):
    counts = [c["execution_count"] for c in code_cells(load(path)) if "".join(c["source"]).strip()]
    assert counts == list(range(1, len(counts) + 1))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_stored_errors_or_stderr_outside_marked_cells(path):
    for i, cell in enumerate(code_cells(load(path))):
        source = "".join(cell["source"])
        for out in cell["outputs"]:
            if out["output_type"] == "error":
                assert "NBVAL_RAISES_EXCEPTION" in source, f"code cell {i}: stored {out['ename']}"
            if out["output_type"] == "stream" and out["name"] == "stderr":
                assert "NBVAL_IGNORE_OUTPUT" in source, f"code cell {i}: stderr {text_of(out)[:80]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nothing_compared_varies(path):
    for i, cell in enumerate(code_cells(load(path))):
        source = "".join(cell["source"])
        if "NBVAL_IGNORE_OUTPUT" in source or "NBVAL_SKIP" in source:
            continue
        for out in cell["outputs"]:
            text = text_of(out)
            for what, pattern in VARYING.items():
                hit = pattern.search(text)
                assert not hit, f"code cell {i}: {what} {hit.group(0)!r} in a compared output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_ignored_outputs_are_few(path):
    ignored = [c for c in code_cells(load(path)) if "NBVAL_IGNORE_OUTPUT" in "".join(c["source"])]
    assert len(ignored) <= 3, "mark a cell NBVAL_IGNORE_OUTPUT only for inherently variable output"
    assert not any("NBVAL_SKIP" in "".join(c["source"]) for c in code_cells(load(path)))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_minimal_metadata_with_kernelspec(path):
    nb = load(path)
    assert nb["nbformat"] == 4
    assert nb["metadata"]["kernelspec"] == {"display_name": "Python 3 (ipykernel)", "language": "python",
                                            "name": "python3"}
    # no jupytext pairing metadata: it would make JupyterLab rewrite lessons/ when a learner saves
    assert set(nb["metadata"]) == {"kernelspec", "language_info"}
    assert nb["metadata"]["language_info"] == {"name": "python"}
    assert "widgets" not in json.dumps(nb["metadata"])
    for cell in nb["cells"]:
        assert not set(cell["metadata"]) - {"tags"}, f"cell {cell.get('id')}: metadata {cell['metadata']}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_matches_its_jupytext_source(path):
    source = ROOT / "lessons" / (path.stem + ".py")
    text = jupytext.read(source)
    nb = load(path)
    got = [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]
    want = [(c.cell_type, c.source) for c in text.cells]
    assert got == want, f"{path.name} and lessons/{source.name} disagree: run `python3 workshop.py notebooks`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_is_the_bootstrap(path):
    first = code_cells(load(path))[0]
    assert "".join(first["source"]) == BOOTSTRAP_CELL
    assert first["outputs"] == [], "the bootstrap prints nothing outside Colab"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_opens_with_a_colab_badge_and_ends_with_summary_and_exercises(path):
    cells = load(path)["cells"]
    first = "".join(cells[0]["source"])
    assert cells[0]["cell_type"] == "markdown"
    assert first.splitlines()[0] == colab_badge(f"notebooks/{path.name}")
    assert f"]({colab_url('notebooks/' + path.name)})" in first
    markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert "## Summary" in markdown and "## Exercises" in markdown
    assert re.search(r"\*\*You will learn\*\*", markdown)
    assert sum("check(" in "".join(c["source"]) for c in code_cells(load(path))) >= 2
