"""The schedule services (runhook.services.schedules, and TaskService's schedule part)
against in-memory fakes: what the scheduler is told on save/pause/delete, and what one fire
does. The same flows run against moto and DynamoDB Local in tests/e2e/schedules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from runhook.adapters.scheduler import SCHEDULED_TIME, EventBridgeSchedules, ScheduleSpec
from runhook.dal.schedules import FireState, ScheduleStateRepository
from runhook.errors import Conflict, InvalidRequest, NotFound, QuotaExceeded
from runhook.models import Principal, Run, RunStatus
from runhook.schedules import client_request_id, parse_fire_time
from runhook.services.runs import CreatedRun, RunService
from runhook.services.schedules import ScheduledRuns, TaskSchedules
from runhook.services.tasks import TaskService
from runhook.tasks.task import Task

ORG = "0190e3b2-0000-7000-8000-0000000000aa"
ME = Principal(org_id=ORG, key_id="k", scopes=["admin"])
STRANGER = Principal(org_id="0190e3b2-0000-7000-8000-0000000000bb", key_id="k", scopes=["admin"])
STEPS = [{"id": "say", "type": "log", "message": "hi"}]


class FakeStore:
    def __init__(self) -> None:
        self.schedules: dict[str, ScheduleSpec] = {}
        self.calls: list[str] = []

    def put(self, spec: ScheduleSpec) -> None:
        self.calls.append(f"put {spec.name}")
        self.schedules[spec.name] = spec

    def delete(self, name: str) -> None:
        self.calls.append(f"delete {name}")
        self.schedules.pop(name, None)


class FakeTasks:
    """TaskRepository's contract: versions with a moving head, soft delete."""

    def __init__(self) -> None:
        self.heads: dict[str, Task] = {}

    def put_version(self, task: Task, *, expected_version: int | None) -> bool:
        head = self.heads.get(task.id)
        if (head.version if head else None) != expected_version:
            return False
        self.heads[task.id] = task
        return True

    def get(self, task_id: str) -> Task | None:
        return self.heads.get(task_id)

    def delete(self, task_id: str) -> None:
        self.heads.pop(task_id, None)


def service() -> tuple[TaskService, FakeStore, FakeTasks]:
    store, tasks = FakeStore(), FakeTasks()
    schedules = TaskSchedules(store, min_interval_seconds=300)
    return TaskService(cast(Any, tasks), schedules), store, tasks


def body(schedule: Any = None) -> dict[str, Any]:
    raw: dict[str, Any] = {"name": "t", "steps": STEPS}
    if schedule is not None:
        raw["schedule"] = schedule
    return raw


def test_save_pause_resume_delete_keep_the_scheduler_in_step() -> None:
    tasks, store, _ = service()
    task = tasks.create_task(ME, body({"cron": "30 8 * * 1-5", "timezone": "Europe/Paris"}))
    name = f"task-{task.id}"
    spec = store.schedules[name]
    assert (spec.expression, spec.timezone, spec.enabled) == (
        "cron(30 8 ? * MON-FRI *)",
        "Europe/Paris",
        True,
    )
    assert spec.payload == {"taskId": task.id, "orgId": ORG, "scheduledTime": SCHEDULED_TIME}
    assert spec.start_date is None

    paused = tasks.set_schedule_enabled(ME, task.id, enabled=False)
    assert paused.version == 2 and not store.schedules[name].enabled
    assert tasks.set_schedule_enabled(ME, task.id, enabled=False) is not None
    assert store.calls == [f"put {name}", f"put {name}"]  # already paused: nothing sent
    resumed = tasks.set_schedule_enabled(ME, task.id, enabled=True)
    assert resumed.version == 3 and store.schedules[name].enabled

    tasks.update_task(ME, task.id, body())  # the schedule removed from the task
    assert name not in store.schedules
    with pytest.raises(Conflict, match="task_not_scheduled"):
        tasks.set_schedule_enabled(ME, task.id, enabled=False)

    other = tasks.create_task(ME, body({"rate": "every 15 minutes"}))
    rate = store.schedules[f"task-{other.id}"]
    assert rate.expression == "rate(15 minutes)"
    assert rate.start_date is not None and rate.start_date.timestamp() % 900 == 0
    tasks.delete_task(ME, other.id)
    assert f"task-{other.id}" not in store.schedules


def test_a_bad_schedule_writes_nothing_and_tells_nobody() -> None:
    tasks, store, repo = service()
    for bad, path in (
        ({"cron": "0 9 * * *", "timezone": "Atlantis/Capital"}, "schedule.timezone"),
        ({"rate": "every 1 minute"}, "schedule.rate"),  # under the 300 s minimum
        ({"cron": "*/2 * * * *"}, "schedule.cron"),
    ):
        with pytest.raises(InvalidRequest) as caught:
            tasks.create_task(ME, body(bad))
        assert caught.value.code == "invalid_schedule"
        assert [e["path"] for e in caught.value.extra["errors"]] == [path]
    assert repo.heads == {} and store.calls == []


def test_another_organizations_task_is_not_found() -> None:
    tasks, store, _ = service()
    task = tasks.create_task(ME, body({"rate": "every 5 minutes"}))
    with pytest.raises(NotFound):
        tasks.set_schedule_enabled(STRANGER, task.id, enabled=False)
    assert store.schedules[f"task-{task.id}"].enabled


def test_a_stored_string_schedule_resumes_only_if_it_parses() -> None:
    tasks, store, repo = service()
    task = tasks.create_task(ME, body())
    legacy = task.definition.model_validate({"name": "t", "steps": STEPS, "schedule": "nope"})
    repo.heads[task.id] = task.model_copy(update={"definition": legacy})
    assert repo.heads[task.id].to_resource()["schedule"]["nextRunAt"] is None
    with pytest.raises(InvalidRequest, match="invalid_schedule"):
        tasks.set_schedule_enabled(ME, task.id, enabled=True)
    assert store.calls == []


# -- one fire ---------------------------------------------------------------------------------
@dataclass
class FakeRuns:
    runs: dict[str, Run] = field(default_factory=dict)
    claims: dict[tuple[str, str], str] = field(default_factory=dict)

    def claimed_run(self, task_id: str, request_id: str) -> str | None:
        return self.claims.get((task_id, request_id))

    def get(self, run_id: str) -> Run | None:
        return self.runs.get(run_id)


@dataclass
class FakeRunService:
    runs: FakeRuns
    refuse: Exception | None = None
    created: list[tuple[str, Any, str | None, str]] = field(default_factory=list)

    def create_run(
        self,
        principal: Principal,
        task_id: str,
        inputs: Any,
        client_request_id: str | None,
        trigger_type: str = "api",
    ) -> CreatedRun:
        if self.refuse is not None:
            raise self.refuse
        assert client_request_id is not None
        if holder := self.runs.claims.get((task_id, client_request_id)):
            return CreatedRun(self.runs.runs[holder], created=False)
        run_id = f"0190e3b2-0000-7000-8000-{len(self.runs.runs):012d}"
        run = Run(
            id=run_id,
            org_id=principal.org_id,
            task_id=task_id,
            task_version=1,
            status=RunStatus.RUNNING,
            trigger_type="schedule",
            created_at="2026-11-30T10:00:00.000Z",
            steps_total=1,
            inputs=inputs or {},
            client_request_id=client_request_id,
        )
        self.runs.runs[run_id] = run
        self.runs.claims[(task_id, client_request_id)] = run_id
        self.created.append((task_id, inputs, client_request_id, trigger_type))
        return CreatedRun(run, created=True)


class FakeState:
    def __init__(self) -> None:
        self.states: dict[str, FireState] = {}

    def get(self, task_id: str) -> FireState | None:
        return self.states.get(task_id)

    def record(self, task_id: str, state: FireState) -> bool:
        self.states[task_id] = state
        return True


def firing(schedule: dict[str, Any]) -> tuple[ScheduledRuns, FakeRunService, Task, TaskService]:
    tasks, _, repo = service()
    task = tasks.create_task(ME, body(schedule))
    runs = FakeRuns()
    run_service = FakeRunService(runs)
    fire = ScheduledRuns(
        cast(Any, repo),
        cast(Any, runs),
        cast(RunService, run_service),
        cast(ScheduleStateRepository, FakeState()),
    )
    return fire, run_service, task, tasks


def fire_event(task: Task, when: str) -> dict[str, Any]:
    return {"taskId": task.id, "orgId": task.org_id, "scheduledTime": when}


def test_a_fire_creates_one_scheduled_run_per_fire_time() -> None:
    fire, run_service, task, _ = firing({"rate": "every 5 minutes", "inputs": {"a": 1}})
    first = fire.fire(fire_event(task, "2026-11-30T10:05:00Z"))
    assert first.outcome == "created"
    key = client_request_id(task.id, parse_fire_time("2026-11-30T10:05:00Z"))
    assert run_service.created == [(task.id, {"a": 1}, key, "schedule")]
    again = fire.fire(fire_event(task, "2026-11-30T10:05:00.000Z"))
    assert (again.outcome, again.run_id) == ("replayed", first.run_id)
    assert len(run_service.created) == 1


def test_overlap_skip_and_allow() -> None:
    fire, run_service, task, _ = firing({"rate": "every 5 minutes"})
    first = fire.fire(fire_event(task, "2026-11-30T10:05:00Z"))
    skipped = fire.fire(fire_event(task, "2026-11-30T10:10:00Z"))
    assert (skipped.outcome, skipped.run_id) == ("skipped_overlap", first.run_id)
    assert first.run_id is not None
    finished = run_service.runs.runs[first.run_id].model_copy(
        update={"status": RunStatus.COMPLETED}
    )
    run_service.runs.runs[first.run_id] = finished
    assert fire.fire(fire_event(task, "2026-11-30T10:15:00Z")).outcome == "created"

    fire, run_service, task, _ = firing({"rate": "every 5 minutes", "overlap": "allow"})
    outcomes = [fire.fire(fire_event(task, f"2026-11-30T10:{m}:00Z")).outcome for m in (10, 15)]
    assert outcomes == ["created", "created"]


def test_a_fire_for_a_paused_deleted_or_foreign_task_makes_no_run() -> None:
    fire, run_service, task, tasks = firing({"rate": "every 5 minutes"})
    assert fire.fire({**fire_event(task, "2026-11-30T10:05:00Z"), "orgId": "x"}).outcome == (
        "not_scheduled"
    )
    tasks.set_schedule_enabled(ME, task.id, enabled=False)
    assert fire.fire(fire_event(task, "2026-11-30T10:05:00Z")).outcome == "not_scheduled"
    tasks.delete_task(ME, task.id)
    assert fire.fire(fire_event(task, "2026-11-30T10:05:00Z")).outcome == "not_scheduled"
    assert fire.fire({"taskId": "nope", "scheduledTime": "2026-11-30T10:05:00Z"}).outcome == (
        "not_scheduled"
    )
    assert run_service.created == []
    with pytest.raises(InvalidRequest) as caught:
        fire.fire({"taskId": task.id, "orgId": ORG, "scheduledTime": "soon"})
    assert caught.value.code == "invalid_scheduled_time"


def test_a_refused_run_is_reported_not_raised() -> None:
    fire, run_service, task, _ = firing({"rate": "every 5 minutes"})
    run_service.refuse = QuotaExceeded(usage={})
    result = fire.fire(fire_event(task, "2026-11-30T10:05:00Z"))
    assert (result.outcome, result.reason) == ("refused", "usage_limit_exceeded")


def test_the_eventbridge_request() -> None:
    schedules = EventBridgeSchedules(
        "group", "arn:fn", "arn:role", boto3_client=object(), endpoint_url="http://x"
    )
    start = datetime(2026, 11, 30, 10, 15, tzinfo=UTC)
    spec = ScheduleSpec("task-1", "rate(15 minutes)", "UTC", False, {"a": 1}, start)
    request = schedules.request(spec)
    assert request["State"] == "DISABLED" and request["StartDate"] == start
    assert request["Target"]["Arn"] == "arn:fn" and request["Target"]["RoleArn"] == "arn:role"
    assert request["Target"]["Input"] == '{"a":1}'
    assert request["FlexibleTimeWindow"] == {"Mode": "OFF"} and request["GroupName"] == "group"
