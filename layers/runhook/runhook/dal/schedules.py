"""A scheduled task's firing state: the run its last fire created (one item in the task's
partition, `SCHEDULE`), so the overlap policy reads one item and one run, never a Query
over the task's runs nor a Scan (docs/schedules.md)."""

from __future__ import annotations

from dataclasses import dataclass

from runhook import keys
from runhook.dal.expressions import key
from runhook.dal.table import Table


@dataclass(frozen=True)
class FireState:
    last_run_id: str
    last_fire_time: str  # ISO 8601 UTC, the slot that created it


class ScheduleStateRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, task_id: str) -> FireState | None:
        item = self.table.get(key(keys.task_pk(task_id), keys.TASK_SCHEDULE_SK), consistent=True)
        if not item or "lastRunId" not in item:
            return None
        return FireState(str(item["lastRunId"]), str(item.get("lastFireTime", "")))

    def record(self, task_id: str, state: FireState) -> bool:
        """Remember the run a fire created, unless a later slot's run is already recorded
        (a late retry of an older fire must not hide the newer run). False: not recorded."""
        item = {
            **key(keys.task_pk(task_id), keys.TASK_SCHEDULE_SK),
            "type": "task_schedule",
            "lastRunId": state.last_run_id,
            "lastFireTime": state.last_fire_time,
        }
        return self.table.put(
            item,
            condition="attribute_not_exists(pk) OR lastFireTime <= :t",
            values={":t": state.last_fire_time},
        )
