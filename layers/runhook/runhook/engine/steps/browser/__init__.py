"""`browser`: actions in a real headless Chromium (Playwright); result ``{url, title,
extracted, screenshots}``.

The kind runs in its own function (`runner = "browser"`: BrowserStepFunction, a
container image with Chromium); the planner ends a batch at a browser step and the
state machine routes ``next.runner == "browser"`` there. Playwright is imported only
when a browser step runs (session.py), so the light step function, which imports every
kind, never loads it.

Screenshots go to the artifacts bucket under ``runs/<runId>/<name>.png``; the result
keeps their references, the API serves them through presigned URLs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from runhook.adapters.artifacts import ArtifactStore, S3Artifacts
from runhook.engine.steps.base import StepCall, StepKind
from runhook.engine.steps.browser.options import BrowserOptions
from runhook.tasks.definition import BrowserStep
from runhook.tasks.templating import render

RUNNER = "browser"


class BrowserKind(StepKind):
    kind = "browser"
    config = BrowserStep
    runner: ClassVar[str] = RUNNER
    default_timeout = 60.0

    def __init__(
        self,
        *,
        options: Callable[[StepCall], BrowserOptions] | None = None,
        store: ArtifactStore | None = None,
    ) -> None:
        self._options = options
        self._store = store

    def describe(self, call: StepCall) -> str | None:
        step: BrowserStep = call.step
        return f"browser step started ({len(step.actions)} actions)"

    def options(self, call: StepCall) -> BrowserOptions:
        if self._options is not None:
            return self._options(call)
        return BrowserOptions.from_environment(
            allow_private_targets=call.settings.allow_private_targets
        )

    def run(self, call: StepCall) -> Any:
        from runhook.engine.steps.browser.session import BrowserSession  # Playwright: lazily

        step: BrowserStep = call.step
        session = BrowserSession(
            list(step.actions),
            run_id=str(call.data.get("run", {}).get("id") or "local"),
            render=lambda source: render(source, call.data),
            log=call.log,
            timeout=call.timeout,
            options=self.options(call),
            store=self._store or S3Artifacts(call.settings.artifacts_bucket),
            should_stop=call.should_stop,
        )
        return session.run()


__all__ = ["RUNNER", "BrowserKind", "BrowserOptions"]
