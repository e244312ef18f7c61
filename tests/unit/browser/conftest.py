"""Fixtures for the browser-step unit tests: a local site, Debian's Chromium, a session runner."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

SITE = Path(__file__).resolve().parents[2] / "browser_site" / "server.py"
CHROMIUM = "/usr/lib/chromium/chromium"


def _load_site() -> Any:
    name = "runhook_tests_browser_site"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SITE)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def site() -> Iterator[Any]:
    server = _load_site().SiteServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; `make install` does it)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    return CHROMIUM


class MemoryStore:
    """Artifacts kept in memory (the S3 store is tested on the local cloud)."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, run_id: str, name: str, data: bytes, content_type: str) -> dict[str, Any]:
        key = f"runs/{run_id}/{name}"
        self.objects[key] = data
        return {"name": name, "key": key, "contentType": content_type, "size": len(data)}


class Outcome:
    def __init__(self) -> None:
        self.logs: list[tuple[str, str]] = []
        self.result: Any = None
        self.error: Any = None
        self.store = MemoryStore()
        self.session: Any = None

    def messages(self, level: str | None = None) -> list[str]:
        return [m for lv, m in self.logs if level is None or lv == level]


@pytest.fixture
def run_browser(chromium: str) -> Callable[..., Outcome]:
    """Run a browser step's actions in a real session; returns logs, result or failure."""
    from runhook.engine.steps.base import StepFailure
    from runhook.engine.steps.browser.options import BrowserOptions
    from runhook.engine.steps.browser.session import BrowserSession
    from runhook.tasks.definition import parse_step

    def run(
        actions: list[dict[str, Any]],
        *,
        timeout: float = 30.0,
        data: dict[str, Any] | None = None,
        should_stop: Callable[[], bool] | None = None,
        **option_overrides: Any,
    ) -> Outcome:
        from runhook.tasks.templating import render

        step = parse_step({"id": "browse", "type": "browser", "actions": actions})
        option_overrides.setdefault("executable_path", chromium)
        options = BrowserOptions(
            allow_private_targets=option_overrides.pop("allow_private_targets", True),
            cancel_poll_interval=0.2,
            **option_overrides,
        )
        outcome = Outcome()
        context = data or {"inputs": {}, "steps": {}, "run": {"id": "run-1"}}
        session = BrowserSession(
            list(step.actions),  # type: ignore[attr-defined]
            run_id="run-1",
            render=lambda source: render(source, context),
            log=lambda level, message: outcome.logs.append((level, message)),
            timeout=timeout,
            options=options,
            store=outcome.store,
            should_stop=should_stop,
        )
        outcome.session = session
        try:
            outcome.result = session.run()
        except StepFailure as failure:
            outcome.error = failure
        return outcome

    return run
