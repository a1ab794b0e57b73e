"""Build the lesson notebooks from their sources: ``lessons/NN_name.py`` -> ``notebooks/NN_name.ipynb``.

Run it as ``python3 workshop.py notebooks`` (or ``.venv/bin/python tools/build_notebooks.py [NN ...]``).
Each lesson's py:percent source (jupytext) is executed top to bottom in a fresh kernel, with the
working directory set to ``notebooks/``, exactly as a learner's kernel starts; then its metadata is
normalised (kernelspec, the kernel's ``language_info`` exactly as JupyterLab stores it on opening, no
jupytext pairing; cell ids from the cell's position; no timing metadata; the setup cell's input
collapsed) and the notebook is written. Cells marked ``# NBVAL_IGNORE_OUTPUT`` (timings) keep
their stored outputs while their code is unchanged, unless ``--refresh-timings`` is given, so building
twice in a row gives identical files.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from helpers.project import BOOTSTRAP_CELL, SETUP_CELL_METADATA, colab_badge  # noqa: E402

LESSONS = ROOT / "lessons"
NOTEBOOKS = ROOT / "notebooks"
#: The jupytext header of every lesson source. The notebooks deliberately carry no jupytext pairing
#: metadata: with it, JupyterLab's jupytext extension rewrites lessons/*.py whenever a learner saves a
#: notebook, and refuses to open a notebook whose file is newer than its source (as after a git clone).
#: The pair is kept by this script and checked by tests/test_notebooks.py instead.
SOURCE_HEADER = {"text_representation": {"extension": ".py", "format_name": "percent"}}
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
#: Environment of the kernels that build the stored outputs: the CPU, whatever this machine has, so
#: that the stored outputs are the ones a learner without a GPU sees.
BUILD_ENV = {"AUTOGRAD_WORKSHOP_DEVICE": "cpu", "PYTHONHASHSEED": "0"}


def lesson_sources(selected: list[str] | None = None) -> list[Path]:
    """The lesson sources, in order; ``selected`` narrows them by number or name prefix."""
    sources = sorted(LESSONS.glob("[0-9][0-9]_*.py"))
    if selected:
        sources = [s for s in sources if any(s.stem.startswith(k) for k in selected)]
    return sources


def normalise(nb: nbformat.NotebookNode, stem: str, language_info: dict) -> nbformat.NotebookNode:
    """Deterministic metadata: what JupyterLab needs to pick the kernel, and exactly what it writes
    itself once the kernel is ready, so that opening a lesson does not mark it modified.

    ``language_info`` is the kernel's, from its ``kernel_info`` reply: JupyterLab copies that reply
    into the notebook when the kernel connects and marks the notebook modified if it differs from the
    stored one (its ``version`` is the kernel's Python version, so a learner with another Python than
    the build's sees the marker; saving then changes only that line)."""
    nb.metadata = nbformat.from_dict({
        "kernelspec": dict(KERNELSPEC),
        "language_info": dict(language_info),
    })
    nb.nbformat, nb.nbformat_minor = 4, 5
    number = stem.split("_", 1)[0]
    for i, cell in enumerate(nb.cells):
        cell.id = f"l{number}-c{i:02d}"
        # only tags are kept (nbval reads none, learners see none); jupytext's layout hints and
        # nbclient's timings go; the setup cell's input is collapsed (JupyterLab) or a form (Colab)
        metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
        if cell.cell_type == "code" and cell.source == BOOTSTRAP_CELL:
            metadata.update(copy.deepcopy(SETUP_CELL_METADATA))
        cell.metadata = nbformat.from_dict(metadata)
    return nb


def sync_bootstrap(source: Path) -> nbformat.NotebookNode:
    """Read a lesson source, making its first line the Colab badge and its first code cell the
    bootstrap cell, both made from ``helpers/project.py`` (rewriting the source if they differed),
    so that the project's address is written in one place."""
    nb = jupytext.read(source)
    first = next(c for c in nb.cells if c.cell_type == "code")
    badge = colab_badge(f"notebooks/{source.stem}.ipynb")
    intro = nb.cells[0]
    lines = intro.source.split("\n")
    if intro.cell_type == "markdown" and lines[0] != badge:
        intro.source = "\n".join([badge] + (lines[1:] if lines[0].startswith("[![Open In Colab]") else ["", *lines]))
        jupytext.write(nb, source, fmt="py:percent")
        nb = jupytext.read(source)
        first = next(c for c in nb.cells if c.cell_type == "code")
    if (first.source != BOOTSTRAP_CELL or nb.metadata.get("kernelspec") != KERNELSPEC
            or "formats" in nb.metadata.get("jupytext", {})
            or "notebook_metadata_filter" in nb.metadata.get("jupytext", {})):
        first.source = BOOTSTRAP_CELL
        nb.metadata["kernelspec"] = dict(KERNELSPEC)
        nb.metadata["jupytext"] = dict(SOURCE_HEADER)  # drops pairing and the "-all" filters
        jupytext.write(nb, source, fmt="py:percent")
        nb = jupytext.read(source)
    return nb


def keep_variable_outputs(new: nbformat.NotebookNode, target: Path) -> int:
    """Carry over the stored outputs of ``# NBVAL_IGNORE_OUTPUT`` cells (timings, and charts of them)
    whose source has not changed, so that rebuilding leaves the notebook byte-for-byte the same.
    Those outputs come from an earlier real run of the same code; ``--refresh-timings`` replaces them.
    Returns how many cells were carried over."""
    if not target.exists():
        return 0
    old = nbformat.read(target, as_version=4)
    old_by_source = {c.source: c for c in old.cells if c.cell_type == "code"}
    kept = 0
    for cell in new.cells:
        if cell.cell_type == "code" and "NBVAL_IGNORE_OUTPUT" in cell.source and cell.source in old_by_source:
            cell.outputs = old_by_source[cell.source].outputs
            kept += 1
    return kept


def kernel_peak_memory(client: NotebookClient) -> int | None:
    """The kernel process's peak resident memory in bytes (Linux: VmHWM), or None where unknown."""
    process = getattr(getattr(client.km, "provisioner", None), "process", None)
    status = Path(f"/proc/{getattr(process, 'pid', -1)}/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def build(source: Path, timeout: int = 120, refresh_timings: bool = False) -> tuple[Path, float, int | None]:
    """Execute one lesson source and write its notebook; returns the path, the seconds it took and the
    kernel's peak memory in bytes (None where the platform does not tell)."""
    nb = sync_bootstrap(source)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    env = {**os.environ, **BUILD_ENV}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            coalesce_streams=True,  # one stream output per cell, however the kernel sent it
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    start = time.perf_counter()
    client.reset_execution_trackers()
    with client.setup_kernel(env=env):
        language_info = client.wait_for_reply(client.kc.kernel_info())["content"]["language_info"]
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
        peak = kernel_peak_memory(client)
    seconds = time.perf_counter() - start
    target = NOTEBOOKS / (source.stem + ".ipynb")
    if not refresh_timings:
        keep_variable_outputs(nb, target)
    nbformat.write(normalise(nb, source.stem, language_info), target)
    return target, seconds, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers or name prefixes (default: all)")
    parser.add_argument("--refresh-timings", action="store_true",
                        help="also replace the stored outputs of # NBVAL_IGNORE_OUTPUT cells (timings)")
    args = parser.parse_args(argv)
    sources = lesson_sources(args.lessons)
    if not sources:
        print(f"no lesson sources match {args.lessons} in {LESSONS}", file=sys.stderr)
        return 1
    NOTEBOOKS.mkdir(exist_ok=True)
    for source in sources:
        target, seconds, peak = build(source, refresh_timings=args.refresh_timings)
        memory = f", kernel peak memory {peak / 2**20:.0f} MiB" if peak else ""
        print(f"{target.relative_to(ROOT)}: executed in {seconds:.1f} s{memory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
