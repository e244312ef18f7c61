"""EventBridge Scheduler's schedules, fired locally (docs/schedules.md, "Local firing").

moto serves the Scheduler API (the API creates, updates and deletes one schedule per
scheduled task in the stack's group) but fires nothing. `ScheduleFirer`, one thread,
does: when a slot is due (it sleeps until the next one, or until the dispatcher says a
schedule was created, changed or deleted; at most `IDLE_CAP` seconds, at least a
second) it reads the schedules from moto, works out with runhook.schedules
which slots are due, and invokes each due schedule's target through the local Lambda's
async queue (the same path devcloud/schedules.py uses) with the target's Input, its
`<aws.scheduler.scheduled-time>` filled in as EventBridge Scheduler would.

Slots are counted from when the schedule was last created or changed (no fire for a
slot before it existed). After a pause (the local cloud stopped, the machine asleep)
only the newest missed slot fires: once, never older ones. Restarts: moto forgets its
schedules, so the firer keeps, under `<state-dir>/schedules/`, every schedule's
definition and its last fired slot; on start it puts the schedules back into moto and
goes on from the last fired slot, so no slot fires twice across a restart.

Tests do not wait for the clock: `fire_due(now)` fires what is due at any given time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from runhook_dev.devcloud.background import BackgroundLoop

if TYPE_CHECKING:
    from runhook.schedules import Recurrence
    from runhook_dev.devcloud.activity import Channel
    from runhook_dev.devcloud.async_invoke import AsyncInvoker
    from runhook_dev.devcloud.registry import FunctionRegistry

log = logging.getLogger("devcloud.task_schedules")

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
TICK_SECONDS = 1.0  # the shortest sleep between rounds
IDLE_CAP = 60.0  # the longest (a safety net: the clock may jump, tests move it)
STATE_FILE = "task-schedules.json"
# What CreateSchedule takes back from GetSchedule (to put a schedule back after a restart).
_CREATE_FIELDS = (
    "Name",
    "GroupName",
    "Description",
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "FlexibleTimeWindow",
    "Target",
    "State",
    "EndDate",
    "ActionAfterCompletion",
)


def recurrence_of(expression: str, timezone: str) -> Recurrence:
    """runhook's Recurrence for an EventBridge Scheduler expression (the ones
    runhook.adapters.scheduler writes: `cron(6 fields)` with `?`, or `rate(N unit)`)."""
    from runhook.schedules import Recurrence, ScheduleError

    text = expression.strip()
    if text.startswith("rate("):
        return Recurrence.parse(cron=None, rate=text, timezone=timezone)
    if text.startswith("cron(") and text.endswith(")"):
        fields = text[5:-1].split()
        if len(fields) == 6 and fields[5] == "*":
            five = " ".join("*" if f == "?" else f for f in fields[:5])
            return Recurrence("cron", five, None, timezone)
    raise ScheduleError("cron", f"not emulated locally: {expression!r}")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _moment(value: Any) -> datetime:
    """A date moto/boto3 gives back (datetime, or epoch seconds) as an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), UTC)


@dataclass
class Tracked:
    """What the firer remembers of one schedule (persisted)."""

    definition: dict[str, Any]  # CreateSchedule's parameters
    since: str  # slots after this are due: created/changed, or the last fired slot
    modified: str = ""  # moto's LastModificationDate when last seen (a change resets `since`)

    def as_dict(self) -> dict[str, Any]:
        return {"definition": self.definition, "since": self.since, "modified": self.modified}


@dataclass
class Fired:
    name: str
    fire_time: str
    event: dict[str, Any] = field(default_factory=dict)


class ScheduleFirer(BackgroundLoop):
    """Fires moto's Scheduler schedules whose targets are local functions."""

    thread_name = "task-schedules"

    def __init__(
        self,
        registry: FunctionRegistry,
        invoker: AsyncInvoker,
        client: Callable[[], Any],
        state_dir: Path | None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wake: Channel | None = None,
    ) -> None:
        super().__init__(wake)  # schedules created/changed/deleted (None: a round a second)
        self.registry = registry
        self.invoker = invoker
        self.client = client
        self.path = state_dir / STATE_FILE if state_dir is not None else None
        self.clock = clock
        self.tracked: dict[str, Tracked] = {}  # "group/name" → what is remembered
        self.fired: list[Fired] = []  # every fire of this process, oldest first
        self._saved = ""  # the state file's text as last written
        self._lock = threading.Lock()

    # -- life ---------------------------------------------------------------------------
    def start(self) -> None:
        self._restore()
        super().start()

    def _run(self) -> None:
        pause = TICK_SECONDS
        while not self._stop.wait(TICK_SECONDS):
            generation = self.wake.generation() if self.wake is not None else 0
            try:
                self.fire_due()
                pause = self.seconds_to_next_slot()
            except Exception as exc:  # a bad round must not end the thread
                log.warning("task schedules: round failed: %s", exc)
                pause = TICK_SECONDS
            if self.wake is not None and pause > TICK_SECONDS:
                self.wake.wait(generation, pause - TICK_SECONDS)

    def seconds_to_next_slot(self) -> float:
        """Until the earliest next slot of an enabled schedule (`TICK_SECONDS`..`IDLE_CAP`)."""
        from runhook.schedules import ScheduleError

        with self._lock:
            now = self.clock()
            soonest = IDLE_CAP
            for tracked in self.tracked.values():
                definition = tracked.definition
                if definition.get("State", "ENABLED") != "ENABLED":
                    continue
                try:
                    recurrence = recurrence_of(
                        definition["ScheduleExpression"],
                        definition.get("ScheduleExpressionTimezone") or "UTC",
                    )
                except (ScheduleError, KeyError):
                    continue
                slot = recurrence.next_after(max(now, _parse(tracked.since)))
                soonest = min(soonest, (slot - now).total_seconds())
        return max(TICK_SECONDS, soonest)

    # -- one round ----------------------------------------------------------------------
    def fire_due(self, now: datetime | None = None) -> list[Fired]:
        """Fire every schedule's newest due slot up to `now` (default: the clock)."""
        with self._lock:
            moment = now or self.clock()
            current = self._read_schedules()
            for key in set(self.tracked) - set(current):  # deleted: forget it
                del self.tracked[key]
            fired: list[Fired] = []
            for key, schedule in current.items():
                tracked = self._track(key, schedule, moment)
                done = self._fire_one(key, tracked, moment)
                if done is not None:
                    fired.append(done)
            self._save()
            self.fired.extend(fired)
            return fired

    def _read_schedules(self) -> dict[str, dict[str, Any]]:
        client = self.client()
        out: dict[str, dict[str, Any]] = {}
        pages = client.get_paginator("list_schedules").paginate()
        for summary in (s for page in pages for s in page.get("Schedules", [])):
            with contextlib.suppress(ClientError):  # deleted between list and get
                full = client.get_schedule(Name=summary["Name"], GroupName=summary["GroupName"])
                out[f"{summary['GroupName']}/{summary['Name']}"] = full
        return out

    def _track(self, key: str, schedule: dict[str, Any], now: datetime) -> Tracked:
        modified = _iso(_moment(schedule.get("LastModificationDate") or now))
        definition = {k: schedule[k] for k in _CREATE_FIELDS if schedule.get(k) is not None}
        tracked = self.tracked.get(key)
        if tracked is None:
            tracked = Tracked(definition, since=modified, modified=modified)
            self.tracked[key] = tracked
        elif tracked.definition != definition:  # changed: count slots from the change
            tracked.definition, tracked.since = definition, max(tracked.since, modified)
        tracked.modified = modified
        return tracked

    def _fire_one(self, key: str, tracked: Tracked, now: datetime) -> Fired | None:
        from runhook.schedules import ScheduleError

        definition = tracked.definition
        if definition.get("State", "ENABLED") != "ENABLED":
            tracked.since = max(tracked.since, _iso(now))  # paused slots never fire later
            return None
        try:
            recurrence = recurrence_of(
                definition["ScheduleExpression"],
                definition.get("ScheduleExpressionTimezone") or "UTC",
            )
        except ScheduleError as exc:
            log.warning("schedule %s: %s", key, exc.message)
            return None
        slot = recurrence.latest_until(now)
        if slot <= _parse(tracked.since):  # fired already, or from before the schedule
            return None
        tracked.since = _iso(slot)  # before the invoke: at most once per slot
        target = definition["Target"]
        function = self.registry.get(str(target.get("Arn", "")))
        if function is None:
            log.warning("schedule %s: no local function %s", key, target.get("Arn"))
            return None
        text = str(target.get("Input") or "{}").replace(SCHEDULED_TIME, _iso(slot))
        event = json.loads(text)
        log.info("schedule %s fires for %s", key, _iso(slot))
        self.invoker.submit(function, event)
        return Fired(key, _iso(slot), event)

    # -- across restarts ----------------------------------------------------------------
    def _save(self) -> None:
        if self.path is None:
            return
        data = {"schedules": {k: t.as_dict() for k, t in self.tracked.items()}}
        text = json.dumps(data, indent=1, default=str)
        if text == self._saved:  # a round that changed nothing writes nothing
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(text)
        temporary.replace(self.path)  # atomic: a crash leaves the old file or the new one
        self._saved = text

    def _restore(self) -> None:
        """Put the schedules of the last run back into moto, with their fire state."""
        if self.path is None or not self.path.is_file():
            return
        try:
            saved = json.loads(self.path.read_text())["schedules"]
        except (ValueError, KeyError, TypeError):
            log.warning("task schedules state %s unreadable: starting over", self.path)
            return
        client = self.client()
        for key, entry in saved.items():
            tracked = Tracked(entry["definition"], entry["since"], entry.get("modified", ""))
            try:
                client.create_schedule(**tracked.definition)
            except ClientError as exc:
                log.warning("schedule %s not restored: %s", key, exc)
                continue
            # Its LastModificationDate is now; the definition is unchanged, so the
            # remembered `since` (the last fired slot) still counts.
            self.tracked[key] = tracked
        log.info("task schedules restored: %d", len(self.tracked))
