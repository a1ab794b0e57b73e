"""workshop.py, the two-command entry point: what it decides without installing anything."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("workshop", ROOT / "workshop.py")
workshop = importlib.util.module_from_spec(spec)
spec.loader.exec_module(workshop)


def test_uses_only_the_standard_library():
    text = (ROOT / "workshop.py").read_text()
    imports = {line.split()[1].split(".")[0] for line in text.splitlines()
               if line.startswith(("import ", "from ")) and not line.startswith("from __future__")}
    assert imports <= set(sys.stdlib_module_names), imports - set(sys.stdlib_module_names)


def test_help_lists_the_commands():
    out = subprocess.run([sys.executable, str(ROOT / "workshop.py"), "help"], capture_output=True, text=True)
    assert out.returncode == 0
    for command in ("lab", "test", "notebooks", "preflight", "setup", "site", "slides"):
        assert f"python3 workshop.py {command}" in out.stdout
    bad = subprocess.run([sys.executable, str(ROOT / "workshop.py"), "nonsense"], capture_output=True, text=True)
    assert bad.returncode == 2


def test_requirements_are_skipped_when_the_stamp_matches(monkeypatch, tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("torch==2.13.0\n")
    stamp = tmp_path / "stamp"
    monkeypatch.setattr(workshop, "REQUIREMENTS", req)
    monkeypatch.setattr(workshop, "STAMP", stamp)
    calls = []
    monkeypatch.setattr(workshop.subprocess, "run", lambda *a, **k: calls.append(a))
    workshop.ensure_requirements()
    assert len(calls) == 1 and stamp.read_text().strip() == workshop.requirements_digest()
    workshop.ensure_requirements()  # second run: nothing to install
    assert len(calls) == 1
    req.write_text("torch==2.13.0\nnumpy==2.4.6\n")  # requirements changed: install again
    workshop.ensure_requirements()
    assert len(calls) == 2


def test_missing_required_program_stops_with_instructions(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(workshop, "can_apt", lambda: None)
    with pytest.raises(SystemExit) as stop:
        workshop.ensure_program("dot", "graphviz", workshop.GRAPHVIZ_HELP, required=True)
    message = str(stop.value)
    assert "`dot` was not found" in message
    for line in ("sudo apt-get install graphviz", "brew install graphviz", "winget install graphviz",
                 "conda install -c conda-forge graphviz"):
        assert line in message


def test_missing_optional_program_only_says_so(monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(workshop, "can_apt", lambda: None)
    assert workshop.ensure_program("chromium", "chromium", workshop.CHROMIUM_HELP, required=False) is False
    assert "sudo apt-get install chromium" in capsys.readouterr().out


def test_apt_is_used_when_it_can_and_the_program_appears(monkeypatch):
    installed = []
    monkeypatch.setattr(workshop, "apt_install", lambda pkgs: installed.extend(pkgs) or True)
    found = iter([None, "/usr/bin/dot"])
    monkeypatch.setattr(workshop.shutil, "which", lambda name: next(found))
    assert workshop.ensure_program("dot", "graphviz", workshop.GRAPHVIZ_HELP, required=True)
    assert installed == ["graphviz"]


def test_no_apt_without_root_or_passwordless_sudo(monkeypatch):
    monkeypatch.setattr(workshop.os, "geteuid", lambda: 1000, raising=False)
    monkeypatch.setattr(workshop.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(workshop.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1))
    assert workshop.can_apt() is None
    monkeypatch.setattr(workshop.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0))
    assert workshop.can_apt() == ["sudo", "-n"]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 workshop.py lab" in readme and "python3 workshop.py test" in readme
    commands = [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert commands == ["python3 workshop.py test"]


def test_lab_settings_are_installed_once_and_turn_off_the_news_pop_up(tmp_path):
    import json

    overrides = json.loads(workshop.LAB_SETTINGS.read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"] == {"checkForUpdates": False,
                                                                        "fetchNews": "false"}
    workshop.ensure_lab_settings(tmp_path)
    installed = tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert installed.read_bytes() == workshop.LAB_SETTINGS.read_bytes()
    before = installed.stat().st_mtime_ns
    workshop.ensure_lab_settings(tmp_path)  # already there: not rewritten
    assert installed.stat().st_mtime_ns == before
    # Binder's postBuild installs the same file
    assert "lab-settings/overrides.json" in (ROOT / "postBuild").read_text()


def test_lab_opens_on_lesson_01(monkeypatch):
    calls = []
    monkeypatch.setattr(workshop, "setup", lambda **k: None)
    monkeypatch.setattr(workshop, "run", lambda args: calls.append(args) or 0)
    assert workshop.main(["lab"]) == 0
    assert "--LabApp.default_url=/lab/tree/notebooks/01_autograd_graph.ipynb" in calls[0]
    assert (ROOT / workshop.FIRST_LESSON).is_file()


def test_site_builds_with_the_site_script(monkeypatch):
    calls = []
    monkeypatch.setattr(workshop, "setup", lambda **k: None)
    monkeypatch.setattr(workshop, "run", lambda args: calls.append(args) or 0)
    assert workshop.main(["site"]) == 0
    assert calls[0][1:] == ["tools/build_site.py"] and (ROOT / "tools" / "build_site.py").is_file()
