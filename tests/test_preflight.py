"""`python3 workshop.py preflight` gives the right verdict here, and when Graphviz is hidden."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def preflight(env):
    return subprocess.run([sys.executable, "workshop.py", "preflight"], cwd=ROOT, env=env,
                          capture_output=True, text=True)


def test_ready_on_this_machine():
    result = preflight(dict(os.environ))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERDICT: READY — all 6 checks passed" in result.stdout
    assert "[FAIL]" not in result.stdout


def test_not_ready_without_graphviz(tmp_path):
    bin_dir = tmp_path / "bin"  # a PATH with Python and git, but no `dot`
    bin_dir.mkdir()
    for tool in ("git",):
        os.symlink(subprocess.run(["which", tool], capture_output=True, text=True).stdout.strip(), bin_dir / tool)
    result = preflight({**os.environ, "PATH": str(bin_dir)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[FAIL] Graphviz: Graphviz's `dot` is not on PATH" in result.stdout
    assert "[skip] Graph drawing: needs Graphviz" in result.stdout
    assert "[ ok ] PyTorch" in result.stdout
    assert "VERDICT: NOT READY — 2 of 6 checks did not pass" in result.stdout


def test_not_ready_without_the_environment(tmp_path):
    # a bare Python with none of the packages (the interpreter's isolated mode, no site-packages)
    result = subprocess.run([sys.executable, "-I", "-S", str(ROOT / "tools" / "preflight.py")],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1
    assert "[FAIL] PyTorch: PyTorch is not installed" in result.stdout
    assert "python3 workshop.py setup" in result.stdout
    assert "VERDICT: NOT READY" in result.stdout
