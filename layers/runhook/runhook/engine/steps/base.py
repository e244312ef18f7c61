"""The one interface every step kind implements.

A kind says *how the state machine runs it* (`mode`) and *which function runs it*
(`runner`), and implements the hooks for its mode:

- ``inline`` kinds (http, transform, fail, log) run inside a step-runner Lambda
  invocation, together with their neighbours: `run` returns the step's result.
- ``wait`` kinds (wait) become a Wait state: `pause` says for how long; `resume`
  gives the result when the machine comes back.
- ``callback`` kinds (approval) become a ``.waitForTaskToken`` task: `pause` says for
  how long at most and what to ask (`Pause.prompt`, which the engine parks on the
  run); `resume` turns the answer into a result.

`runner` names the Lambda that executes inline kinds. Every kind today runs in the
generic step function ("step"); a heavy kind (a browser) sets its own runner, the
planner then ends a batch where the runner changes, and the state machine routes
`next.runner` to that function. Kinds never touch DynamoDB, events or Step
Functions: the engine does, so a kind is easy to test and to add.
"""

from __future__ import annotations

import time
from abc import ABC
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel

from runhook.models import LogLevel
from runhook.settings import Settings

DEFAULT_RUNNER = "step"


class Mode(StrEnum):
    INLINE = "inline"
    WAIT = "wait"
    CALLBACK = "callback"


class StepFailure(Exception):
    """A step failed. `code` becomes the run's `error.code`.

    `retryable` failures are retried when the step has a `retry` policy;
    `retry_after` (seconds) is a server's hint (Retry-After) honoured within it;
    `artifacts` names what the step saved to explain the failure (a browser step's
    screenshot, HTML and console log), linked from the run's `error.artifacts`.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.artifacts: list[str] | None = None


@dataclass
class StepCall:
    """Everything a kind may use while it executes one attempt of one step."""

    step: Any  # the kind's config model (runhook.tasks.definition), validated
    index: int
    total: int
    data: dict[str, Any]  # the template/JMESPath context: {inputs, steps, run}
    log: Callable[[LogLevel, str], None]  # writes a log entry with this step's nodeId
    timeout: float  # seconds this attempt may take (step timeout, run deadline, Lambda time)
    attempt: int = 1
    max_attempts: int = 1
    settings: Settings = field(default_factory=Settings.from_environment)
    clock: Callable[[], float] = time.monotonic
    # Long-running kinds poll this between actions: True once the run is no longer
    # RUNNING (cancelled, failed by the reconciler). Reads DynamoDB at most every few s.
    should_stop: Callable[[], bool] = lambda: False

    @property
    def node_id(self) -> str:
        return str(self.step.id)


@dataclass(frozen=True)
class Pause:
    """What the machine waits for: `seconds` (wait kinds) or at most `seconds` (callbacks).

    `prompt` is what a callback asks (stored in the run's `waiting`); `detail` goes into
    the machine's `next` (a wait's `seconds`, `until`) and comes back to `resume`.
    """

    seconds: int
    prompt: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class StepKind(ABC):
    """Base of every kind; subclasses set the class attributes and their mode's hooks."""

    kind: ClassVar[str]
    config: ClassVar[type[BaseModel]]
    mode: ClassVar[Mode] = Mode.INLINE
    runner: ClassVar[str] = DEFAULT_RUNNER
    default_timeout: ClassVar[float] = 30.0
    # Quick kinds finish in milliseconds: progress events of a run of quick steps are
    # sent together; before a slow step (http, browser) pending events go out first.
    quick: ClassVar[bool] = False

    def describe(self, call: StepCall) -> str | None:
        """The info line written when the step starts (None: the kind logs its own)."""
        return f"{self.kind} step started"

    def run(self, call: StepCall) -> Any:
        """Inline kinds: do the work, log a result summary, return the result (JSON)."""
        raise NotImplementedError(f"{self.kind} is not an inline kind")

    def pause(self, call: StepCall, remaining: float) -> Pause:
        """Wait/callback kinds: how long the machine pauses (`remaining`: the run's time left)."""
        raise NotImplementedError(f"{self.kind} does not pause")

    def resume(self, call: StepCall, paused: dict[str, Any], answer: Any) -> Any:
        """Wait/callback kinds: the result once the pause is over (or raise StepFailure)."""
        raise NotImplementedError(f"{self.kind} does not pause")


def short(value: Any, limit: int = 200) -> str:
    """A one-line, length-capped rendering of a value for log messages."""
    import json

    try:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
