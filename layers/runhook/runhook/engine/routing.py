"""Which state machine drives a run: Express for short runs that never wait for a person.

Express workflows cost per request and per GB-second instead of per state transition
(about a sixth of Standard's price for a 5-step run, docs/performance.md), but they live
at most five minutes and cannot park a task token (`.waitForTaskToken` is Standard only).
So a run goes to Express exactly when

- none of its steps is a callback kind (an approval waits for a person: Standard), and
- its timeout, plus a margin for start-up, Lambda retries and the catch-all, fits in
  Express's five minutes (`EXPRESS_MAX_TIMEOUT_SECONDS`);

everything else stays on Standard. The rule is pure (step types and seconds in, an engine
out) so the API can apply it without importing the step kinds (docs/engine.md, "Express").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

EngineName = Literal["standard", "express"]
STANDARD: EngineName = "standard"
EXPRESS: EngineName = "express"

EXPRESS_LIMIT_SECONDS = 300  # an Express execution's longest life (AWS quota, not adjustable)
EXPRESS_MARGIN_SECONDS = 60  # start-up, state-machine retries of Lambda errors, MarkFailed
EXPRESS_MAX_TIMEOUT_SECONDS = EXPRESS_LIMIT_SECONDS - EXPRESS_MARGIN_SECONDS

# Step types whose kind has mode CALLBACK (they park a task token); a unit test keeps this
# equal to the registry (runhook.engine.steps.KINDS), which the API does not import.
PAUSING_TYPES = frozenset({"approval"})


def choose_engine(step_types: Iterable[str], timeout_seconds: int) -> EngineName:
    """Express when no step waits for a person and the run's timeout fits Express."""
    if timeout_seconds > EXPRESS_MAX_TIMEOUT_SECONDS:
        return STANDARD
    if any(step_type in PAUSING_TYPES for step_type in step_types):
        return STANDARD
    return EXPRESS
