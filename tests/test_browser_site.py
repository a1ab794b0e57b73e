"""The static site in a real browser: tools/build_site.py's build (with the slide decks of
tools/build_slides.py), served on 127.0.0.1, opened page by page in headless Chromium (Playwright).

Every image loads and has alternative text, every internal link (and its anchor) resolves, and each
lesson links to the previous and the next one. At a phone's (390×844) and a laptop's (1366×900)
size: no text output wraps (so none is cut mid-word), code boxes are at least 85% of the text's
width on the phone, headings and the lesson table keep their words whole, no ``NBVAL`` marker or
prompt shows, every picture opens in the lightbox at its full size, every lesson's download link
gives its committed notebook, the search index holds no "Copied!"; dark mode follows the system's
setting and the toggle switches it. Screenshots of each go to ``artifacts/screenshots/``.

Shared with the other browser tests (``tests/browser_support.py``): the browser, the site (built
once per run) and the skip rule — needs Debian's Chromium at /usr/bin/chromium; skipped without it,
except in CI (``CI`` set).
"""

from __future__ import annotations

import re
import urllib.parse
import urllib.request

import pytest
from browser_support import NOTEBOOKS, ROOT, SCREENSHOTS, VIEWPORTS, lesson_urls, require_chromium, stored_pictures

require_chromium()
pytestmark = pytest.mark.browser


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


# --- the site on a phone and a laptop, and dark mode --------------------------------------------

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


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=str)
def test_site_layout_at_phone_and_desktop(site, browser, viewport):
    """Outputs keep their lines (no line wrapped, so none is cut mid-word), code boxes as wide as the
    text on the phone, headings and the lesson table with whole words, no test markers or prompts,
    every picture opens in the lightbox, every lesson has a download link that gives its notebook."""
    size = VIEWPORTS[viewport]
    page = browser.new_page(viewport=size)
    problems = []
    for stem, url in [("index", f"{site}/")] + lesson_urls(site):
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
    for stem, url in lesson_urls(site):
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
