"""Task schedules on Amazon EventBridge Scheduler (docs/schedules.md).

One schedule per scheduled task, named `task-<taskId>`, in the stack's schedule group;
its target is the scheduled-run function, invoked with the task and the fire time
(`<aws.scheduler.scheduled-time>`, which the scheduler fills in per fire and keeps on
its own retries, so the run it creates is idempotent per fire time). A paused schedule
stays, DISABLED. The service layer sees only the `ScheduleStore` interface; the local
cloud serves the same API (moto) and fires it itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, Unpack

from botocore.exceptions import ClientError

from runhook.aws import ClientOptions, LazyClient, error_code, translate_errors

# Substituted by EventBridge Scheduler in the target's Input, per fire.
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
# A fire the target could not take is retried for at most an hour: a later run would
# surprise more than a missed one (the next slot comes anyway).
RETRY_POLICY = {"MaximumRetryAttempts": 20, "MaximumEventAgeInSeconds": 3600}


@dataclass(frozen=True)
class ScheduleSpec:
    """What the scheduler needs of one task's schedule."""

    name: str
    expression: str  # EventBridge form: cron(6 fields) or rate(N unit)
    timezone: str
    enabled: bool
    payload: dict[str, Any] = field(default_factory=dict)  # the target's event (Input)
    start_date: datetime | None = None  # rate schedules: their first slot


class ScheduleStore(Protocol):
    """Where task schedules live (EventBridge Scheduler; a fake in unit tests)."""

    def put(self, spec: ScheduleSpec) -> None:
        """Create or replace the schedule `spec.name`."""

    def delete(self, name: str) -> None:
        """Remove the schedule `name` (no error if there is none)."""


class EventBridgeSchedules:
    """`ScheduleStore` on EventBridge Scheduler, in `group_name`, invoking `target_arn`
    with `role_arn` (the role that may invoke only that function)."""

    def __init__(
        self, group_name: str, target_arn: str, role_arn: str, **client: Unpack[ClientOptions]
    ) -> None:
        self.group_name = group_name
        self.target_arn = target_arn
        self.role_arn = role_arn
        self._client = LazyClient("scheduler", **client)

    @property
    def client(self) -> Any:
        return self._client.get()

    def request(self, spec: ScheduleSpec) -> dict[str, Any]:
        """The CreateSchedule/UpdateSchedule parameters of `spec` (one place for both)."""
        params: dict[str, Any] = {
            "Name": spec.name,
            "GroupName": self.group_name,
            "ScheduleExpression": spec.expression,
            "ScheduleExpressionTimezone": spec.timezone,
            "State": "ENABLED" if spec.enabled else "DISABLED",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": self.target_arn,
                "RoleArn": self.role_arn,
                "Input": json.dumps(spec.payload, separators=(",", ":")),
                "RetryPolicy": RETRY_POLICY,
            },
        }
        if spec.start_date is not None:
            params["StartDate"] = spec.start_date
        return params

    def put(self, spec: ScheduleSpec) -> None:
        params = self.request(spec)
        with translate_errors("scheduler"):
            try:
                self.client.update_schedule(**params)
                return
            except ClientError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
            try:
                self.client.create_schedule(**params)
            except ClientError as exc:
                if error_code(exc) != "ConflictException":  # created meanwhile: update it
                    raise
                self.client.update_schedule(**params)

    def delete(self, name: str) -> None:
        with translate_errors("scheduler"):
            try:
                self.client.delete_schedule(Name=name, GroupName=self.group_name)
            except ClientError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
