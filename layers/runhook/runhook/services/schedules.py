"""Task schedules: kept in step with the task on save, pause and delete, and fired.

`TaskSchedules` is what the task service calls: it checks a definition's schedule (a 400
`invalid_schedule` before anything is written) and mirrors the saved task onto the
`ScheduleStore` (EventBridge Scheduler). The task is the source of truth: it is written
first, then the store; if the store call fails, the task says what should fire and the
next save puts it right, and a fire that disagrees with the task does nothing (below).

`ScheduledRuns` is what the scheduled-run function calls per fire: it reads the task
again (deleted, unscheduled or paused since: nothing happens), derives the run's
`clientRequestId` from the task and the fire time (a retried fire finds the run the
first one made), applies the overlap policy (`skip`: the run the previous fire made is
still active — one item and one run read, no Scan) and creates the run through the
run service with `triggerType: "schedule"` (docs/schedules.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from runhook import clock
from runhook.adapters.scheduler import SCHEDULED_TIME, ScheduleSpec, ScheduleStore
from runhook.dal.runs import RunRepository
from runhook.dal.schedules import FireState, ScheduleStateRepository
from runhook.dal.tasks import TaskRepository
from runhook.errors import InvalidRequest, NotFound, QuotaExceeded
from runhook.models import Principal
from runhook.schedules import (
    ScheduleError,
    client_request_id,
    fire_iso,
    parse_fire_time,
    schedule_name,
)
from runhook.services.runs import RunService
from runhook.tasks.definition import TaskDefinition, schedule_problems
from runhook.tasks.task import Task

log = logging.getLogger(__name__)

# Who a scheduled run's creation is attributed to (the schedule, not an API key).
SCHEDULE_KEY_ID = "schedule"

FireOutcome = Literal[
    "created",  # a new run
    "replayed",  # a retried fire: the run the first one created
    "skipped_overlap",  # overlap "skip": the previous scheduled run is still active
    "not_scheduled",  # the task is gone, has no schedule, or it is paused
    "refused",  # the run could not be created (quota, inputs the task no longer accepts)
]


@dataclass(frozen=True)
class FireResult:
    outcome: FireOutcome
    task_id: str
    fire_time: str
    run_id: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "taskId": self.task_id,
            "fireTime": self.fire_time,
            "runId": self.run_id,
            "reason": self.reason,
        }


def fire_payload(task: Task) -> dict[str, Any]:
    """The scheduled-run function's event, as the schedule's target Input."""
    return {"taskId": task.id, "orgId": task.org_id, "scheduledTime": SCHEDULED_TIME}


class TaskSchedules:
    """A task's schedule on the `ScheduleStore`, in step with the saved task.

    Without a store (a deployment with no SCHEDULE_GROUP_NAME, and tests of the API
    alone) schedules are still checked and shown, but nothing fires them.
    """

    def __init__(self, store: ScheduleStore | None, *, min_interval_seconds: float) -> None:
        self.store = store
        self.min_interval_seconds = min_interval_seconds

    def check(self, definition: TaskDefinition) -> None:
        """400 `invalid_schedule` (with every problem) for a schedule that cannot fire."""
        problems = schedule_problems(
            definition, min_interval_seconds=self.min_interval_seconds, now=clock.now()
        )
        if problems:
            raise InvalidRequest("invalid_schedule", errors=problems)

    def spec(self, task: Task, now: datetime | None = None) -> ScheduleSpec | None:
        """What the store should hold for `task` (None: no schedule)."""
        schedule = task.definition.schedule
        if schedule is None:
            return None
        recurrence = schedule.recurrence()
        start = None
        if recurrence.kind == "rate":  # the AWS rate grid starts on our next slot
            start = recurrence.next_after((now or clock.now()) + timedelta(seconds=1))
        return ScheduleSpec(
            name=schedule_name(task.id),
            expression=recurrence.aws_expression(),
            timezone=recurrence.timezone,
            enabled=schedule.enabled,
            payload=fire_payload(task),
            start_date=start,
        )

    def sync(self, task: Task, previous: Task | None = None) -> None:
        """Mirror the saved `task` onto the store (`previous`: the version it replaced)."""
        if self.store is None:
            return
        spec = self.spec(task)
        if spec is not None:
            self.store.put(spec)
        elif previous is not None and previous.definition.schedule is not None:
            self.store.delete(schedule_name(task.id))

    def remove(self, task: Task) -> None:
        if self.store is not None and task.definition.schedule is not None:
            self.store.delete(schedule_name(task.id))


class ScheduledRuns:
    """One fire of a task's schedule → at most one run (docs/schedules.md)."""

    def __init__(
        self,
        tasks: TaskRepository,
        runs: RunRepository,
        run_service: RunService,
        state: ScheduleStateRepository,
    ) -> None:
        self.tasks = tasks
        self.runs = runs
        self.run_service = run_service
        self.state = state

    def fire(self, event: dict[str, Any]) -> FireResult:
        """Create the run of one fire (the scheduler's or the local cloud's event).

        Raises ServiceUnavailable when a dependency fails: the scheduler retries the
        fire, and the retry is idempotent. A fire that must not create a run (deleted or
        paused task, overlap, quota) returns why instead of raising, so nothing retries it.
        """
        task_id, org_id = str(event.get("taskId", "")), str(event.get("orgId", ""))
        try:
            fire_time = parse_fire_time(str(event.get("scheduledTime", "")))
        except ScheduleError as exc:
            raise InvalidRequest("invalid_scheduled_time", message=exc.message) from exc
        when = fire_iso(fire_time)
        task = self.tasks.get(task_id) if clock.is_uuid(task_id) else None
        schedule = task.definition.schedule if task else None
        if task is None or task.org_id != org_id or schedule is None or not schedule.enabled:
            return FireResult("not_scheduled", task_id, when)
        request_id = client_request_id(task_id, fire_time)
        claimed = self.runs.claimed_run(task_id, request_id)
        if claimed is None and schedule.overlap == "skip":
            previous = self.state.get(task_id)
            run = self.runs.get(previous.last_run_id) if previous else None
            if run is not None and run.active:
                log.info("schedule of task %s at %s skipped: run %s active", task_id, when, run.id)
                return FireResult("skipped_overlap", task_id, when, run.id)
        principal = Principal(org_id=task.org_id, key_id=SCHEDULE_KEY_ID, scopes=["runs"])
        try:
            created = self.run_service.create_run(
                principal, task_id, schedule.inputs, request_id, trigger_type="schedule"
            )
        except NotFound:  # deleted since it was read
            return FireResult("not_scheduled", task_id, when)
        except (QuotaExceeded, InvalidRequest) as exc:
            log.warning("schedule of task %s at %s: no run (%s)", task_id, when, exc.code)
            return FireResult("refused", task_id, when, reason=exc.code)
        self.state.record(task_id, FireState(created.run.id, when))
        outcome: FireOutcome = "created" if created.created else "replayed"
        return FireResult(outcome, task_id, when, created.run.id)
