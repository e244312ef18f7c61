"""`runhook smoke --url URL --key KEY`: after a deploy, prove the stack works end to end.

What it does, through the SDK (runhook_client) like any caller: checks the key is accepted,
creates a throwaway task (one `log` step), registers a temporary webhook endpoint for that
task only, runs the task and waits for COMPLETED, then waits for the run's
`task-run.completed` delivery. With --receiver-url (a receiver the stack can reach, e.g.
`runhook webhooks listen` behind a tunnel) the delivery must succeed (the receiver answered
2xx); without one the endpoint points at a name that never resolves (`.invalid`, RFC 6761)
and the delivery record proves the outbox → bus → dispatch path. Everything it created is
deleted again (the run itself stays, as runs do). Exit code: 0 when every check passed, 1
otherwise (the failed check is printed); docs/operations.md has the runbook.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from runhook_client import Runhook, WebhookDelivery

# Where deliveries go without a receiver: `.invalid` never resolves, so nothing is sent.
NO_RECEIVER_URL = "https://runhook-smoke.invalid/hook"
COMPLETED_EVENT = "task-run.completed"


class SmokeFailure(Exception):
    """A check did not hold; the message says which and what was seen."""


@dataclass
class SmokeTest:
    """The checks against one service, in order; `run` returns True when all passed.

    `say` prints one line per check (the CLI's click.echo); `sleep` waits between polls.
    """

    client: Runhook
    receiver_url: str | None = None
    timeout: float = 300.0
    say: Callable[[str], None] = print
    sleep: Callable[[float], None] = time.sleep
    label: str = field(default_factory=lambda: f"runhook-smoke-{uuid.uuid4().hex[:8]}")
    _cleanup: list[tuple[str, Callable[[], None]]] = field(default_factory=list)

    def run(self) -> bool:
        ok = True
        try:
            self._check("the API accepts the key", self._api_answers)
            task_id = self._check("a throwaway task is created", self._create_task)
            endpoint_id = self._check(
                "a temporary webhook endpoint", lambda: self._create_endpoint(task_id)
            )
            run_id = self._check("the run completes", lambda: self._run(task_id))
            self._check("its webhook delivery", lambda: self._delivery(endpoint_id, run_id))
        except SmokeFailure:
            ok = False
        return self._clean_up() and ok

    # -- the checks ---------------------------------------------------------------------
    def _api_answers(self) -> str:
        next(iter(self.client.tasks.list(page_size=1)), None)
        return self.client.settings.base_url

    def _create_task(self) -> str:
        task = self.client.tasks.create(
            {
                "name": self.label,
                "description": "Created and deleted by `runhook smoke`.",
                "steps": [{"id": "hello", "type": "log", "message": "smoke test"}],
            }
        )
        self._cleanup.append(("task deleted", lambda: self.client.tasks.delete(task.id)))
        return task.id

    def _create_endpoint(self, task_id: str) -> str:
        """Scoped to the smoke task: no other task's events reach it."""
        endpoint = self.client.webhooks.endpoints.create(
            self.receiver_url or NO_RECEIVER_URL,
            events=[COMPLETED_EVENT],
            task_id=task_id,
            description=self.label,
        )
        delete = lambda: self.client.webhooks.endpoints.delete(endpoint.id)  # noqa: E731
        self._cleanup.insert(0, ("endpoint deleted", delete))
        return endpoint.id

    def _run(self, task_id: str) -> str:
        run = self.client.runs.create(task_id, client_request_id=self.label)
        finished = self.client.runs.wait(run.id, timeout=self.timeout)
        if finished.status != "COMPLETED":
            raise SmokeFailure(f"run {run.id} ended {finished.status}: {finished.error}")
        return run.id

    def _delivery(self, endpoint_id: str, run_id: str) -> str:
        deadline = time.monotonic() + self.timeout
        seen: WebhookDelivery | None = None
        while time.monotonic() < deadline:
            seen = self._find_delivery(endpoint_id, run_id)
            if seen is not None and self.receiver_url is None:
                return f"{seen.id} recorded ({seen.status}; no receiver given)"
            if seen is not None and seen.status == "succeeded":
                return f"{seen.id} answered {seen.last_status_code}"
            if seen is not None and seen.status == "failed":
                raise SmokeFailure(f"delivery {seen.id} failed: {seen.last_error}")
            self.sleep(1.0)
        state = "no delivery" if seen is None else f"delivery {seen.id} still {seen.status}"
        raise SmokeFailure(f"{state} after {self.timeout:g}s (last error: {_error(seen)})")

    def _find_delivery(self, endpoint_id: str, run_id: str) -> WebhookDelivery | None:
        for delivery in self.client.webhooks.deliveries(endpoint_id):
            if delivery.run_id == run_id and delivery.event_type == COMPLETED_EVENT:
                return delivery
        return None

    # -- bookkeeping ----------------------------------------------------------------------
    def _check(self, name: str, action: Callable[[], Any]) -> Any:
        """Run one check; print `ok`/`FAILED` with what it found; SmokeFailure on failure."""
        try:
            result = action()
        except SmokeFailure as exc:
            self.say(f"FAILED {name}: {exc}")
            raise
        except Exception as exc:  # any error fails the check, in one line
            self.say(f"FAILED {name}: {type(exc).__name__}: {exc}")
            raise SmokeFailure(name) from exc
        self.say(f"ok     {name}: {result}")
        return result

    def _clean_up(self) -> bool:
        """Delete what was created (the endpoint first); False when something stayed."""
        ok = True
        for name, delete in self._cleanup:
            try:
                delete()
            except Exception as exc:  # reported; the other clean-ups still run
                self.say(f"FAILED clean-up, {name}: {type(exc).__name__}: {exc}")
                ok = False
            else:
                self.say(f"ok     clean-up: {name}")
        self._cleanup.clear()
        return ok


def _error(delivery: WebhookDelivery | None) -> str:
    return "-" if delivery is None or not delivery.last_error else delivery.last_error


@click.command("smoke")
@click.option("--url", envvar="RUNHOOK_API_URL", required=True, help="The stack's API URL.")
@click.option("--key", envvar="RUNHOOK_API_KEY", required=True, help="An admin API key.")
@click.option(
    "--receiver-url",
    default=None,
    help="A webhook receiver the stack can reach; the delivery must succeed there.",
)
@click.option("--timeout", type=float, default=300.0, show_default=True, help="Per wait (s).")
def command(url: str, key: str, receiver_url: str | None, timeout: float) -> None:
    """Smoke-test a deployed stack: a throwaway task runs to COMPLETED, its webhook is
    delivered, and everything is cleaned up. Exit code 0 when all checks pass, 1 otherwise."""
    from runhook_client import Runhook

    with Runhook(key, base_url=url) as client:
        passed = SmokeTest(client, receiver_url, timeout, say=click.echo).run()
    click.echo("smoke test passed" if passed else "smoke test FAILED", err=not passed)
    sys.exit(0 if passed else 1)
