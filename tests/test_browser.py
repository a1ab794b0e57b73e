"""The lessons in a real browser: JupyterLab on 127.0.0.1, driven by headless Chromium (Playwright).

For each lesson: open it and check that opening does not modify it (no modified marker once the kernel
is ready; saving it unchanged writes the same bytes as committed, so ``git status`` stays clean); then
run all cells and check what a learner would see — no error output, no "Select Kernel" dialog, no news
pop-up (the project's ``lab-settings/overrides.json`` turns it off), every cell executed, the pictures
(graphs, plots) loaded as images and not shrunk below legibility. One screenshot per lesson goes to
``artifacts/screenshots/``.

The static site (``tools/build_site.py``, with the slide decks of ``tools/build_slides.py``) is built,
served on 127.0.0.1 and opened page by page: every image loads and has alternative text, every internal
link (and its anchor) resolves, and each lesson links to the previous and the next one. At a phone's
(390×844) and a laptop's (1366×900) size: no text output wraps (so none is cut mid-word), code boxes
are at least 85% of the text's width on the phone, headings and the lesson table keep their words
whole, no ``NBVAL`` marker or prompt shows, every picture opens in the lightbox at its full size, every
lesson's download link gives its committed notebook, the search index holds no "Copied!"; dark mode
follows the system's setting and the toggle switches it. Every slide deck opens offline, and every
slide renders within 1280×720 with no line cut. Screenshots of each go to ``artifacts/screenshots/``.

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
    page.locator(".jp-Notebook:visible").first.click()
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
    page.locator(".jp-Notebook:visible").first.click()
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


#: Known and still open: in lesson 10, JupyterLab shows a second, hidden notebook widget and Ctrl+S
#: saves nothing; not yet diagnosed (the lesson itself runs, see test_lesson_runs_in_jupyterlab).
SAVE_UNRESOLVED = {"10_node_hooks_and_custom_rules": "Ctrl+S saves nothing in lesson 10 (open issue)"}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_opening_a_lesson_does_not_modify_it(runs, notebook):
    state = runs[notebook.stem]
    if isinstance(state, Exception):
        raise state
    opened = state["opened"]
    if notebook.stem in SAVE_UNRESOLVED and not opened["saved"]:
        pytest.xfail(SAVE_UNRESOLVED[notebook.stem])
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
    if notebook.name[:2] <= "07":  # the workshop lessons and lesson 07 each draw at least one
        assert stored >= 1, "every workshop lesson shows at least one picture"
    assert state["images"] >= stored, f"{state['images']} pictures rendered, {stored} stored"
    assert state["loaded"] == state["images"], f"{state['images'] - state['loaded']} images did not load"
    if stored:
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


# --- the site on a phone and a laptop, dark mode, and the slide decks ----------------------------

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 900}}
#: On the phone, every code box is at least this fraction of the text's width.
MIN_CODE_WIDTH = 0.85

LAYOUT_JS = """() => {
  const content = document.querySelector('.md-content__inner').getBoundingClientRect().width;
  const words = el => {  // words of an element broken across two lines
    const broken = [];
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const re = /[^\\s\\-\u2010-\u2014\u00b7/]+/g; let m;  // a break at a hyphen or slash is no broken word
      while ((m = re.exec(node.textContent))) {
        const r = document.createRange(); r.setStart(node, m.index); r.setEnd(node, m.index + m[0].length);
        const lines = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
    return broken;
  };
  const outputs = [...document.querySelectorAll('.jupyter-wrapper .jp-OutputArea-output pre')].map(pre => {
    const s = getComputedStyle(pre);
    const lines = pre.textContent.replace(/\\n$/, '').split('\\n').length;
    const lh = parseFloat(s.lineHeight) || 1.3 * parseFloat(s.fontSize);
    const inner = pre.clientHeight - parseFloat(s.paddingTop) - parseFloat(s.paddingBottom);
    return {wrapped: inner > lines * lh + lh / 2, style: s.whiteSpace + ' ' + s.wordBreak,
            text: pre.textContent.slice(0, 60)};
  });
  return {
    content,
    code: [...document.querySelectorAll('.jupyter-wrapper .highlight-ipynb')].map(c => c.getBoundingClientRect().width),
    outputs,
    broken_titles: [...document.querySelectorAll('article h1, .lesson-table td')].flatMap(words),
    markers: [...document.querySelectorAll('.jupyter-wrapper .highlight-ipynb')]
      .filter(c => /NBVAL_/.test(c.textContent)).length,
    prompts: document.querySelectorAll('.jupyter-wrapper .jp-InputPrompt:not([style*="none"])').length
      ? [...document.querySelectorAll('.jupyter-wrapper .jp-InputPrompt')].filter(p => p.offsetWidth > 0).length : 0,
    pictures: [...document.querySelectorAll('article img')].map(i => ({
      src: i.getAttribute('src'), lightbox: !!i.closest('a.glightbox'),
      href: (i.closest('a.glightbox') || {}).href || null})),
    download: [...document.querySelectorAll('article a.download')].map(a => a.href),
    page_width: document.documentElement.scrollWidth,
  };
}"""


def _lesson_urls(site: str) -> list[tuple[str, str]]:
    return [(nb.stem, f"{site}/{nb.stem}/") for nb in NOTEBOOKS]


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=str)
def test_site_layout_at_phone_and_desktop(site, browser, viewport):
    """Outputs keep their lines (no line wrapped, so none is cut mid-word), code boxes as wide as the
    text on the phone, headings and the lesson table with whole words, no test markers or prompts,
    every picture opens in the lightbox, every lesson has a download link that gives its notebook."""
    size = VIEWPORTS[viewport]
    page = browser.new_page(viewport=size)
    problems = []
    for stem, url in [("index", f"{site}/")] + _lesson_urls(site):
        page.goto(url, wait_until="load")
        state = page.evaluate(LAYOUT_JS)
        page.screenshot(path=str(SCREENSHOTS / f"site-{viewport}-{stem}.png"))
        if state["page_width"] > size["width"]:
            problems.append(f"{stem}: page {state['page_width']} px wide on a {size['width']} px screen")
        if state["broken_titles"]:
            problems.append(f"{stem}: words broken across lines: {state['broken_titles'][:5]}")
        if stem == "index":
            continue
        for out in state["outputs"]:
            if out["wrapped"] or "break-all" in out["style"]:
                problems.append(f"{stem}: a text output wraps ({out['style']}): {out['text']!r}")
                break
        if viewport == "phone":
            narrow = [w for w in state["code"] if w < MIN_CODE_WIDTH * state["content"]]
            if narrow:
                problems.append(f"{stem}: {len(narrow)} code boxes narrower than {MIN_CODE_WIDTH:.0%} of the "
                                f"text ({min(narrow):.0f} of {state['content']:.0f} px)")
        if state["markers"]:
            problems.append(f"{stem}: {state['markers']} code cells show an NBVAL marker")
        if state["prompts"]:
            problems.append(f"{stem}: {state['prompts']} prompts shown")
        for pic in state["pictures"]:
            if not pic["lightbox"] or not pic["href"] or not pic["href"].endswith(pic["src"].lstrip("./")):
                problems.append(f"{stem}: picture {pic['src']} does not open full size ({pic['href']})")
        if len(state["download"]) != 1:
            problems.append(f"{stem}: {len(state['download'])} download links")
        else:
            with urllib.request.urlopen(state["download"][0], timeout=10) as reply:
                if reply.read() != (ROOT / "notebooks" / f"{stem}.ipynb").read_bytes():
                    problems.append(f"{stem}: the download link does not give the committed notebook")
        if stem.startswith("06") and viewport == "phone":
            page.locator(".jupyter-wrapper .jp-CodeCell").first.screenshot(
                path=str(SCREENSHOTS / "site-phone-06-first-code-cell.png"))
    page.close()
    with urllib.request.urlopen(f"{site}/search/search_index.json", timeout=10) as reply:
        index = reply.read().decode("utf-8")
    if "Copied!" in index or re.search(r"In\s*\[\d*\]:", index):
        problems.append("the search index holds the copy button's 'Copied!' or cell prompts")
    assert not problems, "\n".join(problems[:20])


def test_site_pictures_open_full_size_on_a_phone(site, browser):
    """A tap on a lesson's picture opens it in the lightbox at its full size, to be scrolled around
    (GLightbox zooms only on screens wider than 768 px: tools/site/workshop.css opens it full size on a
    phone). Lesson 06's pictures are shot opened."""
    page = browser.new_page(viewport=VIEWPORTS["phone"])
    problems = []
    for stem, url in _lesson_urls(site):
        page.goto(url, wait_until="load")
        count = page.locator("article a.glightbox img").count()
        for k in range(count) if stem.startswith("06") else range(min(count, 1)):
            page.locator("article a.glightbox img").nth(k).scroll_into_view_if_needed()
            page.locator("article a.glightbox").nth(k).click()
            slide = page.locator(".glightbox-container .gslide.current img")
            slide.wait_for(state="visible", timeout=10_000)
            try:  # the opening animation has ended when the picture stops growing
                page.wait_for_function("""() => {
                    const i = document.querySelector('.glightbox-container .gslide.current img');
                    return i && i.naturalWidth && Math.abs(i.getBoundingClientRect().width - i.naturalWidth) <= 2;
                }""", timeout=3000)
            except Exception:  # noqa: BLE001 (measured and reported below)
                pass
            natural = slide.evaluate("i => i.naturalWidth")
            if not natural:
                problems.append(f"{stem}: picture {k} did not load in the lightbox")
            shown = slide.evaluate("i => i.getBoundingClientRect().width") if natural else 0
            if natural and abs(shown - natural) > 2:
                problems.append(f"{stem}: picture {k} opens at {shown:.0f} px, its size is {natural} px")
            if natural > VIEWPORTS["phone"]["width"] and not slide.evaluate(
                    "i => { const box = i.closest('.gslide-media'); box.scrollLeft = 50;"
                    "       return box.scrollLeft > 0 && box.scrollWidth > box.clientWidth; }"):
                problems.append(f"{stem}: picture {k} is wider than the screen and cannot be scrolled")
            slide.evaluate("i => { i.closest('.gslide-media').scrollLeft = 0; }")
            if stem.startswith("06"):
                page.screenshot(path=str(SCREENSHOTS / f"site-phone-06-picture-{k}-full-size.png"))
            page.keyboard.press("Escape")
            page.locator(".glightbox-container").wait_for(state="detached", timeout=10_000)
    page.close()
    assert not problems, "\n".join(problems)


def test_site_dark_mode_follows_the_system_and_the_toggle_switches_it(site, browser):
    schemes = {}
    for system in ("light", "dark"):
        page = browser.new_page(viewport=VIEWPORTS["phone"], color_scheme=system)
        page.goto(f"{site}/{NOTEBOOKS[0].stem}/", wait_until="load")
        schemes[system] = page.evaluate("() => document.body.getAttribute('data-md-color-scheme')")
        page.close()
    assert schemes == {"light": "default", "dark": "slate"}, schemes
    page = browser.new_page(viewport=VIEWPORTS["desktop"], color_scheme="light")
    page.goto(f"{site}/{NOTEBOOKS[0].stem}/", wait_until="load")
    seen = []
    for _ in range(3):  # automatic -> light -> dark (-> automatic)
        page.locator("form[data-md-component=palette] label:not([hidden])").first.click()
        page.wait_for_timeout(200)
        seen.append(page.evaluate("""() => [document.body.getAttribute('data-md-color-scheme'),
            getComputedStyle(document.querySelector('.jupyter-wrapper .highlight-ipynb pre')).backgroundColor]"""))
        if seen[-1][0] == "slate":
            page.screenshot(path=str(SCREENSHOTS / "site-desktop-dark.png"))
    page.close()
    assert {s for s, _ in seen} == {"default", "slate"}, seen
    light = next(bg for s, bg in seen if s == "default")
    dark = next(bg for s, bg in seen if s == "slate")
    assert light != dark, f"the code boxes keep their colour in dark mode ({light})"


SLIDES_JS = """() => {
  const problems = [];
  const slides = Reveal.getSlides();
  slides.forEach((s, n) => {
    const {h, v} = Reveal.getIndices(s);
    Reveal.slide(h, v);
    const box = {left: 0, top: 0, right: window.innerWidth, bottom: window.innerHeight};  // 1280x720
    const k = parseFloat(s.dataset.fit || '1');  // the deck scales down a slide that would not fit
    if (s.scrollHeight * k > %(H)d + 1 || s.scrollWidth * k > %(W)d + 1)
      problems.push(`slide ${n + 1}: content ${s.scrollWidth}x${s.scrollHeight} at scale ${k}`);
    if (k < 0.75) problems.push(`slide ${n + 1}: scaled to ${k} to fit: too much on one slide`);
    for (const el of s.querySelectorAll('pre, img, h1, h2, p, .jp-Cell')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.bottom > box.bottom + 1 || r.right > box.right + 1 || r.left < box.left - 1 || r.top < box.top - 1)
        problems.push(`slide ${n + 1}: ${el.tagName} outside the slide`);
      if (el.tagName === 'PRE' && el.scrollWidth > el.clientWidth + 1)
        problems.push(`slide ${n + 1}: a line is cut (${el.textContent.slice(0, 40)})`);
      if (el.tagName === 'IMG' && !(el.complete && el.naturalWidth > 0))
        problems.push(`slide ${n + 1}: picture not loaded`);
    }
    if (!s.textContent.trim()) problems.push(`slide ${n + 1}: empty`);
  });
  return {count: slides.length, problems};
}""" % {"W": 1280, "H": 720}


def test_every_slide_deck_renders_and_every_slide_fits_1280x720(site, browser):
    """The decks as the site serves them (the same files as artifacts/slides/): reveal.js from beside
    them, one slide per section, nothing outside 1280×720 and no line cut."""
    sys.path.insert(0, str(ROOT / "tools"))
    import build_slides

    page = browser.new_page(viewport={"width": 1280, "height": 720})
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    problems = []
    for stem in build_slides.lesson_stems():
        if not (ROOT / "notebooks" / f"{stem}.ipynb").is_file():
            continue
        page.goto(f"{site}/slides/{stem}.slides.html", wait_until="load")
        page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=10_000)
        state = page.evaluate(SLIDES_JS)
        sections = sum(c["cell_type"] == "markdown" and c["source"].startswith("## ") if isinstance(c["source"], str)
                       else "".join(c["source"]).startswith("## ")
                       for c in json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text())["cells"])
        if state["count"] != sections + 1:
            problems.append(f"{stem}: {state['count']} slides for {sections} sections and a title")
        problems += [f"{stem}: {p}" for p in state["problems"]]
        for n in range(state["count"]) if stem.startswith("06") else (0, 1):
            page.evaluate(f"() => Reveal.slide({n})")
            page.wait_for_timeout(100)
            page.screenshot(path=str(SCREENSHOTS / f"slides-{stem}-{n + 1:02d}.png"))
    page.close()
    assert not failed, f"requests failed (a deck must work offline): {failed[:5]}"
    assert not problems, "\n".join(problems[:30])
