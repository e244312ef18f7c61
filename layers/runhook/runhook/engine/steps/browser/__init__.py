"""`browser`: actions in a real headless Chromium (Playwright); result ``{url, title,
extracted, screenshots}``.

The kind runs in its own function (`runner = "browser"`: BrowserStepFunction, a
container image with Chromium); the planner ends a batch at a browser step and the
state machine routes ``next.runner == "browser"`` there. Playwright is imported only
when a browser step runs (session.py), so the light step function, which imports every
kind, never loads it.

Screenshots go to the artifacts bucket under ``runs/<runId>/<name>.png``; the result
keeps their references, the API serves them through presigned URLs. A failure leaves
the page's screenshot, HTML and console log there too (`error.artifacts`).

Organization secrets (`{{ secrets.NAME }}` in goto urls and fill values) are masked in
the step's logs, result, failure message and text artifacts (steps/secrets.py). A named
`session` is the organization's saved storage state (adapters/browser_sessions.py):
loaded before the first action, saved when the step succeeds, expiring after
`BROWSER_SESSION_TTL_HOURS`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, ClassVar

from runhook import clock
from runhook.adapters.artifacts import ArtifactStore, S3Artifacts
from runhook.adapters.browser_sessions import S3BrowserSessions, SessionStore
from runhook.engine.redact import SecretMask
from runhook.engine.steps.base import StepCall, StepFailure, StepKind
from runhook.engine.steps.browser.options import BrowserOptions
from runhook.engine.steps.secrets import SecretSource, StepSecrets
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
        secrets: SecretSource | None = None,
        sessions: SessionStore | None = None,
    ) -> None:
        """Every seam defaults to the deployment's (settings): `store` the artifacts
        bucket, `secrets` the table and KMS, `sessions` the bucket's `sessions/`."""
        self._options = options
        self._store = store
        self._secrets = secrets
        self._sessions = sessions

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
        secrets = StepSecrets(call, self._secrets)
        with secrets.guarded():
            return secrets.mask.value(self._run(secrets, secrets.call))

    def _run(self, secrets: StepSecrets, call: StepCall) -> Any:
        # Playwright: imported only when a browser step runs.
        from runhook.engine.steps.browser.evidence import MaskedStore
        from runhook.engine.steps.browser.session import BrowserSession

        step: BrowserStep = call.step
        mask: SecretMask = secrets.mask
        org_id, state = self._load_session(secrets, call)
        store = self._store or S3Artifacts(call.settings.artifacts_bucket)
        session = BrowserSession(
            list(step.actions),
            run_id=str(call.data.get("run", {}).get("id") or "local"),
            render=lambda source: render(source, call.data),
            log=call.log,
            timeout=call.timeout,
            options=self.options(call),
            store=MaskedStore(store, mask),
            should_stop=call.should_stop,
            step_id=step.id,
            storage_state=state,
            keep_state=step.session is not None,
            record=tuple(step.record),
            may_trace=lambda: not mask,
        )
        result = session.run()
        if step.session is not None and org_id is not None and session.state is not None:
            expires = clock.now() + timedelta(hours=call.settings.browser_session_ttl_hours)
            self._session_store(call).save(org_id, step.session, session.state, clock.iso(expires))
            call.log("info", f"Saved session {step.session} (until {clock.iso(expires)})")
        return result

    def _session_store(self, call: StepCall) -> SessionStore:
        return self._sessions or S3BrowserSessions(
            call.settings.artifacts_bucket, call.settings.secrets_key_id
        )

    def _load_session(
        self, secrets: StepSecrets, call: StepCall
    ) -> tuple[str | None, dict[str, Any] | None]:
        """The run's organization and the named session's saved state (None: none yet)."""
        step: BrowserStep = call.step
        if step.session is None:
            return None, None
        org_id = secrets.source.organization(secrets.run_id)
        if org_id is None:
            raise StepFailure("browser_error", "the run's organization is unknown")
        state = self._session_store(call).load(org_id, step.session)
        if state is None:
            call.log("info", f"Session {step.session}: no saved state, starting afresh")
        else:
            call.log("info", f"Session {step.session}: loaded its saved state")
        return org_id, state


__all__ = ["RUNNER", "BrowserKind", "BrowserOptions"]
