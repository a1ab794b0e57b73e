"""The lessons in a real browser: JupyterLab on 127.0.0.1, driven by headless Chromium (Playwright).

For each lesson: open it, run all cells, and check what a learner would see — no error output, no
"Select Kernel" dialog, every cell executed, and the pictures (graphs, plots) loaded as images. One
screenshot per lesson goes to ``artifacts/screenshots/``.

Needs Debian's Chromium at /usr/bin/chromium (``python3 workshop.py test`` installs it where it can);
skipped without it, except in CI (``CI`` set), where a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing in CI: the set-up should have installed it")
    pytest.skip(f"{CHROMIUM} not found (Debian: sudo apt-get install chromium)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 with a random token and throw-away settings and workspaces."""
    home = tmp_path_factory.mktemp("lab")
    repo = home / "repo"  # a copy: running cells in the browser must never change the committed notebooks
    for name in ("helpers", "lessons", "notebooks"):
        shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    user_settings = {
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        "docmanager-extension/plugin": {"autosave": False},
        "notebook-extension/tracker": {"windowingMode": "none"},  # every cell in the DOM, to be checked
    }
    for plugin, values in user_settings.items():
        path = home / "settings" / "@jupyterlab" / (plugin + ".jupyterlab-settings")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    token, port = secrets.token_hex(16), free_port()
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTER_PLATFORM_DIRS": "1"}
    log = open(home / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={repo}", "--ServerApp.open_browser=False"]
        + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                log.close()
                raise RuntimeError("JupyterLab did not start:\n" + (home / "lab.log").read_text()[-3000:]) from None
            time.sleep(0.25)
    yield base, token
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


STATE_JS = """() => {
  const cells = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')];
  const prompts = cells.map(c => (c.querySelector('.jp-InputArea-prompt') || {}).textContent || '');
  const imgs = [...document.querySelectorAll('.jp-Notebook .jp-RenderedImage img')];
  return {
    cells: cells.length,
    executed: prompts.filter(p => /\\[\\d+\\]/.test(p)).length,
    running: prompts.filter(p => p.includes('*')).length,
    errors: document.querySelectorAll('.jp-Notebook [data-mime-type="application/vnd.jupyter.error"]').length,
    stderr: document.querySelectorAll('.jp-Notebook [data-mime-type="application/vnd.jupyter.stderr"]').length,
    images: imgs.length,
    loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    dialogs: [...document.querySelectorAll('.jp-Dialog')].map(d => d.textContent.slice(0, 80)),
  };
}"""


def run_all(page, notebook: Path) -> None:
    """Once a lesson's page has loaded: wait until every code cell is rendered and the kernel is
    idle, then Run All Cells from the menu."""
    code_cells = sum(c["cell_type"] == "code" for c in json.loads(notebook.read_text())["cells"])
    page.wait_for_function(f"() => document.querySelectorAll('.jp-Notebook .jp-CodeCell').length === {code_cells}",
                           timeout=60_000)  # every code cell rendered (windowing is off)
    # the kernel is ready when the status bar says "… | Idle" (not "Starting", "Connecting" or "Unknown")
    page.wait_for_function(
        "() => /\\| Idle/.test((document.querySelector('#jp-main-statusbar') || {}).textContent || '')",
        timeout=60_000)
    page.click(".jp-Notebook")
    page.keyboard.press("Escape")
    page.click(".lm-MenuBar-itemLabel:text-is('Run')", timeout=10_000)
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')", timeout=10_000)


@pytest.fixture(scope="module")
def runs(lab, browser):
    """All lessons run at once, each in its own page (their kernels share the CPU); returns, per
    lesson, what the page showed when every cell had run (or the error that stopped it)."""
    base, token = lab
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages, results = {}, {}
    for nb in NOTEBOOKS:  # open every lesson first, so that the kernels start side by side
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        pages[nb.stem] = page
        # one workspace per page, so that the pages do not share (and fight over) the layout
        page.goto(f"{base}/lab/workspaces/w{nb.stem[:2]}/tree/notebooks/{nb.name}?token={token}&reset",
                  wait_until="commit")
    for nb in NOTEBOOKS:
        try:
            run_all(pages[nb.stem], nb)
        except Exception as exc:  # reported by that lesson's test
            results[nb.stem] = exc
    deadline = time.monotonic() + 180
    while len(results) < len(pages):
        for stem, page in pages.items():
            if stem in results:
                continue
            state = page.evaluate(STATE_JS)
            if state["executed"] == state["cells"] and state["running"] == 0:
                page.wait_for_timeout(300)  # let the last images decode
                results[stem] = page.evaluate(STATE_JS)
            elif time.monotonic() > deadline:
                results[stem] = TimeoutError(f"cells did not finish: {state}")
        time.sleep(0.3)
    for stem, page in pages.items():
        images = page.locator(".jp-Notebook .jp-RenderedImage img")
        if isinstance(results[stem], dict) and results[stem]["images"]:
            images.first.scroll_into_view_if_needed()
            results[stem]["first_image_visible"] = images.first.is_visible()
        page.screenshot(path=str(SCREENSHOTS / f"{stem}.png"))
        page.close()
    return results


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_runs_in_jupyterlab(runs, notebook):
    state = runs[notebook.stem]
    if isinstance(state, Exception):
        raise state
    assert not any("Select Kernel" in d for d in state["dialogs"]), state["dialogs"]
    assert state["errors"] == 0, f"{state['errors']} error outputs"
    assert state["stderr"] == 0, f"{state['stderr']} stderr outputs"
    assert state["images"] >= 1, "no picture rendered"
    assert state["loaded"] == state["images"], f"{state['images'] - state['loaded']} images did not load"
    assert state["first_image_visible"]
