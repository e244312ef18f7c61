"""Fixtures of the browser steps' end-to-end tests: an organization on the local cloud, a
real local web site, and Debian's Chromium (skipped, with the reason, when it is missing)."""

from __future__ import annotations

import importlib.util
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.engine.engine_e2e import Api

SITE = Path(__file__).resolve().parents[2] / "browser_site" / "server.py"
CHROMIUM = "/usr/lib/chromium/chromium"

pytestmark = pytest.mark.localcloud


def _site_module() -> Any:
    name = "runhook_tests_browser_site"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SITE)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def chromium_processes() -> set[int]:
    from runhook.engine.steps.browser import procs

    return procs.processes_of(CHROMIUM)


def wait_no_chromium(timeout: float = 15.0) -> set[int]:
    deadline = time.monotonic() + timeout
    left = chromium_processes()
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = chromium_processes()
    return left


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; `make install` does it)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    return CHROMIUM


@pytest.fixture(scope="module")
def site() -> Iterator[Any]:
    server = _site_module().SiteServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser_api(local_cloud: Any, chromium: str) -> Iterator[Api]:
    from runhook_dev.admin import bootstrap_organization

    org_id, key = bootstrap_organization(
        f"browser {uuid.uuid4().hex[:6]}",
        live=False,
        settings={"rateLimitPerSecond": 5000, "rateLimitBurst": 10000},
    )
    assert key
    with httpx.Client(
        base_url=f"{local_cloud.api_url}/public/v1",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    ) as client:
        yield Api(client, local_cloud, org_id)
    left = wait_no_chromium()
    assert not left, f"Chromium processes left after the browser tests: {sorted(left)}"
