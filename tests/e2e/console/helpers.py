"""Helpers of the console tests: signing in, and the docs' screenshots.

`RUNHOOK_CONSOLE_SCREENSHOTS=1 pytest -n 0 tests/e2e/console` (re)writes docs/console/*.png
while the tests run: the screenshots in the docs are what these tests saw.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[3] / "docs" / "console"
VIEWPORT = {"width": 1000, "height": 720}


def sign_in(page: Any, console_url: str, key: str) -> None:
    page.goto(console_url)
    page.fill("#api-key", key)
    page.click("button[type=submit]")
    page.wait_for_selector("nav.top")


def shoot(page: Any, name: str, mask: list[Any] | None = None) -> None:
    """Save the page as docs/console/<name>.png when RUNHOOK_CONSOLE_SCREENSHOTS is set
    (`mask`: locators painted over, e.g. a secret that is shown once)."""
    if os.environ.get("RUNHOOK_CONSOLE_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(DOCS / f"{name}.png"), full_page=False, mask=mask or [], mask_color="#c9ced8"
        )
