"""The slide decks in a real browser: every deck of tools/build_slides.py as the site serves it,
opened offline in headless Chromium (Playwright) at 1280×720; every slide renders, nothing overflows
the slide and no line is cut. Screenshots go to ``artifacts/screenshots/``.

Shared with the other browser tests (``tests/browser_support.py``): the browser, the site (built
once per run) and the skip rule — needs Debian's Chromium at /usr/bin/chromium; skipped without it,
except in CI (``CI`` set).
"""

from __future__ import annotations

import json
import re
import sys

import pytest
from browser_support import ROOT, SCREENSHOTS, require_chromium

require_chromium()
pytestmark = pytest.mark.browser


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
      else if (el.tagName === 'IMG' && r.width < 0.6 * el.naturalWidth)  // r: on screen, the fit included
        problems.push(`slide ${n + 1}: picture shown at ${(r.width / el.naturalWidth).toFixed(2)} of its size`);
    }
    if (!s.textContent.trim()) problems.push(`slide ${n + 1}: empty`);
    const shown = [...s.querySelectorAll('p, li, td, pre, img')].filter(
      el => !el.closest('aside.notes') && el.getBoundingClientRect().width > 0);
    if (!shown.length) problems.push(`slide ${n + 1}: only a heading`);
  });
  return {count: slides.length, problems};
}""" % {"W": 1280, "H": 720}


def test_every_slide_deck_renders_and_every_slide_fits_1280x720(site, browser):
    """The decks as the site serves them (the same files as artifacts/slides/): reveal.js from beside
    them, one slide per section (every ``## `` heading, also one below an anchor or a paragraph in its
    cell), nothing outside 1280×720, no line cut, every picture shown at 0.6 of its size or more, and
    every slide showing something under its heading."""
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
        sections = sum(len(re.findall(r"(?m)^## ", "".join(c["source"])))  # a heading on any line of a cell
                       for c in json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text())["cells"]
                       if c["cell_type"] == "markdown")
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
