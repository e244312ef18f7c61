"""What a run writes (issue 16): the write units of a 5-compute-step run, pinned.

The units are DynamoDB Local's own ConsumedCapacity (ReturnConsumedCapacity=INDEXES) for
every write of the create transaction (as `RunService` makes it: the run, its listing
entry and the usage counter) and of the engine driving the run to its end, through a
fresh Container whose DynamoDB client is metered. The run is the cost benchmark's
scenario A/AX (benchmarks/cost.py): five `transform` steps.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from runhook import clock
from runhook.models import Run, RunFilter, RunStatus

pytestmark = pytest.mark.localcloud

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


class WriteMeter:
    """Sums the write units DynamoDB reports for every write of one boto3 client, per
    operation, and keeps each call's detail (table and index units) for a failure message."""

    def __init__(self, client: Any) -> None:
        self.units: Counter[str] = Counter()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        client.meta.events.register("before-parameter-build.dynamodb", self._ask)
        client.meta.events.register("after-call.dynamodb", self._count)

    @staticmethod
    def _ask(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in WRITES:
            params["ReturnConsumedCapacity"] = "INDEXES"

    def _count(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name not in WRITES:
            return
        consumed = parsed.get("ConsumedCapacity") or []
        for entry in consumed if isinstance(consumed, list) else [consumed]:
            with self._lock:
                self.units[model.name] += float(entry.get("CapacityUnits") or 0.0)
                self.calls.append((model.name, entry))

    def take(self) -> dict[str, float]:
        with self._lock:
            out = {k: v for k, v in self.units.items() if v}
            self.units.clear()
            self.calls.clear()
        return out


@pytest.fixture()
def metered(local_cloud: Any) -> Iterator[tuple[Any, WriteMeter]]:
    """A fresh Container on the local cloud whose table writes are metered."""
    from runhook.bootstrap import Container

    container = Container.from_environment(local_cloud.environment)
    yield container, WriteMeter(container.table.client)


# A 5-compute-step run (benchmark scenario AX), per operation. The create transaction
# (writes in a transaction cost double): the run (2) and gsi3 (2), its listing entry (2)
# with gsi1 (2) and gsi2 (2), the usage counter (2) = 12. The engine: the claim (1 + gsi3,
# whose projection holds the status = 2) and the completion (1, leaving gsi3 = 2) = 4; one
# BatchWriteItem of the five quick steps' records, packed in one item (1), and one item of
# their ten log lines and the run's last line (2) = 3.
# Before the last line went with the last checkpoint: BatchWriteItem 4 (a write of its own).
# Before a checkpoint's records shared an item (runhook.dal.run_store): BatchWriteItem 8.
# Before quick steps shared a checkpoint (runhook.engine.recorder): UpdateItem 8 (four
# progress updates) and BatchWriteItem 11 (five writes of a step and its lines, 2 each).
# Before log lines shared an item (runhook.dal.run_logs): BatchWriteItem 16, a line each.
# Before issue 16's listing entries: 10 + 20 + 16 = 46 (every update of the run also wrote
# its copies in gsi1 and gsi2).
CREATE_WRU = {"TransactWriteItems": 12.0}
ENGINE_WRU = {"UpdateItem": 4.0, "BatchWriteItem": 3.0}
RUN_WRU = 19.0
STEPS = 5


def _task(container: Any, org_id: str) -> Any:
    """The benchmark's compute task (benchmarks.localcloud.compute_task), on Express."""
    from runhook.tasks.definition import validate_definition
    from runhook.tasks.task import Task

    definition, problems = validate_definition(
        {
            "name": f"write units: {STEPS} compute steps",
            "inputs": {
                "type": "object",
                "properties": {"word": {"type": "string", "default": "hi"}},
            },
            "steps": [
                {"id": f"step_{i}", "type": "transform", "values": {"word": "inputs.word"}}
                for i in range(STEPS)
            ],
            "outputs": {"word": f"steps.step_{STEPS - 1}.word"},
            "timeoutSeconds": 120,
        }
    )
    assert definition is not None, problems
    now = clock.now_iso()
    task = Task(
        id=clock.new_id(),
        org_id=org_id,
        version=1,
        created_at=now,
        updated_at=now,
        definition=definition,
    )
    assert container.tasks.put_version(task, expected_version=None)
    return task


def _create(container: Any, task: Any) -> Run:
    """A PENDING run, written as `RunService` writes it: the repository's create
    transaction with the usage counter (without starting an execution: the test drives
    the engine itself)."""
    now = clock.now()
    run = Run(
        id=clock.new_id(),
        org_id=task.org_id,
        task_id=task.id,
        task_version=task.version,
        status=RunStatus.PENDING,
        created_at=clock.iso(now),
        steps_total=STEPS,
        inputs={"word": "hi"},
        deadline=clock.iso(now + timedelta(seconds=120)),
        engine="express",
    )
    container.runs.create(run, extra=[container.quota.count_run(task.org_id, now)])
    return run


def _drive(container: Any, run_id: str) -> None:
    """Invoke the engine as the state machine does until the run ends."""
    from runhook.engine import policy

    state: dict[str, Any] = {"runId": run_id}
    for _ in range(STEPS + 2):
        engine = container.engine.engine(remaining_ms=lambda: 900_000, limits=policy.Limits())
        state = engine.handle({"action": "advance", "state": state})
        if state["next"]["kind"] == "end":
            return
    raise AssertionError("the run did not end")


def _indexes(calls: list[tuple[str, dict[str, Any]]], operation: str) -> set[str]:
    return {
        i for name, c in calls if name == operation for i in c.get("GlobalSecondaryIndexes", {})
    }


def test_a_five_step_run_costs_the_pinned_write_units(
    metered: tuple[Any, WriteMeter], organizations: Any
) -> None:
    container, meter = metered
    task = _task(container, organizations.create("run write units").id)
    meter.take()

    run = _create(container, task)
    assert meter.units == CREATE_WRU, meter.calls
    meter.take()

    _drive(container, run.id)
    updates = _indexes(meter.calls, "UpdateItem")
    assert updates == {"gsi3"}, meter.calls  # never gsi1 or gsi2
    units = meter.take()
    assert units == ENGINE_WRU, units
    assert sum(CREATE_WRU.values()) + sum(units.values()) <= RUN_WRU

    done = container.runs.get(run.id)
    assert done is not None and done.status is RunStatus.COMPLETED
    assert done.outputs == {"word": "hi"} and done.current_step == STEPS


def test_the_run_item_is_in_no_listing_index_and_its_entry_is(
    metered: tuple[Any, WriteMeter], organizations: Any
) -> None:
    from runhook import keys
    from runhook.dal.expressions import partition_query

    container, _ = metered
    org_id = organizations.create("run layout").id
    run = _create(container, _task(container, org_id))
    items = {
        i["sk"]: i
        for i in container.table.query_all(partition_query(keys.run_pk(run.id), consistent=True))
    }
    assert set(items) == {"RUN", "LISTING"}
    head, entry = items["RUN"], items["LISTING"]
    assert not {"gsi1pk", "gsi2pk"} & set(head) and head["gsi3pk"].startswith("RUNS#ACTIVE#")
    assert entry == {
        "pk": keys.run_pk(run.id),
        "sk": "LISTING",
        "type": "run_listing",
        "gsi1pk": keys.task_runs_gsi1(run.task_id),
        "gsi1sk": keys.created_sort(run.created_at, run.id),
        "gsi2pk": keys.org_runs_gsi2(org_id),
        "gsi2sk": keys.created_sort(run.created_at, run.id),
        "orgId": org_id,
        "taskId": run.task_id,
        "triggerType": "api",
    }
    listed, _ = container.runs.list_for_org(org_id, RunFilter(), page_size=10, page_token=None)
    assert [r.id for r in listed] == [run.id]
