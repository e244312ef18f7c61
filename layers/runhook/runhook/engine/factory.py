"""Building the engine from its dependencies (the engine's corner of a composition root).

`EngineDependencies` holds what lives for a container's lifetime — the settings and
the run store (it caches parsed task versions; it is also the outbox of run events) —
and makes what lives for one invocation: an `Engine` (it holds that invocation's time
budget and outcomes) or the `Reconciler`. The functions' `create_handler` builds one per cold
start (`runhook.bootstrap.Container.engine`); tests build one with fakes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runhook.engine import policy
from runhook.engine.ports import RunStore
from runhook.engine.reconcile import Reconciler
from runhook.settings import Settings

if TYPE_CHECKING:
    from runhook.engine.runner import Engine


@dataclass(frozen=True)
class EngineDependencies:
    settings: Settings
    store: RunStore

    def engine(
        self,
        *,
        runner: str | None = None,
        remaining_ms: Callable[[], int] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        limits: policy.Limits = policy.DEFAULT_LIMITS,
    ) -> Engine:
        """An engine for one invocation (`runner`: the step function's by default)."""
        # Imported here so the reconciler's cold start does not load the step kinds.
        from runhook.engine.runner import Engine
        from runhook.engine.steps import DEFAULT_RUNNER

        return Engine(
            store=self.store,
            settings=self.settings,
            runner=runner or DEFAULT_RUNNER,
            remaining_ms=remaining_ms,
            sleep=sleep,
            limits=limits,
        )

    def reconciler(self) -> Reconciler:
        return Reconciler(self.store)
