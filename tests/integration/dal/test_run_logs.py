"""A run's log entries packed several to an item (runhook.dal.run_logs) against DynamoDB
Local: the write units they save, and that paging by entry id still returns every entry
once, in order, across items of both layouts and page boundaries inside an item."""

from __future__ import annotations

from typing import Any

import pytest

from runhook import clock, keys
from runhook.dal import run_logs
from runhook.dal.runs import RunRepository
from runhook.dal.table import Table, serialize
from runhook.models import LogEntry, Run
from tests.support.runs import a_run

pytestmark = pytest.mark.localcloud


@pytest.fixture()
def repo(local_cloud: Any, aws: Any) -> RunRepository:
    return RunRepository(Table(local_cloud.table_name, boto3_client=aws.client("dynamodb")))


def lines(count: int, prefix: str, size: int = 10) -> list[LogEntry]:
    return [
        LogEntry(
            id=clock.sortable_id(),
            timestamp=clock.now_iso(),
            level="info",
            message=f"{prefix}{i}".ljust(size, "."),
            nodeId="step_a" if i % 2 else None,
        )
        for i in range(count)
    ]


def put_line_of_before(repo: RunRepository, run: Run, entry: LogEntry) -> None:
    """An item of the layout before packing: one entry, its fields on the item."""
    repo.table.put(
        {
            "pk": keys.run_pk(run.id),
            "sk": keys.log_sk(entry.id),
            "type": "log",
            **{k: v for k, v in entry.model_dump().items() if v is not None},
            "orgId": run.org_id,
            "taskId": run.task_id,
            "runSequence": run.sequence,
        }
    )


def read_all(repo: RunRepository, run_id: str, limit: int) -> list[LogEntry]:
    """Every entry, a page of `limit` at a time, following the cursor."""
    seen: list[LogEntry] = []
    after: str | None = None
    for _ in range(100):
        page, after = repo.list_logs(run_id, after=after, limit=limit)
        assert len(page) <= limit
        seen.extend(page)
        if after is None:
            return seen
        assert after == page[-1].id
    raise AssertionError("the cursor never ended")


def test_a_steps_lines_are_one_item_and_one_write_unit(repo: RunRepository, aws: Any) -> None:
    run = a_run()
    items = repo.log_items(run, lines(3, "line "), ttl_days=1)
    assert len(items) == 1
    assert items[0]["sk"] == keys.log_sk(max(e["id"] for e in items[0]["entries"]))
    consumed = aws.client("dynamodb").put_item(
        TableName=repo.table.name, Item=serialize(items[0]), ReturnConsumedCapacity="TOTAL"
    )["ConsumedCapacity"]["CapacityUnits"]
    assert consumed == 1.0  # three separate items cost 3


def test_paging_returns_every_entry_once_in_order_across_items_and_layouts(
    repo: RunRepository,
) -> None:
    run = a_run()
    expected: list[LogEntry] = []
    old = lines(2, "before ")
    for entry in old:
        put_line_of_before(repo, run, entry)
    expected += old
    for step in range(4):
        batch = lines(step + 1, f"step {step} line ")
        repo.append_logs(run, batch, ttl_days=1)
        expected += batch
    ids = [e.id for e in expected]
    assert ids == sorted(ids)  # time-ordered ids, one writer
    for limit in (1, 2, 3, 5, 50):
        assert [e.id for e in read_all(repo, run.id, limit)] == ids, limit
    entries, cursor = repo.list_logs(run.id, after=None, limit=100)
    assert entries == expected and cursor is None  # the stored fields, unchanged


def test_after_an_entry_inside_an_item_starts_right_after_it(repo: RunRepository) -> None:
    run = a_run()
    first, second = lines(4, "a "), lines(3, "b ")
    repo.append_logs(run, first, ttl_days=1)
    repo.append_logs(run, second, ttl_days=1)
    page, cursor = repo.list_logs(run.id, after=first[1].id, limit=3)
    assert [e.message for e in page] == [first[2].message, first[3].message, second[0].message]
    assert cursor == second[0].id
    rest, cursor = repo.list_logs(run.id, after=cursor, limit=10)
    assert [e.id for e in rest] == [e.id for e in second[1:]] and cursor is None
    assert repo.list_logs(run.id, after=second[-1].id, limit=10) == ([], None)


def test_a_page_that_ends_at_the_last_entry_has_no_cursor(repo: RunRepository) -> None:
    run = a_run()
    batch = lines(4, "x ")
    repo.append_logs(run, batch, ttl_days=1)
    assert repo.list_logs(run.id, after=None, limit=4) == (batch, None)
    page, cursor = repo.list_logs(run.id, after=None, limit=3)
    assert page == batch[:3] and cursor == batch[2].id


def test_large_lines_are_split_into_items_that_stay_small(repo: RunRepository) -> None:
    run = a_run()
    batch = lines(12, "big ", size=16_000)  # 12 x 16 KB: more than one item's budget
    items = repo.log_items(run, batch, ttl_days=1)
    assert len(items) == len(run_logs.batches(batch)) >= 3
    assert all(len(i["entries"]) >= 1 for i in items)
    assert [e["id"] for i in items for e in i["entries"]] == [e.id for e in batch]
    repo.append_logs(run, batch, ttl_days=1)
    assert [e.id for e in read_all(repo, run.id, 5)] == [e.id for e in batch]


def test_a_page_reads_no_more_items_than_it_needs(repo: RunRepository) -> None:
    """Each item holds at least one entry, so a page of `limit` reads at most `limit` + 1
    items (the last one only says whether a next page exists): big items are not read
    for a short page."""
    run = a_run()
    for step in range(6):
        repo.append_logs(run, lines(1, f"step {step} ", size=16_000), ttl_days=1)
    read: list[int] = []
    query = repo.table.query

    def counting(*args: Any, **kwargs: Any) -> Any:
        items, last = query(*args, **kwargs)
        read.append(len(items))
        return items, last

    repo.table.query = counting  # type: ignore[method-assign]
    page, cursor = repo.list_logs(run.id, after=None, limit=2)
    assert len(page) == 2 and cursor == page[-1].id
    assert sum(read) == 3
