"""Pre-flight check of a participant's machine: can it run the workshop? Prints a clear verdict.

    python3 workshop.py preflight

Checks Python, PyTorch, the Python packages the lessons import, Graphviz's ``dot``, the Jupyter kernel
JupyterLab will start (so that no "Select Kernel" dialog appears and ``import torch`` works in it), and
finally draws one autograd graph end to end. Exit code 0 when everything passes, 1 otherwise. Runs with
whatever Python starts it (``workshop.py`` uses the workshop's virtual environment when it exists).
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIN_PYTHON = (3, 11)
SETUP_HINT = "run `python3 workshop.py setup` (or use Binder/Colab: see README)"


class Failed(Exception):
    """A check failed; the message says how to fix it."""


def check_python() -> str:
    if sys.version_info < MIN_PYTHON:
        raise Failed(f"Python {sys.version.split()[0]} is too old: install Python 3.11 or newer")
    return f"Python {sys.version.split()[0]} ({sys.executable})"


def check_torch() -> str:
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        raise Failed(f"PyTorch is not installed in this Python: {SETUP_HINT}") from None
    x = torch.ones(2, requires_grad=True)
    (x * x).sum().backward()
    if x.grad.tolist() != [2.0, 2.0]:
        raise Failed("PyTorch computed a wrong gradient: reinstall it")
    cuda = "CUDA available" if torch.cuda.is_available() else "CPU only (fine: the lessons are small)"
    return f"torch {torch.__version__}, {cuda}"


def check_packages() -> str:
    missing = []
    for name in ("numpy", "matplotlib", "graphviz", "torchviz", "jupyterlab", "ipykernel"):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            missing.append(f"{name} ({exc})")
    if missing:
        raise Failed(f"missing: {', '.join(missing)}: {SETUP_HINT}")
    return "numpy, matplotlib, graphviz, torchviz, jupyterlab, ipykernel"


def check_graphviz() -> str:
    dot = shutil.which("dot")
    if dot is None:
        raise Failed("Graphviz's `dot` is not on PATH: Debian/Ubuntu `sudo apt-get install graphviz`, "
                     "macOS `brew install graphviz`, Windows `winget install graphviz`, "
                     "conda `conda install -c conda-forge graphviz`")
    result = subprocess.run([dot, "-V"], capture_output=True, text=True)
    if result.returncode != 0:
        raise Failed(f"`dot -V` failed: {result.stderr.strip()}")
    return result.stderr.strip() or result.stdout.strip()


def check_kernel() -> str:
    try:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    except ImportError:
        raise Failed(f"Jupyter is not installed in this Python: {SETUP_HINT}") from None
    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        raise Failed("no `python3` Jupyter kernel: JupyterLab would ask you to select one; "
                     f"{SETUP_HINT}") from None
    argv = [sys.executable if a == "python" else a for a in spec.argv[:1]]
    probe = subprocess.run(argv + ["-c", "import torch, ipykernel; print(torch.__version__)"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise Failed(f"the `python3` kernel ({spec.argv[0]}) cannot import torch and ipykernel: "
                     "start JupyterLab with `python3 workshop.py lab`")
    return f"kernel `python3` ({spec.display_name}) runs {argv[0]} with torch {probe.stdout.strip()}"


def check_graph() -> str:
    sys.path.insert(0, str(ROOT))
    torch = importlib.import_module("torch")
    from helpers.graphs import draw_graph

    w = torch.ones(3, requires_grad=True)
    picture = draw_graph((w * 2).sum(), {"w": w})
    if picture.png() is None:
        raise Failed("drawing a graph gave no picture: " + (picture.notes[-1] if picture.notes else "unknown"))
    return f"drew an autograd graph ({len(picture.nodes)} nodes) as a PNG"


CHECKS: list[tuple[str, Callable[[], str], tuple[str, ...]]] = [
    ("Python", check_python, ()),
    ("PyTorch", check_torch, ("Python",)),
    ("Python packages", check_packages, ("Python",)),
    ("Graphviz", check_graphviz, ()),
    ("Jupyter kernel", check_kernel, ("PyTorch",)),
    ("Graph drawing", check_graph, ("PyTorch", "Python packages", "Graphviz")),
]


def main() -> int:
    print("Autograd Workshop pre-flight check\n")
    failed: list[str] = []
    for name, check, needs in CHECKS:
        blocked = [n for n in needs if n in failed]
        if blocked:
            print(f"  [skip] {name}: needs {', '.join(blocked)}")
            failed.append(name)
            continue
        try:
            detail = check()
        except Failed as exc:
            print(f"  [FAIL] {name}: {exc}")
            failed.append(name)
        except Exception as exc:  # an unexpected breakage is a failure, with its message
            print(f"  [FAIL] {name}: {type(exc).__name__}: {exc}")
            failed.append(name)
        else:
            print(f"  [ ok ] {name}: {detail}")
    if failed:
        print(f"\nVERDICT: NOT READY — {len(failed)} of {len(CHECKS)} checks did not pass. Fix the first "
              "[FAIL] above, run this again, or use Binder/Colab (no install).")
        return 1
    print(f"\nVERDICT: READY — all {len(CHECKS)} checks passed. Start with `python3 workshop.py lab`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
