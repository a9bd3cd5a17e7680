"""End-to-end fixtures: the browser ones live in `browser.py`."""

from .browser import browser_page, chromium

__all__ = ["browser_page", "chromium"]
