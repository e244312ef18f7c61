"""The order `make test` hands tests to its pytest-xdist workers: the longest first.

`make test` runs `pytest -n 2 --dist loadgroup`. pytest-xdist makes one unit of work of each
test, or of each `xdist_group` as a whole, and gives the next unit, in collection order, to
whichever worker runs short of work. A unit of minutes collected late keeps one worker busy
long after the other has run out: the run's tail. Collected first, it runs beside everything
else (longest-processing-time-first scheduling), and the many short tests fill the gaps.

Only the order changes, never which tests run; in a run without workers (`-n 0`) the
collection order stays as it was.
"""

from __future__ import annotations

import os

import pytest

# Units of minutes, longest first: an xdist group ("@name") or a test id prefix. Figures:
# `--durations` of whole runs on the shared 2-core machine (2026-11-30, load 6-12), the
# group's tests added up; only the order matters, so rough figures do.
LONGEST_FIRST: tuple[str, ...] = (
    "tests/e2e/webhooks/test_webhooks_load.py::",  # 230-270 s: 3,000 deliveries
    "@browser",  # ~300 s: every browser test, one Chromium on one worker
    "@sam_build",  # 170 s: `sam build` of every function
    "@schemathesis",  # ~150 s: every operation of the OpenAPI document
)


def xdist_group(item: pytest.Item) -> str | None:
    """The item's xdist group name (None when it has none), as pytest-xdist reads the mark."""
    mark = item.get_closest_marker("xdist_group")
    if mark is None:
        return None
    return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))


def schedule_rank(item: pytest.Item) -> int:
    """0 for the first entry of LONGEST_FIRST, ...; then tests marked `slow`; then the rest."""
    group = xdist_group(item)
    for rank, entry in enumerate(LONGEST_FIRST):
        if entry == f"@{group}" or (not entry.startswith("@") and item.nodeid.startswith(entry)):
            return rank
    return len(LONGEST_FIRST) + (0 if item.get_closest_marker("slow") else 1)


def longest_first(items: list[pytest.Item]) -> None:
    """Reorder `items` in place for a distributed run (a stable sort: ties keep their order).

    Every worker collects and sorts the same way, so their collections stay identical (which
    pytest-xdist checks)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items[:] = sorted(items, key=schedule_rank)
