"""Fixtures for the browser-step unit tests: a session runner (the local site `site` and
Debian's Chromium `chromium` come from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


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
    """Run a browser step's actions in a real session; returns logs, result or failure.

    `on_log(level, message)` is called in the session's thread as each line is logged,
    before the session goes on: a test can act at a precise step (open a site gate)."""
    from runhook.engine.steps.base import StepFailure
    from runhook.engine.steps.browser.options import BrowserOptions
    from runhook.engine.steps.browser.session import BrowserSession
    from runhook.tasks.definition import parse_step

    def run(
        actions: list[dict[str, Any]],
        *,
        timeout: float = 60.0,  # a loaded machine took up to 25 s to launch Chromium
        data: dict[str, Any] | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_log: Callable[[str, str], None] | None = None,
        **option_overrides: Any,
    ) -> Outcome:
        from runhook.tasks.templating import render

        step = parse_step({"id": "browse", "type": "browser", "actions": actions})
        option_overrides.setdefault("executable_path", chromium)
        # Each session starts and ends its own driver here (the strict life cycle these
        # tests check); keeping it for the next session is tested in test_driver_kept.py.
        option_overrides.setdefault("keep_driver", False)
        options = BrowserOptions(
            allow_private_targets=option_overrides.pop("allow_private_targets", True),
            cancel_poll_interval=0.2,
            **option_overrides,
        )
        outcome = Outcome()

        def log(level: str, message: str) -> None:
            outcome.logs.append((level, message))
            if on_log is not None:  # the test reacts to a step of the session
                on_log(level, message)

        context = data or {"inputs": {}, "steps": {}, "run": {"id": "run-1"}}
        session = BrowserSession(
            list(step.actions),  # type: ignore[attr-defined]
            run_id="run-1",
            render=lambda source: render(source, context),
            log=log,
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
