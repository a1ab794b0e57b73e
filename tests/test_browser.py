"""The lessons in a real browser: JupyterLab on 127.0.0.1, driven by headless Chromium (Playwright).

For each lesson: open it and check that opening does not modify it (no modified marker once the kernel
is ready; saving it unchanged writes the same bytes as committed, so ``git status`` stays clean); then
run all cells and check what a learner would see — no error output, no "Select Kernel" dialog, no news
pop-up (the project's ``lab-settings/overrides.json`` turns it off), every cell executed, the pictures
(graphs, plots) loaded as images and not shrunk below legibility. One screenshot per lesson goes to
``artifacts/screenshots/``.

The static site (``tools/build_site.py``) is built, served on 127.0.0.1 and opened page by page:
every image loads and has alternative text, every internal link (and its anchor) resolves, and each
lesson links to the previous and the next one.

Needs Debian's Chromium at /usr/bin/chromium (``python3 workshop.py test`` installs it where it can);
skipped without it, except in CI (``CI`` set), where a missing browser is a failure.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
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
    user_settings = {  # the news pop-up is left to the project's own settings (--LabApp.app_settings_dir)
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
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={repo}", "--ServerApp.open_browser=False",
         f"--LabApp.app_settings_dir={ROOT / 'lab-settings'}"]
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
    yield base, token, repo
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
  // cells whose input is shown (the setup cell's input is collapsed: it shows no execution count)
  const cells = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')].filter(
    c => c.querySelector('.jp-InputArea-prompt'));
  const prompts = cells.map(c => (c.querySelector('.jp-InputArea-prompt') || {}).textContent || '');
  const imgs = [...document.querySelectorAll('.jp-Notebook .jp-RenderedImage img')];
  const scales = imgs.filter(i => i.naturalWidth > 0).map(i => i.getBoundingClientRect().width / i.naturalWidth);
  return {
    cells: cells.length,
    executed: prompts.filter(p => /\\[\\d+\\]/.test(p)).length,
    running: prompts.filter(p => p.includes('*')).length,
    errors: document.querySelectorAll('.jp-Notebook [data-mime-type="application/vnd.jupyter.error"]').length,
    stderr: document.querySelectorAll('.jp-Notebook [data-mime-type="application/vnd.jupyter.stderr"]').length,
    images: imgs.length,
    loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    min_scale: scales.length ? Math.min(...scales) : 1,
    news: /Jupyter news/.test(document.body.textContent),
    dialogs: [...document.querySelectorAll('.jp-Dialog')].map(d => d.textContent.slice(0, 80)),
  };
}"""


#: Smallest displayed/natural width of a picture: the graphs (Graphviz, 10-point labels at 96 dpi) and
#: plots (Matplotlib, 10-point text at 100 dpi) are legible down to about this scale (~7 px text).
MIN_IMAGE_SCALE = 0.55


def stored_pictures(notebook: Path) -> int:
    """How many pictures (PNG outputs) the committed notebook holds."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return sum("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", []))


def open_unmodified(page, notebook: Path, copy: Path) -> dict:
    """Once the kernel is ready: is the lesson marked modified? Then save it and compare its bytes
    with the committed notebook (as ``git status`` would)."""
    page.wait_for_timeout(2000)  # JupyterLab fills in metadata right after the kernel connects
    dirty = page.evaluate("() => [...document.querySelectorAll('.lm-TabBar-tab.jp-mod-dirty')].length")
    before = copy.stat().st_mtime_ns
    page.click(".jp-Notebook")
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 20
    while copy.stat().st_mtime_ns == before and time.monotonic() < deadline:
        time.sleep(0.2)
    # Jupyter's "atomic" save writes into the file itself (keeping a backup aside), so the first
    # change of mtime can come before the last byte: wait until the file has stopped changing.
    last = None
    while time.monotonic() < deadline:
        now = (copy.stat().st_mtime_ns, copy.stat().st_size)
        if now == last:
            break
        last = now
        time.sleep(1.0)
    return {"dirty": dirty, "saved": copy.stat().st_mtime_ns != before,
            "same_bytes": copy.read_bytes() == notebook.read_bytes()}


def run_all(page, notebook: Path, copy: Path) -> dict:
    """Once a lesson's page has loaded: wait until every code cell is rendered and the kernel is
    idle, check that opening did not modify it, then Run All Cells from the menu."""
    code_cells = sum(c["cell_type"] == "code" for c in json.loads(notebook.read_text())["cells"])
    page.wait_for_function(f"() => document.querySelectorAll('.jp-Notebook .jp-CodeCell').length === {code_cells}",
                           timeout=60_000)  # every code cell rendered (windowing is off)
    # the kernel is ready when the status bar says "… | Idle" (not "Starting", "Connecting" or "Unknown")
    page.wait_for_function(
        "() => /\\| Idle/.test((document.querySelector('#jp-main-statusbar') || {}).textContent || '')",
        timeout=60_000)
    opened = open_unmodified(page, notebook, copy)
    page.click(".jp-Notebook")
    page.keyboard.press("Escape")
    page.click(".lm-MenuBar-itemLabel:text-is('Run')", timeout=10_000)
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')", timeout=10_000)
    return opened


@pytest.fixture(scope="module")
def runs(lab, browser):
    """All lessons run at once, each in its own page (their kernels share the CPU); returns, per
    lesson, what the page showed when every cell had run (or the error that stopped it)."""
    base, token, repo = lab
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages, results, opened = {}, {}, {}
    for nb in NOTEBOOKS:  # open every lesson first, so that the kernels start side by side
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        pages[nb.stem] = page
        # one workspace per page, so that the pages do not share (and fight over) the layout
        page.goto(f"{base}/lab/workspaces/w{nb.stem[:2]}/tree/notebooks/{nb.name}?token={token}&reset",
                  wait_until="commit")
    for nb in NOTEBOOKS:
        try:
            opened[nb.stem] = run_all(pages[nb.stem], nb, repo / "notebooks" / nb.name)
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
        if isinstance(results[stem], dict):
            results[stem]["opened"] = opened[stem]
    return results


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_opening_a_lesson_does_not_modify_it(runs, notebook):
    state = runs[notebook.stem]
    if isinstance(state, Exception):
        raise state
    opened = state["opened"]
    assert opened["dirty"] == 0, "JupyterLab marked the lesson modified on opening: rebuild it (workshop.py notebooks)"
    assert opened["saved"], "Ctrl+S did not save the lesson"
    assert opened["same_bytes"], "saving the unchanged lesson changed the file (git status would show it)"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_runs_in_jupyterlab(runs, notebook):
    state = runs[notebook.stem]
    if isinstance(state, Exception):
        raise state
    assert not any("Select Kernel" in d for d in state["dialogs"]), state["dialogs"]
    assert state["errors"] == 0, f"{state['errors']} error outputs"
    assert state["stderr"] == 0, f"{state['stderr']} stderr outputs"
    stored = stored_pictures(notebook)
    assert stored >= 1, "every lesson shows at least one picture"
    assert state["images"] >= stored, f"{state['images']} pictures rendered, {stored} stored"
    assert state["loaded"] == state["images"], f"{state['images'] - state['loaded']} images did not load"
    assert state["first_image_visible"]
    assert not state["news"], "the news pop-up is shown: lab-settings/overrides.json was not applied"
    assert state["min_scale"] >= MIN_IMAGE_SCALE, (
        f"a picture is shown at {state['min_scale']:.2f} of its size: its text is too small to read")


# --- the static site ----------------------------------------------------------------------------

class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def site():
    """The static site, freshly built by tools/build_site.py and served on 127.0.0.1."""
    sys.path.insert(0, str(ROOT / "tools"))
    import build_site

    build_site.build()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(build_site.SITE)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


SITE_JS = """() => ({
  images: [...document.querySelectorAll('article img')].map(i => ({
    src: i.getAttribute('src'), loaded: i.complete && i.naturalWidth > 0, alt: i.getAttribute('alt') || ''})),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href).filter(h => h.startsWith(location.origin)),
  next: (document.querySelector('.md-footer__link--next') || {}).href || null,
  prev: (document.querySelector('.md-footer__link--prev') || {}).href || null,
})"""


def test_site_shows_every_lesson_with_its_pictures_and_links_that_resolve(site, browser):
    stems = [nb.stem for nb in NOTEBOOKS]
    urls = [f"{site}/"] + [f"{site}/{stem}/" for stem in stems]
    html_of: dict[str, str] = {}

    def fetch(url: str) -> str:
        if url not in html_of:
            with urllib.request.urlopen(url, timeout=10) as reply:
                html_of[url] = reply.read().decode("utf-8", "replace")
        return html_of[url]

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = []
    for i, url in enumerate(urls):
        reply = page.goto(url, wait_until="load")
        assert reply is not None and reply.ok, f"{url}: {reply and reply.status}"
        state = page.evaluate(SITE_JS)
        for img in state["images"]:
            if not img["loaded"]:
                problems.append(f"{url}: image {img['src']} did not load")
            if not img["alt"].strip():
                problems.append(f"{url}: image {img['src']} has no alternative text")
        if i > 0:  # a lesson: its pictures are there, and it links to its neighbours
            pictures = stored_pictures(NOTEBOOKS[i - 1])
            assert len(state["images"]) == pictures, f"{url}: {len(state['images'])} images, {pictures} stored"
            assert state["prev"] == urls[i - 1], f"{url}: previous link {state['prev']}"
            assert state["next"] == (urls[i + 1] if i + 1 < len(urls) else None), f"{url}: next {state['next']}"
        for link in sorted(set(state["links"])):
            target, _, anchor = link.partition("#")
            try:
                text = fetch(target)
            except OSError as exc:
                problems.append(f"{url}: link {link} does not resolve ({exc})")
                continue
            if anchor and not re.search(rf'id="{re.escape(urllib.parse.unquote(anchor))}"', text):
                problems.append(f"{url}: link {link}: no element with that id")
    page.close()
    assert not problems, "\n".join(problems[:20])
