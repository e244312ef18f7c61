"""Run listings after issue 16: write-once listing entries resolved to runs, listed
together with run items of the earlier layout (which carry gsi1/gsi2 keys themselves).

Runs are written straight to the table (the repository for the new layout, the earlier
item shape by hand), with chosen creation times, statuses and triggers, so every
listing's exact order and content can be asserted; they are read back through the real
API (`GET /task-runs`, `GET /tasks/{id}/runs`) and the repository's bulk-cancel walk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from runhook import clock, keys
from runhook.dal.runs import run_item
from runhook.models import Run, RunStatus
from runhook.tasks.definition import validate_definition
from runhook.tasks.task import Task
from tests.support.orgs import Organizations

pytestmark = pytest.mark.localcloud


@dataclass
class Listed:
    """An organization with two tasks and runs of both layouts, newest last in `runs`."""

    org_id: str
    client: httpx.Client
    tasks: list[str]
    runs: list[Run]
    old: set[str]  # ids written in the earlier layout

    def ids(self, *, newest_first: bool = True, **match: Any) -> list[str]:
        chosen = [r for r in self.runs if all(getattr(r, k) == v for k, v in match.items())]
        ordered = list(reversed(chosen)) if newest_first else chosen
        return [r.id for r in ordered]


def _task(container: Any, org_id: str) -> str:
    definition, problems = validate_definition(
        {"name": "listed", "steps": [{"id": "a", "type": "log", "message": "hi"}]}
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
    return task.id


def _old_layout(container: Any, run: Run) -> None:
    """Write `run` as runhook wrote runs before issue 16: its item in gsi1 and gsi2."""
    created = keys.created_sort(run.created_at, run.id)
    item = {
        **run_item(run),
        "gsi1pk": keys.task_runs_gsi1(run.task_id),
        "gsi1sk": created,
        "gsi2pk": keys.org_runs_gsi2(run.org_id),
        "gsi2sk": created,
    }
    container.table.put(item)


# (task index, status, trigger, earlier layout?) of each run, oldest first.
PLAN = [
    (0, RunStatus.COMPLETED, "api", True),
    (1, RunStatus.FAILED, "schedule", False),
    (0, RunStatus.COMPLETED, "manual", False),
    (0, RunStatus.FAILED, "api", True),
    (1, RunStatus.COMPLETED, "api", True),
    (0, RunStatus.CANCELLED, "api", False),
    (1, RunStatus.COMPLETED, "schedule", False),
    (0, RunStatus.RUNNING, "api", True),
    (0, RunStatus.PENDING, "api", False),
]


@pytest.fixture()
def listed(organizations: Organizations, container: Any) -> Iterator[Listed]:
    org = organizations.create("listing layouts")
    tasks = [_task(container, org.id), _task(container, org.id)]
    base = clock.now() - timedelta(seconds=len(PLAN))
    runs, old = [], set()
    for n, (task, status, trigger, earlier) in enumerate(PLAN):
        created = base + timedelta(seconds=n)
        run = Run(
            id=clock.new_id(),
            org_id=org.id,
            task_id=tasks[task],
            task_version=1,
            status=status,
            trigger_type=trigger,  # type: ignore[arg-type]  # one of the plan's literals
            created_at=clock.iso(created),
            steps_total=1,
            deadline=clock.iso(created + timedelta(minutes=10)),
        )
        if earlier:
            _old_layout(container, run)
            old.add(run.id)
        else:
            container.runs.create(run)
        runs.append(run)
    with organizations.client(org) as client:
        yield Listed(org.id, client, tasks, runs, old)


def _walk(client: httpx.Client, page_size: int, **params: Any) -> list[str]:
    """Every run id of the listing, page by page."""
    ids: list[str] = []
    token = None
    for _ in range(50):
        query = {**params, "pageSize": page_size, **({"pageToken": token} if token else {})}
        resp = client.get("/task-runs", params=query)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        ids.extend(r["id"] for r in body["runs"])
        token = body["nextPageToken"]
        if token is None:
            return ids
    raise AssertionError("the listing never ended")


def test_both_layouts_list_together_newest_first_with_their_full_resources(
    listed: Listed, container: Any
) -> None:
    resp = listed.client.get("/task-runs")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [r["id"] for r in body["runs"]] == listed.ids()
    assert body["nextPageToken"] is None
    for shown in body["runs"]:  # the exact resource GET /task-runs/{id} returns
        single = listed.client.get(f"/task-runs/{shown['id']}")
        assert single.status_code == 200 and single.json()["run"] == shown
    # The new layout: the run item is in no listing index; its entry is.
    new_id = next(r.id for r in listed.runs if r.id not in listed.old)
    item = container.runs.get_item(new_id)
    assert "gsi1pk" not in item and "gsi2pk" not in item
    entry = container.table.get({"pk": keys.run_pk(new_id), "sk": "LISTING"})
    assert entry["gsi2pk"] == keys.org_runs_gsi2(listed.org_id) and entry["type"] == "run_listing"
    assert "status" not in entry  # a changing field is never copied onto the entry


@pytest.mark.parametrize("page_size", [1, 2, 4])
def test_page_tokens_walk_both_layouts_in_order(listed: Listed, page_size: int) -> None:
    assert _walk(listed.client, page_size) == listed.ids()


@pytest.mark.parametrize("status", ["COMPLETED", "FAILED", "RUNNING", "PENDING", "CANCELLED"])
def test_the_status_filter_is_exact_across_layouts_and_pages(listed: Listed, status: str) -> None:
    expected = listed.ids(status=RunStatus(status))
    assert _walk(listed.client, 50, status=status) == expected
    assert _walk(listed.client, 1, status=status) == expected


def test_a_status_change_after_creation_is_what_the_filter_sees(
    listed: Listed, container: Any
) -> None:
    """The entry never changes: the filter reads the run's current status."""
    pending = listed.ids(status=RunStatus.PENDING)[0]
    assert container.runs.transition(
        pending,
        event="task-run.cancelled",
        allowed_from={RunStatus.PENDING},
        changes={"status": RunStatus.CANCELLED},
    )
    assert pending not in _walk(listed.client, 2, status="PENDING")
    cancelled = _walk(listed.client, 2, status="CANCELLED")
    assert pending in cancelled and cancelled == sorted(cancelled, key=listed.ids().index)


def test_task_trigger_and_created_filters(listed: Listed) -> None:
    task = listed.tasks[1]
    assert _walk(listed.client, 2, taskId=task) == listed.ids(task_id=task)
    assert _walk(listed.client, 1, taskId=listed.tasks[0], status="COMPLETED") == listed.ids(
        task_id=listed.tasks[0], status=RunStatus.COMPLETED
    )
    assert _walk(listed.client, 2, triggerType="schedule") == listed.ids(trigger_type="schedule")
    after, before = listed.runs[2].created_at, listed.runs[6].created_at  # [after, before)
    window = [r.id for r in reversed(listed.runs[2:6])]
    assert _walk(listed.client, 3, createdAfter=after, createdBefore=before) == window


def test_the_task_listing_resolves_both_layouts(listed: Listed) -> None:
    task = listed.tasks[0]
    resp = listed.client.get(f"/tasks/{task}/runs")
    assert resp.status_code == 200, resp.text
    shown = resp.json()["runs"]
    assert [r["id"] for r in shown] == listed.ids(task_id=task)
    assert {r["status"] for r in shown} == {
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "RUNNING",
        "PENDING",
    }


def test_a_token_stays_in_its_organization(listed: Listed, organizations: Organizations) -> None:
    resp = listed.client.get("/task-runs", params={"pageSize": 1})
    token = resp.json()["nextPageToken"]
    assert token
    other = organizations.create("listing layouts, other")
    with organizations.client(other) as client:
        refused = client.get("/task-runs", params={"pageSize": 1, "pageToken": token})
        assert refused.status_code == 400 and refused.json()["detail"] == "invalid_page_token"
        # Another organization's task: nothing of this one, whichever layout.
        foreign = client.get("/task-runs", params={"taskId": listed.tasks[0]})
        assert foreign.status_code == 200 and foreign.json()["runs"] == []


def test_the_bulk_cancel_walk_finds_active_runs_of_both_layouts(
    listed: Listed, container: Any
) -> None:
    active = listed.ids(status=RunStatus.RUNNING) + listed.ids(status=RunStatus.PENDING)
    expected = [i for i in listed.ids() if i in active]
    assert any(i in listed.old for i in expected) and any(i not in listed.old for i in expected)
    found: list[str] = []
    token = None
    for _ in range(20):
        page, token = container.runs.active_page(
            listed.org_id,
            task_id=None,
            status=None,
            created_before=clock.now_iso(),
            page_size=1,
            token=token,
        )
        found.extend(r.id for r in page)
        if token is None:
            break
    assert found == expected
    running, _ = container.runs.active_page(
        listed.org_id,
        task_id=listed.tasks[0],
        status=RunStatus.RUNNING,
        created_before=clock.now_iso(),
        page_size=10,
        token=None,
    )
    assert [r.id for r in running] == listed.ids(status=RunStatus.RUNNING)


def test_an_entry_without_its_run_is_skipped_and_a_run_of_both_layouts_listed_once(
    listed: Listed, container: Any
) -> None:
    """An entry whose run is missing (written by hand here) is left out and the page is
    still filled. runhook never writes an entry for a run of the earlier layout, but if
    both were in the index, one page would list the run once."""
    from runhook.dal.runs_listing import listing_item

    ghost = listed.runs[4].model_copy(update={"id": clock.new_id()})
    container.table.put(listing_item(ghost))  # an entry, no run item
    assert _walk(listed.client, 1) == listed.ids()
    assert _walk(listed.client, 3) == listed.ids()
    assert _walk(listed.client, 3, status="COMPLETED") == listed.ids(status=RunStatus.COMPLETED)
    twice = next(r for r in listed.runs if r.id in listed.old)
    container.table.put(listing_item(twice))  # the same run, also as an entry
    assert _walk(listed.client, 50) == listed.ids()
