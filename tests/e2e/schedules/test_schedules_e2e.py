"""Task schedules end to end on the local cloud (docs/schedules.md): the API saves the
schedule in moto's EventBridge Scheduler, the local cloud fires it into the scheduled-run
function, which creates the run. No test waits for the clock: the firer's clock is set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from runhook.schedules import client_request_id, parse_fire_time
from tests.support.orgs import Organization, Organizations
from tests.support.polling import eventually

pytestmark = pytest.mark.localcloud

GROUP = "runhook-local-tasks"
TARGET = "runhook-local-scheduled-run"
LOG_STEP = [{"id": "say", "type": "log", "message": "scheduled {{ inputs.city }}"}]
APPROVAL_STEP = [{"id": "ask", "type": "approval", "prompt": "Go on?"}]
CITY_INPUTS = {"type": "object", "properties": {"city": {"type": "string"}}}


@pytest.fixture()
def org(organizations: Organizations) -> Organization:
    return organizations.create("schedules")


@pytest.fixture()
def api(organizations: Organizations, org: Organization) -> Iterator[httpx.Client]:
    """The organization's client; its tasks are deleted afterwards, so that their
    schedules do not go on firing for the rest of the session."""
    with organizations.client(org) as client:
        yield client
        for task in client.get("/tasks").json()["tasks"]:
            client.delete(f"/tasks/{task['id']}")


@pytest.fixture()
def frozen(local_cloud: Any) -> Iterator[list[datetime]]:
    """The firer's clock, frozen at the real time now (tests move it); restored after."""
    firer = local_cloud.schedule_firer
    now = [datetime.now(UTC).replace(microsecond=0)]
    previous = firer.clock
    firer.clock = lambda: now[0]
    yield now
    firer.clock = previous


def scheduler(local_cloud: Any) -> Any:
    return local_cloud.client("scheduler")


def save(api: httpx.Client, schedule: Any, steps: list[Any] = LOG_STEP) -> dict[str, Any]:
    body = {"name": "scheduled", "inputs": CITY_INPUTS, "steps": steps, "schedule": schedule}
    answer = api.post("/tasks", json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json()["task"])


def runs_of(api: httpx.Client, task_id: str) -> list[dict[str, Any]]:
    answer = api.get(f"/tasks/{task_id}/runs")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["runs"])


def event(task: dict[str, Any], org: Organization, slot: datetime) -> dict[str, Any]:
    return {
        "taskId": task["id"],
        "orgId": org.id,
        "scheduledTime": slot.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def test_a_schedule_due_every_minute_fires_a_scheduled_run(
    local_cloud: Any, api: httpx.Client, frozen: list[datetime]
) -> None:
    task = save(api, {"cron": "* * * * *", "inputs": {"city": "Lyon"}})
    schedule = task["schedule"]
    assert schedule["enabled"] is True and schedule["overlap"] == "skip"
    next_run = datetime.fromisoformat(schedule["nextRunAt"].replace("Z", "+00:00"))
    assert timedelta(0) < next_run - frozen[0] <= timedelta(seconds=61)
    stored = scheduler(local_cloud).get_schedule(Name=f"task-{task['id']}", GroupName=GROUP)
    assert stored["ScheduleExpression"] == "cron(* * * * ? *)"
    assert stored["Target"]["Arn"].endswith(f":function:{TARGET}")
    assert json.loads(stored["Target"]["Input"])["scheduledTime"] == (
        "<aws.scheduler.scheduled-time>"
    )

    firer = local_cloud.schedule_firer

    def fired() -> list[str]:  # its background round may fire before fire_due() does
        return [f.fire_time for f in firer.fired if f.name.endswith(task["id"])]

    firer.fire_due(frozen[0])
    assert fired() == []  # nothing due yet
    frozen[0] = next_run + timedelta(seconds=1)
    firer.fire_due()
    assert fired() == [next_run.strftime("%Y-%m-%dT%H:%M:%SZ")]
    [run] = eventually(lambda: runs_of(api, task["id"]), timeout=20)
    assert run["triggerType"] == "schedule"
    assert run["inputs"] == {"city": "Lyon"}
    assert run["clientRequestId"] == client_request_id(task["id"], next_run)
    eventually(lambda: api.get(f"/task-runs/{run['id']}").json()["run"]["status"] == "COMPLETED")
    # The same moment again fires nothing: each slot once.
    firer.fire_due()
    assert len(fired()) == 1


def test_a_retried_fire_never_starts_two_runs(
    local_cloud: Any, api: httpx.Client, org: Organization
) -> None:
    task = save(api, {"rate": "every 5 minutes"})
    slot = parse_fire_time("2026-11-30T10:05:00Z")
    first = local_cloud.invoke(TARGET, event(task, org, slot))
    again = local_cloud.invoke(TARGET, event(task, org, slot))
    assert first["outcome"] == "created"
    assert again == {**first, "outcome": "replayed"}
    assert [r["id"] for r in runs_of(api, task["id"])] == [first["runId"]]


def test_overlap_skip_while_the_previous_scheduled_run_is_active(
    local_cloud: Any, api: httpx.Client, org: Organization
) -> None:
    skip = save(api, {"rate": "every 5 minutes", "overlap": "skip"}, APPROVAL_STEP)
    allow = save(api, {"rate": "every 5 minutes", "overlap": "allow"}, APPROVAL_STEP)
    slots = [parse_fire_time(f"2026-11-30T10:{m:02d}:00Z") for m in (5, 10)]
    first = local_cloud.invoke(TARGET, event(skip, org, slots[0]))
    assert first["outcome"] == "created"
    eventually(lambda: api.get(f"/task-runs/{first['runId']}").json()["run"]["status"] == "RUNNING")
    second = local_cloud.invoke(TARGET, event(skip, org, slots[1]))
    assert second["outcome"] == "skipped_overlap" and second["runId"] == first["runId"]
    assert len(runs_of(api, skip["id"])) == 1
    # Once it is no longer active, the next slot runs again.
    assert api.post(f"/task-runs/{first['runId']}/cancel", json={}).status_code == 202
    third = local_cloud.invoke(TARGET, event(skip, org, slots[1] + timedelta(minutes=5)))
    assert third["outcome"] == "created"
    # "allow": both slots make a run.
    outcomes = [local_cloud.invoke(TARGET, event(allow, org, s))["outcome"] for s in slots]
    assert outcomes == ["created", "created"]
    assert len(runs_of(api, allow["id"])) == 2


def test_pause_resume_and_delete_follow_the_task(
    local_cloud: Any, api: httpx.Client, org: Organization
) -> None:
    task = save(api, {"cron": "0 9 * * 1-5", "timezone": "Europe/Paris"})
    name = f"task-{task['id']}"
    stored = scheduler(local_cloud).get_schedule(Name=name, GroupName=GROUP)
    assert stored["ScheduleExpression"] == "cron(0 9 ? * MON-FRI *)"
    assert stored["ScheduleExpressionTimezone"] == "Europe/Paris"

    paused = api.post(f"/tasks/{task['id']}/schedule/pause")
    assert paused.status_code == 200, paused.text
    body = paused.json()["task"]
    assert body["schedule"]["enabled"] is False and body["schedule"]["nextRunAt"] is None
    assert body["version"] == task["version"] + 1
    assert scheduler(local_cloud).get_schedule(Name=name, GroupName=GROUP)["State"] == "DISABLED"
    # A fire that was already under way when it was paused makes no run.
    slot = parse_fire_time("2026-12-01T08:00:00Z")
    assert local_cloud.invoke(TARGET, event(task, org, slot))["outcome"] == "not_scheduled"
    again = api.post(f"/tasks/{task['id']}/schedule/pause").json()["task"]
    assert again["version"] == body["version"]  # already paused: unchanged

    resumed = api.post(f"/tasks/{task['id']}/schedule/resume").json()["task"]
    assert resumed["schedule"]["enabled"] is True and resumed["schedule"]["nextRunAt"]
    assert scheduler(local_cloud).get_schedule(Name=name, GroupName=GROUP)["State"] == "ENABLED"

    # Saving the task without a schedule removes it; so does deleting the task.
    update = {"name": "plain", "inputs": CITY_INPUTS, "steps": LOG_STEP}
    assert api.put(f"/tasks/{task['id']}", json=update).status_code == 200
    assert name not in {s["Name"] for s in scheduler(local_cloud).list_schedules()["Schedules"]}
    other = save(api, {"rate": "every 10 minutes"})
    other_name = f"task-{other['id']}"
    assert other_name in {s["Name"] for s in scheduler(local_cloud).list_schedules()["Schedules"]}
    assert api.delete(f"/tasks/{other['id']}").status_code == 204
    assert other_name not in {
        s["Name"] for s in scheduler(local_cloud).list_schedules()["Schedules"]
    }
    assert local_cloud.invoke(TARGET, event(other, org, slot))["outcome"] == "not_scheduled"


@pytest.mark.parametrize(
    ("schedule", "path"),
    [
        ({"cron": "61 * * * *"}, "schedule.cron"),
        ({"cron": "0 9 1 * MON"}, "schedule.cron"),
        ({"cron": "0 9 * * *", "timezone": "Mars/Olympus_Mons"}, "schedule.timezone"),
        ({"rate": "every 30 seconds"}, "schedule.rate"),
        ({"rate": "every 5 minutes", "inputs": {"city": 3}}, "schedule.inputs.city"),
    ],
)
def test_a_bad_schedule_is_a_400_and_changes_nothing(
    local_cloud: Any, api: httpx.Client, schedule: dict[str, Any], path: str
) -> None:
    before = {s["Name"] for s in scheduler(local_cloud).list_schedules()["Schedules"]}
    body = {"name": "bad", "inputs": CITY_INPUTS, "steps": LOG_STEP, "schedule": schedule}
    answer = api.post("/tasks", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"] == "invalid_schedule"
    assert [e["path"] for e in answer.json()["errors"]] == [path]
    assert api.get("/tasks").json()["tasks"] == []
    # An update with a bad schedule leaves the task (and its schedule) as they were.
    task = save(api, {"rate": "every 5 minutes"})
    answer = api.put(f"/tasks/{task['id']}", json=body)
    assert answer.status_code == 400 and answer.json()["detail"] == "invalid_schedule"
    assert api.get(f"/tasks/{task['id']}").json()["task"] == task
    after = {s["Name"] for s in scheduler(local_cloud).list_schedules()["Schedules"]}
    assert after == before | {f"task-{task['id']}"}
    stored = scheduler(local_cloud).get_schedule(Name=f"task-{task['id']}", GroupName=GROUP)
    assert stored["ScheduleExpression"] == "rate(5 minutes)"


def test_schedule_endpoints_for_another_organization_or_no_schedule(
    organizations: Organizations, api: httpx.Client
) -> None:
    task = save(api, {"rate": "every 5 minutes"})
    plain = api.post("/tasks", json={"name": "p", "steps": LOG_STEP}).json()["task"]
    stranger = organizations.create("stranger")
    with organizations.client(stranger) as other:
        for action in ("pause", "resume"):
            answer = other.post(f"/tasks/{task['id']}/schedule/{action}")
            assert answer.status_code == 404 and answer.json()["detail"] == "task_not_found"
    answer = api.post(f"/tasks/{plain['id']}/schedule/pause")
    assert answer.status_code == 409 and answer.json()["detail"] == "task_not_scheduled"
    answer = api.post("/tasks/not-a-uuid/schedule/resume")
    assert answer.status_code == 400 and answer.json()["detail"] == "invalid_task_id"
    assert api.get(f"/tasks/{task['id']}").json()["task"]["schedule"]["enabled"] is True


def test_a_restart_does_not_fire_a_slot_twice(
    local_cloud: Any, api: httpx.Client, tmp_path: Path, frozen: list[datetime]
) -> None:
    """Two firers on one state directory, one after the other, as across a restart of the
    local cloud: moto forgets the schedule (deleted here), the second firer puts it back
    and goes on after the slot the first one fired."""
    from runhook_dev.devcloud.task_schedules import ScheduleFirer

    parts = local_cloud._running()
    # "allow": the second fire must not be skipped because the first run is still going.
    task = save(api, {"cron": "* * * * *", "overlap": "allow"})
    name = f"task-{task['id']}"
    slot = datetime.fromisoformat(task["schedule"]["nextRunAt"].replace("Z", "+00:00"))

    def firer() -> ScheduleFirer:
        return ScheduleFirer(
            local_cloud.registry,
            parts.endpoint.invoker,
            lambda: local_cloud.client("scheduler"),
            tmp_path / "schedules",
            clock=lambda: frozen[0],
        )

    first = firer()
    # The cloud's own firer sees the schedule first: it must not fire it (its clock is frozen).
    assert [f for f in first.fire_due(slot + timedelta(seconds=5)) if f.name.endswith(name)]
    scheduler(local_cloud).delete_schedule(Name=name, GroupName=GROUP)  # moto forgets

    second = firer()
    second._restore()
    assert name in {s["Name"] for s in scheduler(local_cloud).list_schedules()["Schedules"]}
    mine = [f for f in second.fire_due(slot + timedelta(seconds=30)) if f.name.endswith(name)]
    assert mine == []  # the slot the first firer fired does not fire again
    later = slot + timedelta(minutes=3, seconds=2)  # it was "down" for three slots
    mine = [f for f in second.fire_due(later) if f.name.endswith(name)]
    assert [f.fire_time for f in mine] == [
        (slot + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ]  # only the newest missed slot
    runs = eventually(lambda: runs_of(api, task["id"]), lambda r: len(r) == 2, timeout=20)
    assert {r["triggerType"] for r in runs} == {"schedule"}
