"""Fixtures of the console tests: an organization on the local cloud, Debian's Chromium
driven by Playwright, and a signed-in console page.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.console.helpers import VIEWPORT, sign_in
from tests.support.orgs import Organization, Organizations

pytestmark = pytest.mark.localcloud


@pytest.fixture(scope="module")
def console_org(organizations: Organizations) -> Organization:
    return organizations.create("console")


@pytest.fixture()
def api(organizations: Organizations, console_org: Organization) -> Iterator[Any]:
    with organizations.client(console_org) as client:
        yield client


@pytest.fixture(scope="module")
def console_url(organizations: Organizations) -> str:
    return f"{organizations.cloud.api_url}/console/"


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, headless=True, chromium_sandbox=False
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    """A fresh tab (its own sessionStorage); console errors (a CSP violation included)
    fail the test."""
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(str(e)))
    yield tab
    context.close()
    unexpected = [p for p in problems if not _expected(p)]
    assert not unexpected, f"errors in the browser console: {unexpected}"


def _expected(message: str) -> bool:
    # Chromium logs every non-2xx fetch ("Failed to load resource: ... 400"): the tests
    # provoke those on purpose; anything else (a CSP violation, an exception) is a bug.
    return message.startswith("Failed to load resource")


@pytest.fixture()
def signed_in(page: Any, console_url: str, console_org: Organization) -> Any:
    sign_in(page, console_url, console_org.key)
    return page
