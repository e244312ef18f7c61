"""Browser-step test setup: Debian's Chromium (or a skip that says why) and its processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.polling import poll

CHROMIUM = "/usr/lib/chromium/chromium"


def require_chromium() -> str:
    """The Chromium executable; skips the test, with the reason, when it cannot run."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; `make install` does it)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    return CHROMIUM


def chromium_processes() -> set[int]:
    from runhook.engine.steps.browser import procs

    return procs.processes_of(CHROMIUM)


def step_chromium_processes() -> set[int]:
    """The Chromium processes a runhook browser step started (its `runhook-chromium-` profile
    is on their command line), by the binary Debian's /usr/bin/chromium wrapper runs."""
    from runhook.engine.steps.browser import procs

    return {
        pid
        for pid in procs.processes_of("/usr/lib/chromium/chromium")
        if "runhook-chromium-" in procs._cmdline(pid)
    }


def wait_no_chromium(timeout: float = 15.0) -> set[int]:
    """Wait for every Chromium process to end; returns those still running at the timeout."""
    return poll(chromium_processes, lambda left: not left, timeout=timeout, interval=0.2)
