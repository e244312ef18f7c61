"""Helpers for the engine's unit tests: a StepCall builder (the scriptable HTTP server they
call is `tests.support.loopback.Target`, the `target` fixture)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runhook.engine.steps import StepCall, get_kind
from runhook.settings import Settings
from runhook.tasks.definition import parse_step

LOCAL = Settings(allow_private_targets=True)


@dataclass
class Logged:
    lines: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, level: Any, message: str) -> None:
        self.lines.append((str(level), message))

    def levels(self, level: str) -> list[str]:
        return [m for lvl, m in self.lines if lvl == level]


def make_call(
    raw_step: dict[str, Any],
    data: dict[str, Any] | None = None,
    *,
    timeout: float = 5.0,
    settings: Settings = LOCAL,
    attempt: int = 1,
    max_attempts: int = 1,
) -> tuple[StepCall, Logged]:
    logged = Logged()
    call = StepCall(
        step=parse_step(raw_step),
        index=0,
        total=1,
        data=data if data is not None else {"inputs": {}, "steps": {}, "run": {"id": "r"}},
        log=logged,
        timeout=timeout,
        attempt=attempt,
        max_attempts=max_attempts,
        settings=settings,
    )
    return call, logged


def run_step(raw_step: dict[str, Any], data: dict[str, Any] | None = None, **kw: Any) -> Any:
    call, _ = make_call(raw_step, data, **kw)
    return get_kind(raw_step["type"]).run(call)
