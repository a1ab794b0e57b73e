"""Fixtures of the browser tests (defined in tests/browser_support.py); nothing here runs unless a
test asks for them."""

from browser_support import browser, site, site_build  # noqa: F401
