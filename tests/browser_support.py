"""What the browser tests share: Chromium (headless, Playwright), the static site built once per test
run and served on 127.0.0.1, the lesson list, and the skip rule.

The browser tests are split over several files so that pytest-xdist's ``--dist loadfile`` can run
them side by side: ``tests/test_browser.py`` (every lesson in JupyterLab),
``tests/test_browser_site.py`` (the site's pages, at a phone's and a laptop's size, dark mode) and
``tests/test_browser_slides.py`` (the slide decks). Their fixtures come from here through
``tests/conftest.py``; the site is built once per test run, by whichever file asks first. Each of
those files calls ``require_chromium()`` first: without Debian's Chromium at /usr/bin/chromium it
is skipped, except in CI (``CI`` set), where a missing browser is a failure.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import http.server
import json
import os
import socket
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]
#: The sizes the site is checked at: a phone's and a laptop's.
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 900}}


def require_chromium() -> None:
    """Skip the calling test module (at import) where Chromium is missing; in CI, fail instead."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            raise RuntimeError(f"{CHROMIUM} is missing in CI: the set-up should have installed it")
        pytest.skip(f"{CHROMIUM} not found (Debian: sudo apt-get install chromium)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stored_pictures(notebook: Path) -> int:
    """How many pictures (PNG outputs) the committed notebook holds."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return sum("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", []))


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium; screenshots go to ``artifacts/screenshots/``."""
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def site_build(tmp_path_factory) -> Path:
    """The site, built by tools/build_site.py (into the fixed ``artifacts/site/``) once per test run.

    Under pytest-xdist, the first worker to ask builds it while holding a lock in the run's shared
    temporary folder; the others wait for the lock and serve that build (two builds at once would
    overwrite each other's files)."""
    sys.path.insert(0, str(ROOT / "tools"))
    import build_site

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        build_site.build()
        return build_site.SITE
    shared = tmp_path_factory.getbasetemp().parent  # one folder per run, shared by its workers
    with _locked(shared / "site-build.lock"):
        done = shared / "site-built"
        if not done.exists():
            build_site.build()
            done.write_text(str(build_site.SITE))
    return build_site.SITE


@pytest.fixture(scope="module")
def site(site_build):
    """The static site (:func:`site_build`) served on 127.0.0.1."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site_build)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def lesson_urls(site: str) -> list[tuple[str, str]]:
    return [(nb.stem, f"{site}/{nb.stem}/") for nb in NOTEBOOKS]
