"""MkDocs hooks of the workshop's site (mkdocs.yml ``hooks:``), run on every page's HTML before the
search index is made from it.

mkdocs-jupyter's copy button carries its "Copied!" notice as text, so every code cell of a lesson
put "Copied!" into the search results: the notice keeps its element (the button's script shows and
hides it) but its words move into an attribute that CSS shows (``tools/site/workshop.css``).
"""

from __future__ import annotations

import re

_NOTICE = re.compile(r'<span class="notice" hidden(="")?>Copied!</span>')


def on_page_content(html: str, page, config, files) -> str:  # noqa: ARG001 (MkDocs' hook signature)
    return _NOTICE.sub('<span class="notice" hidden data-notice="Copied!"></span>', html)
