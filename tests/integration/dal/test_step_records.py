"""Step records of one checkpoint packed into one item (runhook.dal.run_store) against
DynamoDB Local: the write units a burst of quick steps saves, and that every record reads
back whole, beside results too large to share an item, after a retried invocation grouped
the steps differently, and when a retry copies the first steps of a run."""

from __future__ import annotations

from typing import Any

import pytest

from runhook import clock, keys
from runhook.dal import run_store
from runhook.dal.expressions import prefix_query
from runhook.dal.run_store import DynamoRunStore
from runhook.dal.runs import RunRepository
from runhook.dal.table import Table, serialize
from runhook.dal.tasks import TaskRepository
from runhook.engine.ports import StepRecord
from runhook.models import LogEntry
from tests.support.runs import a_run

pytestmark = pytest.mark.localcloud


@pytest.fixture()
def store(local_cloud: Any, aws: Any) -> DynamoRunStore:
    table = Table(local_cloud.table_name, boto3_client=aws.client("dynamodb"))
    return DynamoRunStore(RunRepository(table), TaskRepository(table), log_retention_days=1)


def record(index: int, result: Any = None, *, finished: str | None = None) -> StepRecord:
    now = clock.now_iso()
    return StepRecord(
        index=index,
        step_id=f"step_{index}",
        kind="transform",
        status="succeeded",
        result={"word": "hi", "index": index} if result is None else result,
        attempts=1,
        started_at=now,
        finished_at=finished or now,
        duration_ms=1,
    )


def stored_items(store: DynamoRunStore, run_id: str) -> list[dict[str, Any]]:
    return store.table.query_all(
        prefix_query(keys.run_pk(run_id), keys.STEP_PREFIX, consistent=True)
    )


def test_a_checkpoint_of_five_quick_steps_is_one_item_and_one_write_unit(
    store: DynamoRunStore, aws: Any
) -> None:
    run = a_run()
    records = [record(i) for i in range(5)]
    parts, items = run_store.record_items(run.id, records, expires_at=clock.epoch() + 60)
    assert parts == [] and len(items) == 1 and items[0]["type"] == "steps"
    consumed = aws.client("dynamodb").put_item(
        TableName=store.table.name, Item=serialize(items[0]), ReturnConsumedCapacity="TOTAL"
    )["ConsumedCapacity"]["CapacityUnits"]
    assert consumed == 1.0  # five step items cost 5
    assert store.load_step_records(run.id) == {r.index: r for r in records}


def test_large_results_keep_their_own_items_beside_the_pack(store: DynamoRunStore) -> None:
    run = a_run()
    mid = {"text": "m" * (run_store.PACK_RESULT_LIMIT + 10)}
    huge = {"text": "h" * (run_store.INLINE_LIMIT + 10)}
    records = [record(0), record(1, mid), record(2), record(3, huge), record(4)]
    store.record_steps(run, records, [])
    types = {str(i["sk"]): i["type"] for i in stored_items(store, run.id)}
    assert types == {
        keys.step_sk(0): "steps",  # steps 0, 2 and 4
        keys.step_sk(1): "step",
        keys.step_sk(3): "step",
        f"{keys.step_sk(3)}#P001": "step_part",
    }
    assert store.load_step_records(run.id) == {r.index: r for r in records}


def test_packs_turned_off_write_the_layout_earlier_releases_read(store: DynamoRunStore) -> None:
    """StepRecordPacks=off: one `type = step` item per record (for a deploy next to a
    release that reads nothing else); reading is the same."""
    run = a_run()
    records = [record(i) for i in range(3)]
    store.pack_records = False  # the fixture's store is this test's own
    store.record_steps(run, records, [])
    items = stored_items(store, run.id)
    assert [(i["sk"], i["type"]) for i in items] == [(keys.step_sk(i), "step") for i in range(3)]
    assert store.load_step_records(run.id) == {r.index: r for r in records}


def read_as_the_release_before_packing(item: dict[str, Any]) -> LogEntry:
    """How releases before packed log lines read a `LOG#` item (their
    `runs.log_entry_from_item`, b44c0ba^): the entry's fields on the item."""
    return LogEntry(
        id=item["id"],
        timestamp=item.get("timestamp"),
        level=item["level"],
        message=item.get("message", ""),
        nodeId=item.get("nodeId"),
    )


@pytest.mark.parametrize("pack", [True, False])
def test_log_lines_follow_the_same_switch(store: DynamoRunStore, pack: bool) -> None:
    """StepRecordPacks=off also writes one `type = log` item per line, which a release
    before packed log lines reads; on, a checkpoint's lines share one item, which such a
    release cannot read (a KeyError: its GET logs answered 500)."""
    run = a_run()
    lines = [
        LogEntry(id=clock.sortable_id(), timestamp=clock.now_iso(), level="info", message=m)
        for m in ("one", "two", "three")
    ]
    store.pack_records = pack  # the fixture's store is this test's own
    store.record_steps(run, [record(0), record(1)], lines[:2])
    store.write_logs(run, lines[2:])
    items = store.table.query_all(
        prefix_query(keys.run_pk(run.id), keys.LOG_PREFIX, consistent=True)
    )
    page, _ = store.runs.list_logs(run.id, after=None, limit=10)
    assert page == lines, "every release from now on reads both layouts"
    if pack:
        assert [i["type"] for i in items] == ["logs", "logs"]
        with pytest.raises(KeyError):
            read_as_the_release_before_packing(items[0])
    else:
        assert [i["type"] for i in items] == ["log", "log", "log"]
        assert [read_as_the_release_before_packing(i) for i in items] == lines


def test_one_record_keeps_the_single_step_layout(store: DynamoRunStore) -> None:
    run = a_run()
    store.record_steps(run, [record(0)], [])
    [item] = stored_items(store, run.id)
    assert item["type"] == "step" and item["sk"] == keys.step_sk(0)


FIRST, SECOND = "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:01.000Z"


def test_a_step_recorded_again_in_another_grouping_reads_as_its_latest_record(
    store: DynamoRunStore,
) -> None:
    """A retried invocation runs steps 1-3 again and checkpoints them as 1, then 2-3: the
    first invocation's pack (0-3) is partly overwritten and partly stale."""
    run = a_run()
    store.record_steps(run, [record(i, {"try": 1}, finished=FIRST) for i in range(4)], [])
    store.record_steps(run, [record(1, {"try": 2}, finished=SECOND)], [])
    again = [record(i, {"try": 2}, finished=SECOND) for i in (2, 3)]
    store.record_steps(run, again, [])
    loaded = store.load_step_records(run.id)
    assert [loaded[i].result for i in range(4)] == [{"try": 1}] + [{"try": 2}] * 3


def test_a_stale_record_that_sorts_later_does_not_win(store: DynamoRunStore) -> None:
    """The first invocation checkpointed steps 0-1 and 2-3; its retry packs 0-3 under
    step 0's key, so the first invocation's item for 2-3 stays and sorts after it."""
    run = a_run()
    store.record_steps(run, [record(i, {"try": 1}, finished=FIRST) for i in (0, 1)], [])
    store.record_steps(run, [record(i, {"try": 1}, finished=FIRST) for i in (2, 3)], [])
    store.record_steps(run, [record(i, {"try": 2}, finished=SECOND) for i in range(4)], [])
    loaded = store.load_step_records(run.id)
    assert [loaded[i].result for i in range(4)] == [{"try": 2}] * 4


def test_a_retry_copies_only_the_records_before_the_step_it_starts_at(
    store: DynamoRunStore,
) -> None:
    source = a_run()
    records = [record(i) for i in range(5)]
    store.record_steps(source, records, [])
    target = a_run()
    store.carry_over(source.id, target, 3)
    assert store.load_step_records(target.id) == {r.index: r for r in records[:3]}
    assert store.reusable_steps(source.id) == 5
