"""Cold-start budgets: what each function imports at INIT, measured against its baseline.

Issue 16 moved what a function needs only sometimes out of its import (httpx and Jinja2
for the step functions, the task and step models for the reconciler and the sweeper).
This test keeps it so. Each handler is imported exactly as benchmark 1 imports it
(benchmarks/coldstart.py: a fresh interpreter, the function's template Environment, the
packages the Lambda layer lacks hidden), next to the same baselines in the same process:
`import boto3` + a Powertools Logger for workers, `import fastapi, mangum, boto3` for the
API. Two rules per function, both counted in modules, not milliseconds (deterministic on
a loaded machine, where import times move by 3x):

- it imports at most `budget` modules more than its baseline (today's count plus a little
  room: a new eager dependency shows up as dozens of modules);
- it imports none of the heavy packages a cold start should not pay for unless the
  function needs them on every invocation (`HEAVY`, minus the function's `allowed`).

When a budget fails: import the new dependency where it is used (a function-level import,
`TYPE_CHECKING` for annotations), or raise the budget here with the reason.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# benchmarks/ is not an installed package: import it from the checkout (as tests/unit/bench).
ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import coldstart  # noqa: E402

# One measurement (`measured`: a fresh interpreter per function, ~25 s) for the whole module,
# on one worker: split over two, each measured everything.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("import_budget")]


@dataclass(frozen=True)
class Budget:
    extra_modules: int  # at most this many modules more than the function's baseline
    allowed: frozenset[str] = frozenset()  # HEAVY packages the function needs at INIT


# Packages (or runhook modules) that cost a cold start tens of milliseconds each and that
# most functions need only on some invocations, if ever.
HEAVY = frozenset(
    {
        "httpx",  # http steps, webhook sends
        "jinja2",  # templates, rendered on first use (runhook.tasks.templating)
        "jsonschema",  # task input schemas: the API validates them, nothing else does
        "cronsim",  # schedule expressions: the API checks them when a task is saved
        "playwright",  # browser steps: loaded when one runs
        "fastapi",  # the API only
        "starlette",
        "runhook.tasks.definition",  # every step kind's config model: engine and API only
        "runhook.api",
    }
)

BUDGETS: dict[str, Budget] = {
    "ApiFunction": Budget(
        150, frozenset({"fastapi", "starlette", "runhook.api", "runhook.tasks.definition"})
    ),
    "StepFunction": Budget(115, frozenset({"runhook.tasks.definition"})),
    "BrowserStepFunction": Budget(115, frozenset({"runhook.tasks.definition"})),
    "ReconcilerFunction": Budget(88),
    "SweeperFunction": Budget(95),
    "PublisherFunction": Budget(85),
    "WebhookDispatchFunction": Budget(68),
    # Every invocation POSTs (httpx): loading it at INIT costs the first request nothing more.
    "WebhookSendFunction": Budget(108, frozenset({"httpx"})),
    "ScheduledRunFunction": Budget(68),
}


@pytest.fixture(scope="module")
def measured() -> dict[str, tuple[set[str], set[str]]]:
    """Function name → (its modules after INIT, its baseline's modules), one import each."""
    subjects = coldstart.subjects()
    names: dict[str, set[str]] = {}
    for subject in subjects:
        _, _, data = coldstart._once(subject)
        names[subject.name] = set(data["names"])
    return {s.name: (names[s.name], names[s.baseline]) for s in subjects if s.baseline is not None}


def heavy_imports(modules: set[str]) -> set[str]:
    """The HEAVY entries present in `modules` (a package counts when any module of it is)."""
    return {h for h in HEAVY if any(m == h or m.startswith(h + ".") for m in modules)}


def test_every_function_has_a_budget(measured: dict[str, tuple[set[str], set[str]]]) -> None:
    assert set(measured) == set(BUDGETS), "a new function needs its line in BUDGETS"


@pytest.mark.parametrize("function", sorted(BUDGETS))
def test_cold_start_stays_within_its_budget(
    function: str, measured: dict[str, tuple[set[str], set[str]]]
) -> None:
    modules, baseline = measured[function]
    budget = BUDGETS[function]
    extra = modules - baseline
    unexpected = heavy_imports(modules) - budget.allowed
    assert not unexpected, f"{function} imports {sorted(unexpected)} at INIT (import it where used)"
    assert len(extra) <= budget.extra_modules, (
        f"{function} imports {len(extra)} modules more than its baseline "
        f"(budget {budget.extra_modules}); new: "
        + ", ".join(sorted({m.split(".")[0] for m in extra}))
    )


def test_the_benchmark_hides_only_what_the_layer_lacks() -> None:
    """The hidden packages (benchmarks/coldstart.py) must really be absent on Lambda."""
    text = (coldstart.ROOT / "layers" / "runhook" / "requirements.txt").read_text().lower()
    pinned = {line.split("==")[0].strip().replace("-", "_") for line in text.splitlines()}
    assert not pinned & set(coldstart.ABSENT_ON_LAMBDA)


def test_heavy_imports_are_found_by_package() -> None:
    assert heavy_imports({"httpx._client", "json", "runhook.tasks.definition"}) == {
        "httpx",
        "runhook.tasks.definition",
    }
    assert heavy_imports({"httpx_sse", "runhook.tasks"}) == set()
