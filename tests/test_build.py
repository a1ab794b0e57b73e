"""tools/build_notebooks.py: normalising is a fixed point on the stored notebooks, and timing outputs
are carried over unless refreshed (so that a rebuild leaves git status clean)."""

import copy
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import build_notebooks  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_stored_notebooks_are_already_normalised():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        again = build_notebooks.normalise(copy.deepcopy(nb), path.stem, nb.metadata["language_info"])
        assert nbformat.writes(again) + "\n" == path.read_text(encoding="utf-8"), path.name


def test_ignored_outputs_are_carried_over_while_the_code_is_unchanged(tmp_path):
    source = "# NBVAL_IGNORE_OUTPUT\nprint(time())"
    old = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source, outputs=[
        nbformat.v4.new_output("stream", text="1.234 s\n")])])
    target = tmp_path / "x.ipynb"
    nbformat.write(old, target)
    new = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(source, outputs=[nbformat.v4.new_output("stream", text="9.9 s\n")]),
        nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nchanged()", outputs=[]),
    ])
    assert build_notebooks.keep_variable_outputs(new, target) == 1
    assert new.cells[0].outputs[0].text == "1.234 s\n"
    assert new.cells[1].outputs == []


def test_lesson_sources_are_found_in_order():
    stems = [p.stem for p in build_notebooks.lesson_sources()]
    assert stems == [p.stem for p in NOTEBOOKS]
    assert [p.stem for p in build_notebooks.lesson_sources(["03"])] == ["03_retain_graph"]


def test_language_info_is_the_kernels_and_the_setup_cell_is_collapsed():
    """What JupyterLab writes into a notebook when its kernel connects is stored by the build, so that
    opening a lesson does not mark it modified (tests/test_browser.py checks that in JupyterLab)."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        reply = kc.kernel_info(reply=True)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    info = reply["content"]["language_info"]
    assert set(info) >= {"name", "version", "mimetype", "file_extension", "codemirror_mode"}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# x"),
                                         nbformat.v4.new_code_cell(build_notebooks.BOOTSTRAP_CELL),
                                         nbformat.v4.new_code_cell("1", metadata={"tags": ["t"], "scrolled": True})])
    nb.metadata["jupytext"] = {"formats": "ipynb,py"}
    out = build_notebooks.normalise(nb, "09_x", info)
    assert out.metadata == {"kernelspec": build_notebooks.KERNELSPEC, "language_info": info}
    assert out.cells[1].metadata == {"cellView": "form", "jupyter": {"source_hidden": True}}
    assert out.cells[2].metadata == {"tags": ["t"]}
    assert [c.id for c in out.cells] == ["l09-c00", "l09-c01", "l09-c02"]
