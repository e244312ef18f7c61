"""One way to wait for something that happens in another thread or process.

The local cloud runs functions, pollers and executions in their own threads: a test
that starts something there asks again until the answer is what it expects, with a
deadline. `eventually` is that loop, written once (`poll` when a timeout is not a
failure by itself).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

Message = str | Callable[[Any], str]


def _poll(
    probe: Callable[[], T], until: Callable[[T], object], timeout: float, interval: float
) -> tuple[T, bool]:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if until(value):
            return value, True
        if time.monotonic() >= deadline:
            return value, False
        time.sleep(interval)


def poll(
    probe: Callable[[], T],
    until: Callable[[T], object] = bool,
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
) -> T:
    """Call `probe` every `interval` seconds until `until(value)` holds or `timeout` passes;
    return the last value either way (the caller decides what a timeout means)."""
    value, _ = _poll(probe, until, timeout, interval)
    return value


def eventually(
    probe: Callable[[], T],
    until: Callable[[T], object] = bool,
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
    message: Message = "condition not met in time",
) -> T:
    """Return the first value of `probe()` for which `until(value)` holds (by default: the
    first truthy one); fail the test with `message` (a string, or a function of the last
    value) when `timeout` seconds pass first.

        eventually(lambda: receiver.received(), lambda got: len(got) >= 2)
        run = eventually(lambda: api.run(run_id), lambda r: r["status"] == "COMPLETED")
    """
    value, met = _poll(probe, until, timeout, interval)
    if not met:
        text = message(value) if callable(message) else message
        raise AssertionError(f"{text} (waited {timeout:g} s)")
    return value
