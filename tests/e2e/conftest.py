"""Fixtures the browser tests share."""
from __future__ import annotations

import pytest

from e2e.lab import launch_chromium


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, driven by Playwright, for one test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()
