#!/usr/bin/env python3
"""Run the unit tests and the strict notebook tests against another PyTorch release.

    python3 tools/other_torch.py 2.14.1                  # set up .venv-torch-2.14.1/, run the tests
    python3 tools/other_torch.py 2.14.1 -- -k test_show  # extra arguments after -- go to pytest
    python3 tools/other_torch.py 2.14.1 --setup-only     # only make the environment
    python3 tools/other_torch.py 2.14.1 --torch-index https://download.pytorch.org/whl/cpu  # CPU build

The stored notebook outputs were made with the torch pinned in requirements.txt; they must not depend on
the release (see the developers' guide), and this is how to check that. It makes a separate virtual
environment, ``.venv-torch-VERSION/`` (git ignores it), with ``torch==VERSION`` and every other pin of
requirements.txt, then runs ``pytest`` there exactly as ``workshop.py test`` does (unit tests, then
strict nbval over every notebook in a kernel of that environment), without the browser test, which
checks JupyterLab, not PyTorch. A second run reuses the environment while requirements.txt and VERSION
are unchanged. The GitHub workflow's scheduled job runs it; ``.ci/run`` does not.
Standard library only. Exit code: pytest's (2 for a bad VERSION, 3 when the set-up fails).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
VERSION = re.compile(r"^\d+\.\d+\.\d+(?:(?:a|b|rc|\.post|\.dev)\d+)?$")


def say(message: str) -> None:
    print(f"[other_torch] {message}", flush=True)


def venv_dir(version: str) -> Path:
    return ROOT / f".venv-torch-{version}"


def python_of(env: Path) -> Path:
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def pins_without_torch() -> list[str]:
    """Every ``name==version`` line of requirements.txt except torch's."""
    pins = []
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and line.partition("==")[0].strip().lower() != "torch":
            pins.append(line)
    return pins


def setup(version: str, torch_index: str | None = None) -> Path:
    """Make (or reuse) the environment; return its Python. Raises ``subprocess.CalledProcessError``."""
    env = venv_dir(version)
    python = python_of(env)
    wanted = [f"torch=={version}", *pins_without_torch()]
    digest = hashlib.sha256("\n".join([*wanted, torch_index or ""]).encode()).hexdigest()
    stamp = env / ".requirements.sha256"
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        say(f"reusing {env.name}/")
        return python
    if not python.exists():
        say(f"creating {env.name}/")
        venv.EnvBuilder(with_pip=True).create(env)
    say(f"installing torch=={version} and {len(wanted) - 1} other pins (torch alone may be several GB)")
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    if torch_index:  # torch alone from that index (e.g. PyTorch's CPU-only wheels), the rest from PyPI
        subprocess.run([*pip, "--index-url", torch_index, wanted[0]], check=True)
    subprocess.run([*pip, *wanted], check=True)
    stamp.write_text(digest + "\n")
    return python


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ours, pytest_args = (argv[: argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("version", help="a torch release, e.g. 2.14.1")
    parser.add_argument("--setup-only", action="store_true", help="make the environment, run no tests")
    parser.add_argument("--torch-index", help="install torch from this package index (pip --index-url)")
    args = parser.parse_args(ours)
    if not VERSION.match(args.version):
        print(f"other_torch: {args.version!r} is not a torch release such as 2.14.1", file=sys.stderr)
        return 2
    try:
        python = setup(args.version, args.torch_index)
        installed = subprocess.run([str(python), "-c", "import torch; print(torch.__version__)"],
                                   check=True, capture_output=True, text=True).stdout.strip()
    except subprocess.CalledProcessError as exc:
        print(f"other_torch: setting up torch {args.version} failed ({exc})", file=sys.stderr)
        return 3
    if installed.split("+")[0] != args.version:
        print(f"other_torch: asked for torch {args.version}, the environment has {installed}", file=sys.stderr)
        return 3
    say(f"torch {installed} in {venv_dir(args.version).name}/")
    if args.setup_only:
        return 0
    command = [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-m", "not browser", *pytest_args]
    say("running " + " ".join(command[1:]))
    env = dict(os.environ, JUPYTER_PLATFORM_DIRS="1")
    return subprocess.run(command, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
