"""When a task's schedule fires: parsing, next fire times, the per-fire idempotency key.

Pure (no AWS, no clock): the API validates a schedule and shows its next fire time with
it, the scheduled-run function derives its run's `clientRequestId` from it, and the
local cloud decides with it which slots are due (docs/schedules.md).

Two forms, as a caller writes them:

- `cron`: five standard fields (minute hour day-of-month month day-of-week) in an IANA
  `timezone`; cron arithmetic is cronsim's (DST included). EventBridge Scheduler wants
  six fields with `?` in one day field and counts weekdays 1-7 from Sunday, so
  `aws_expression()` translates; what cannot be translated faithfully (both day fields
  restricted, `L`/`W`/`#`, a seconds field) is refused at save instead of firing at
  other times than the caller meant.
- `rate`: `every 15 minutes` or `rate(15 minutes)`. Its slots are whole multiples of
  the period since the Unix epoch (UTC), so every fire time is known in advance: the
  AWS schedule gets the next slot as its StartDate and then fires on the same grid.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

DEFAULT_MIN_INTERVAL_SECONDS = 60
MAX_RATE_SECONDS = 366 * 86400
# Gaps checked for the minimum interval: a day of every-minute slots covers any pattern
# that repeats within an hour or a day without making the check expensive.
INTERVAL_PROBES = 1500
SCHEDULE_NAME_PREFIX = "task-"
CLIENT_REQUEST_PREFIX = "schedule:"

_RATE = re.compile(
    r"^(?:every\s+(?P<n1>\d{1,6})\s+(?P<u1>[a-z]+)|rate\(\s*(?P<n2>\d{1,6})\s+(?P<u2>[a-z]+)\s*\))$"
)
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_DOW_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_DOW_NUMBER = re.compile(r"\d+")
_UNSUPPORTED = re.compile(r"[LW#?]")
_ANY_NUMBER = re.compile(r"[0-9]+")
MAX_CRON_LENGTH = 200


class ScheduleError(ValueError):
    """A schedule that cannot be used; `field` names what is wrong (cron, rate, timezone)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name` (ScheduleError when there is none)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # '../x', NUL: ValueError
        raise ScheduleError("timezone", f"unknown IANA time zone {name!r}") from exc


def rate_seconds(text: str) -> int:
    """The period of `every N unit(s)` or `rate(N unit(s))`, in seconds."""
    match = _RATE.match(" ".join(text.strip().lower().split()))
    if match is None:
        raise ScheduleError("rate", 'write a rate as "every 15 minutes" or "rate(15 minutes)"')
    count = int(match.group("n1") or match.group("n2"))
    unit = (match.group("u1") or match.group("u2")).removesuffix("s")
    if unit not in _UNITS:
        raise ScheduleError("rate", "a rate's unit is minutes, hours or days")
    if count < 1:
        raise ScheduleError("rate", "a rate is at least 1")
    if count * _UNITS[unit] > MAX_RATE_SECONDS:
        raise ScheduleError("rate", "a rate is at most 366 days")
    return count * _UNITS[unit]


def _check_cron(expression: str) -> list[str]:
    fields = expression.split()
    if len(expression) > MAX_CRON_LENGTH:  # EventBridge's expression limit, with cron(… ? *)
        raise ScheduleError("cron", f"a cron expression is at most {MAX_CRON_LENGTH} characters")
    if len(fields) != 5:
        raise ScheduleError("cron", "a cron expression has 5 fields: minute hour day month weekday")
    if _UNSUPPORTED.search(expression.upper()):
        raise ScheduleError("cron", "L, W, # and ? are not supported: use plain cron fields")
    if fields[2] != "*" and fields[4] != "*":
        raise ScheduleError("cron", "restrict either the day of month or the day of week, not both")
    if any(int(number) > 59 for number in _ANY_NUMBER.findall(expression)):
        raise ScheduleError("cron", "numbers in a cron expression are at most 59")
    try:
        CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC))
    except (CronSimError, ValueError, OverflowError) as exc:
        raise ScheduleError("cron", f"invalid cron expression: {exc}") from exc
    return fields


def _aws_weekdays(field: str) -> str:
    """Cron weekday numbers (0-7, 0 and 7 = Sunday) as names, which EventBridge reads the
    same way (its numbers start at 1 = Sunday). A step (`/2`) keeps its number."""
    head, slash, step = field.partition("/")
    named = _DOW_NUMBER.sub(lambda m: _DOW_NAMES[int(m.group()) % 8], head)
    return named + slash + step


@dataclass(frozen=True)
class Recurrence:
    """A parsed schedule: `cron` (5 fields, in `timezone`) or a rate of `period` seconds."""

    kind: Literal["cron", "rate"]
    cron: str | None
    period: int | None
    timezone: str

    @classmethod
    def parse(cls, *, cron: str | None, rate: str | None, timezone: str = "UTC") -> Recurrence:
        """Exactly one of `cron` and `rate` (ScheduleError naming the field otherwise)."""
        if (cron is None) == (rate is None):
            raise ScheduleError("cron", "give exactly one of cron or rate")
        zone(timezone)
        if cron is not None:
            return cls("cron", " ".join(_check_cron(cron)), None, timezone)
        assert rate is not None
        return cls("rate", None, rate_seconds(rate), timezone)

    def next_after(self, moment: datetime) -> datetime:
        """The first fire time strictly after `moment` (aware), in UTC."""
        if self.period is not None:
            epoch = int(moment.timestamp())
            return datetime.fromtimestamp((epoch // self.period + 1) * self.period, UTC)
        assert self.cron is not None
        local = moment.astimezone(zone(self.timezone)).replace(microsecond=0)
        for fire in CronSim(self.cron, local):
            if fire > moment:
                return fire.astimezone(UTC)
        raise ScheduleError("cron", "the cron expression never fires")  # pragma: no cover

    def latest_until(self, moment: datetime) -> datetime:
        """The newest fire time at or before `moment` (aware), in UTC: what is due now.
        One step whatever the gap since the last fire (a week asleep is not 10,080 steps)."""
        if self.period is not None:
            epoch = int(moment.timestamp())
            return datetime.fromtimestamp(epoch // self.period * self.period, UTC)
        assert self.cron is not None
        # cronsim's reverse iteration starts strictly before its start: one second after.
        local = moment.astimezone(zone(self.timezone)).replace(microsecond=0)
        for fire in CronSim(self.cron, local + timedelta(seconds=1), reverse=True):
            return fire.astimezone(UTC)
        raise ScheduleError("cron", "the cron expression never fired")  # pragma: no cover

    def min_gap_seconds(self, start: datetime) -> float:
        """The shortest time between two fire times (over about a day's slots from `start`)."""
        if self.period is not None:
            return float(self.period)
        assert self.cron is not None
        local = start.astimezone(zone(self.timezone)).replace(microsecond=0)
        # Compared in UTC: aware datetimes of one zone subtract as wall-clock times.
        fires = (fire.astimezone(UTC) for fire in CronSim(self.cron, local))
        first = previous = next(fires)
        gaps: list[float] = []
        for _ in range(INTERVAL_PROBES):
            following = next(fires)
            gaps.append((following - previous).total_seconds())
            if following - first > timedelta(days=8):
                break
            previous = following
        return min(gaps)

    def check_interval(self, minimum_seconds: float, now: datetime) -> None:
        """ScheduleError when fire times come closer together than `minimum_seconds`."""
        if self.min_gap_seconds(now) < minimum_seconds:
            raise ScheduleError(
                self.kind, f"fires more often than every {int(minimum_seconds)} seconds"
            )

    def aws_expression(self) -> str:
        """The EventBridge Scheduler expression for the same fire times."""
        if self.period is not None:
            for unit, seconds in (("day", 86400), ("hour", 3600), ("minute", 60)):
                if self.period % seconds == 0:
                    count = self.period // seconds
                    return f"rate({count} {unit}{'s' if count != 1 else ''})"
        assert self.cron is not None
        minute, hour, dom, month, dow = self.cron.upper().split()
        if dow == "*":
            dom_aws, dow_aws = dom, "?"
        else:
            dom_aws, dow_aws = "?", _aws_weekdays(dow)
        return f"cron({minute} {hour} {dom_aws} {month} {dow_aws} *)"


def schedule_name(task_id: str) -> str:
    """The EventBridge schedule of a task (one per task, in the stack's group)."""
    return f"{SCHEDULE_NAME_PREFIX}{task_id}"


def task_of_schedule(name: str) -> str | None:
    return (
        name.removeprefix(SCHEDULE_NAME_PREFIX) if name.startswith(SCHEDULE_NAME_PREFIX) else None
    )


def parse_fire_time(text: str) -> datetime:
    """A fire time as the scheduler sends it (`<aws.scheduler.scheduled-time>`, ISO 8601)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ScheduleError("scheduledTime", f"not an ISO 8601 time: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def fire_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def client_request_id(task_id: str, fire_time: datetime) -> str:
    """The run's `clientRequestId` for one fire time of a task's schedule: a retried
    invocation (the scheduler's retry, or the local cloud after a crash) finds the run the
    first one created instead of starting a second. The hash keeps it short and opaque."""
    digest = hashlib.sha256(f"{task_id}|{fire_iso(fire_time)}".encode()).hexdigest()[:16]
    return f"{CLIENT_REQUEST_PREFIX}{fire_iso(fire_time)}:{digest}"
