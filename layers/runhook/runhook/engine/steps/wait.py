"""`wait`: pause the run for `seconds` or `until` a (templated) time — a Wait state.

No compute runs while a run waits: the engine hands the machine the number of
seconds and a Wait state (SecondsPath) sleeps. The wait is cut short at the run's
deadline; the engine then fails the run with `timeout` when it wakes.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from runhook import clock
from runhook.engine.steps.base import Mode, Pause, StepCall, StepFailure, StepKind
from runhook.tasks.definition import WaitStep
from runhook.tasks.templating import render


class WaitKind(StepKind):
    kind = "wait"
    config = WaitStep
    mode = Mode.WAIT

    def describe(self, call: StepCall) -> str | None:
        return None  # `pause` logs what it waits for

    def _requested(self, call: StepCall) -> float:
        step: WaitStep = call.step
        if step.seconds is not None:
            return float(step.seconds)
        source = render(step.until or "", call.data).strip()
        try:
            until = clock.parse_iso(source)
        except ValueError as exc:
            raise StepFailure(
                "invalid_wait", f"`until` is not an ISO 8601 time: {source!r}"
            ) from exc
        return max(0.0, (until - clock.now()).total_seconds())

    def pause(self, call: StepCall, remaining: float) -> Pause:
        requested = self._requested(call)
        seconds = max(0, math.ceil(min(requested, max(remaining, 0.0))))
        until = clock.iso(clock.now() + timedelta(seconds=seconds))
        if seconds < requested:
            call.log(
                "warning",
                f"waiting {seconds} s instead of {math.ceil(requested)} s: "
                "the run reaches its timeout first",
            )
        else:
            call.log("info", f"waiting {seconds} s (until {until})")
        return Pause(seconds=seconds, detail={"seconds": seconds, "until": until})

    def resume(self, call: StepCall, paused: dict[str, Any], answer: Any) -> Any:
        seconds = int(paused.get("seconds", 0))
        call.log("info", f"waited {seconds} s")
        return {"waitedSeconds": seconds, "until": paused.get("until")}
