"""What travels in the execution's state: references, never data (256 KB limit).

The machine's input is ``{"runId"}``; every Lambda action returns
``{"runId", "next": {...}}`` and the Choice state routes on ``next.kind``:

- ``compute``  — invoke the step runner again (a batch handed over: time budget, runner);
- ``wait``     — a Wait state for ``next.seconds`` (a wait step, or a long retry backoff);
- ``approval`` — a ``.waitForTaskToken`` task bounded by ``next.timeoutSeconds``;
- ``end``      — the run is over (or not ours to touch any more): Succeed.

Step results, logs and outputs live in DynamoDB; ``next.index`` points at a step.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NextKind = Literal["compute", "wait", "approval", "end"]


class Next(BaseModel):
    """Where the machine goes after a Lambda action."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    kind: NextKind
    index: int | None = Field(default=None, ge=0)
    seconds: int | None = Field(default=None, ge=0)  # wait: SecondsPath
    timeoutSeconds: int | None = Field(default=None, ge=1)  # approval: TimeoutSecondsPath
    attempt: int | None = Field(default=None, ge=1)  # the attempt a handed-over step resumes at
    retry: bool | None = None  # a wait that is a retry backoff, not a wait step
    runner: str | None = None  # compute: the function that runs the batch
    until: str | None = None  # wait: when it ends (for the log)

    def to_state(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


END = Next(kind="end")


class MachineState(BaseModel):
    """The execution state a Lambda action receives (``"state.$": "$"``)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    runId: str = Field(min_length=1, max_length=64)
    next: Next | None = None
    answer: Any = None  # the approval's SendTaskSuccess output
    error: dict[str, Any] | None = None  # {Error, Cause} from a Catch


class StepEvent(BaseModel):
    """The step function's event: an action and the execution state."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    action: Literal["advance", "await", "fail"]
    state: MachineState
    taskToken: str | None = Field(default=None, max_length=4096)


def output(run_id: str, nxt: Next) -> dict[str, Any]:
    return {"runId": run_id, "next": nxt.to_state()}
