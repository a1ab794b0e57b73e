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
    # the kernel's language_info, as JupyterLab writes it on opening (so opening does not modify a lesson)
    info = nb["metadata"]["language_info"]
    assert {k: v for k, v in info.items() if k != "version"} == {
        "codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py", "mimetype": "text/x-python",
        "name": "python", "nbconvert_exporter": "python", "pygments_lexer": "ipython3"}
    assert re.fullmatch(r"3\.\d+\.\d+", info["version"]), info
    assert "widgets" not in json.dumps(nb["metadata"])
    for cell in nb["cells"]:
        if "".join(cell["source"]) == BOOTSTRAP_CELL:  # the setup cell: input collapsed
            assert cell["metadata"] == {"cellView": "form", "jupyter": {"source_hidden": True}}
            continue
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


#: Longest code line a lesson may have: longer lines are cut off or wrapped in JupyterLab at the
#: usual notebook width, and on Colab.
MAX_CODE_LINE = 100

#: Markdown markup at the start of a top-level comment line: an empty ``#`` line (how jupytext writes
#: a blank line between markdown paragraphs), bold, a heading, a table row, a quote, an image or a
#: link. Code comments in the lessons use none of these.
_MARKDOWN_COMMENT = re.compile(r"^#(\s*$| \*\*| #{1,6} | \|| > | !\[| \[[^\]]+\]\()")
#: This many consecutive top-level comment lines after code read as a paragraph of prose.
_PROSE_RUN = 3


def stranded_markdown(source: str) -> list[str]:
    """Reasons why a code cell's source looks like it swallowed a markdown cell, or ``[]``.

    A ``# %% [markdown]`` marker missing from a lesson source turns the markdown cell below it into
    comment lines at the end of the code cell above: the learner then reads the text as code, in a
    code font, and never sees it rendered. Two signs: a top-level comment line that starts with
    markdown markup (:data:`_MARKDOWN_COMMENT`), and :data:`_PROSE_RUN` or more consecutive top-level
    comment lines after the cell's first line of code (a comment block opening a cell, such as
    ``# NBVAL_IGNORE_OUTPUT`` or the setup cell's note, is fine). Indented comments are code comments.
    """
    reasons, run, seen_code = [], [], False
    for number, line in enumerate([*source.splitlines(), ""], start=1):
        if line.startswith("#"):
            if _MARKDOWN_COMMENT.match(line):
                reasons.append(f"line {number}: markdown markup in a comment: {line[:60]!r}")
            if seen_code:
                run.append(line)
            continue
        if len(run) >= _PROSE_RUN:
            reasons.append(f"line {number - len(run)}: {len(run)} comment lines after code: "
                           f"{run[-1][:60]!r}")
        run = []
        seen_code = seen_code or bool(line.strip())
    return reasons


def test_stranded_markdown_is_caught_in_a_synthetic_lesson():
    code = "x = 1\nprint(x)\n"
    paragraph = ("# **Time**: each method, interleaved with the others;\n"
                 "# the median of 20 runs, not compared:\n")
    good = ("# %%\n" + code + "\n# %% [markdown]\n" + paragraph + "\n# %%\n" + code)
    bad = good.replace("\n# %% [markdown]\n", "#\n")  # the marker is missing
    heading = good.replace("\n# %% [markdown]\n# **Time**", "\n# ## 3. Time")
    table = good.replace("\n# %% [markdown]\n" + paragraph, "\n# %% [markdown]\n# | a | b |\n")
    prose = "# %%\n" + code + "# This cell shows the time;\n# each method runs twenty times,\n# interleaved.\n"
    commented = ("# %%\n# NBVAL_IGNORE_OUTPUT\n# Setup: make helpers importable.\n# Two lines.\n"
                 "import os  # a comment after code\n\n\ndef f(v):\n    # an indented comment\n"
                 "    # over two lines\n    # and a third\n    return v  # done\n"
                 "# %%\n" + code)

    def flagged(text):
        cells = jupytext.reads(text, fmt="py:percent").cells
        return [r for c in cells if c.cell_type == "code" for r in stranded_markdown(c.source)]

    assert flagged(good) == []
    assert flagged(commented) == []
    found = flagged(bad)
    assert any("markdown markup" in r and "**Time**" in r for r in found), found
    assert any("comment lines after code" in r for r in found), found
    assert flagged(heading + "#\n# ### Heading\n") != []
    assert any("'# | a | b |'" in r for r in flagged(table.replace("# %% [markdown]\n", "")))
    assert any("3 comment lines after code" in r for r in flagged(prose)), flagged(prose)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_markdown_stranded_in_code_cells(path):
    problems = [f"code cell {i}, {reason}" for i, cell in enumerate(code_cells(load(path)))
                for reason in stranded_markdown("".join(cell["source"]))]
    assert not problems, ("markdown text inside a code cell (a missing `# %% [markdown]` marker in "
                          "lessons/?):\n" + "\n".join(problems))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_lines_fit_the_notebook_width(path):
    long = [f"code cell {i}, line {n}: {len(line)} characters: {line[:50]!r}…"
            for i, cell in enumerate(code_cells(load(path)))
            for n, line in enumerate("".join(cell["source"]).splitlines(), start=1)
            if len(line) > MAX_CODE_LINE]
    assert not long, f"code lines longer than {MAX_CODE_LINE} characters:\n" + "\n".join(long)
