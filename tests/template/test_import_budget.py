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
from typing import Any

import pytest

# benchmarks/ is not an installed package: import it from the checkout (as tests/unit/bench).
ROOT = str(Path(__file__).resolve().parents[2])
ROOT_PATH = Path(ROOT)
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
    # Its routes are built by the first request that needs them (runhook.api.app): 146
    # modules over the baseline before that, 57 since (test_the_api_routes_on_first_use),
    # 54 since its resources are imported by the routes that answer with them.
    "ApiFunction": Budget(62, frozenset({"fastapi", "starlette", "runhook.api"})),
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


# The API after its first request (benchmarks/coldstart.py: GET /task-runs/<id>, refused
# for its key): at most this many modules more than its baseline after the same request
# (72 today: the run routes, their resources and the authenticator).
API_FIRST_REQUEST_BUDGET = 80
# What a run request's first answer must not import: the other routes' resources (and the
# webhook models, which only theirs use) and the other route modules.
NOT_FOR_A_RUN_REQUEST = (
    "runhook.api.resources.tasks",
    "runhook.api.resources.admin",
    "runhook.api.resources.webhooks",
    "runhook.webhook_models",
    "runhook.api.routes.tasks",
    "runhook.api.routes.admin",
    "runhook.api.routes.webhooks",
    "runhook.api.routes.secrets",
)


@pytest.fixture(scope="module")
def children() -> dict[str, dict[str, Any]]:
    """Subject name → what its child reported (one import each, as benchmark 1)."""
    return {s.name: coldstart._once(s)[2] for s in coldstart.subjects()}


@pytest.fixture(scope="module")
def measured(children: dict[str, dict[str, Any]]) -> dict[str, tuple[set[str], set[str]]]:
    """Function name → (its modules after INIT, its baseline's modules)."""
    subjects = coldstart.subjects()
    names = {name: set(data["names"]) for name, data in children.items()}
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


def test_the_api_routes_on_first_use(
    children: dict[str, dict[str, Any]], measured: dict[str, tuple[set[str], set[str]]]
) -> None:
    """The API's INIT imports no route module and no service: the first request imports
    the ones its path needs (runhook.api.app.RouteLoader), and stays within its budget."""
    modules, _ = measured["ApiFunction"]
    eager = sorted(m for m in modules if m.startswith(("runhook.api.routes.", "runhook.services.")))
    assert not eager, f"ApiFunction imports {eager} at INIT"
    api, baseline = children["ApiFunction"], children[coldstart.API_BASELINE_NAME]
    assert (api["first_status"], baseline["first_status"]) == (401, 200)
    extra = api["first_modules"] - baseline["first_modules"]
    assert extra <= API_FIRST_REQUEST_BUDGET, (
        f"after its first request ApiFunction has {extra} modules more than its baseline "
        f"(budget {API_FIRST_REQUEST_BUDGET})"
    )
    assert "runhook.api.routes.runs" in api["first_names"]
    loaded = sorted(set(NOT_FOR_A_RUN_REQUEST) & set(api["first_names"]))
    assert not loaded, f"a first run request imports {loaded}"


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


def test_the_api_first_request_row_sums_each_run_and_keeps_the_import_row() -> None:
    """Benchmark 1's API rows: INIT alone, and INIT + first request summed run by run."""
    api = coldstart.Subject(
        "ApiFunction", [], {}, ROOT_PATH, coldstart.API_BASELINE_NAME, samples=[10.0, 30.0]
    )
    api.cpu, api.wall, api.first, api.first_cpu = [8.0, 20.0], [50.0, 60.0], [5.0, 1.0], [4.0, 2.0]
    base = coldstart.Subject(coldstart.API_BASELINE_NAME, [], {}, ROOT_PATH, samples=[10.0, 10.0])
    base.cpu, base.wall, base.first, base.first_cpu = (
        [8.0, 8.0],
        [40.0, 40.0],
        [5.0, 5.0],
        [4.0, 4.0],
    )
    rows = {row[0]: row for row in coldstart._table(2, [base, api]).rows}
    assert rows["ApiFunction"][-2:] == ["2.00x", "1.75x"]  # 20 / 10 ms, 14 / 8 ms CPU
    # medians of the sums: (15, 31) → 23 / 15 ms; (12, 22) → 17 / 12 ms CPU
    assert rows["ApiFunction + first request"][-2:] == ["1.53x", "1.42x"]
