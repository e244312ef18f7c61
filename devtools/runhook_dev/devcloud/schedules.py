"""Schedules, locally: SAM `Schedule`/`ScheduleV2` events and the functions' start-up calls.

On AWS an EventBridge rule (or Scheduler) invokes the function asynchronously every
`rate(...)`; here `Scheduler`, one thread, does the same through the local Lambda's
async queue (retries and destinations included) with the event EventBridge sends
(`Scheduled Event`, or the event's `Input`). `cron(...)` expressions are not emulated
(a warning at deploy says so).

A function may also ask to be invoked once right after the local cloud starts, with a
given event, through its template Metadata::

    Metadata:
      LocalCloud:
        InvokeOnStart: { afterRestart: true }

AWS ignores that key. The local cloud needs it because its moto state (executions, queue
messages) lives in memory: after a restart on the same state directory only DynamoDB's
data is left, and the sweeper (SweeperFunction) must pick the runs and deliveries up at
once instead of at its next round. The start-up calls run in the scheduler's thread,
synchronously and in template order, before the first scheduled round.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runhook_dev.devcloud.background import BackgroundLoop
from runhook_dev.devcloud.cfn import ACCOUNT_ID, REGION
from runhook_dev.devcloud.deployment import ScheduleSpec, StartupCall

if TYPE_CHECKING:
    from runhook_dev.devcloud.async_invoke import AsyncInvoker
    from runhook_dev.devcloud.deployer import Deployer
    from runhook_dev.devcloud.registry import FunctionRegistry, LocalFunction

log = logging.getLogger("devcloud.schedules")

SCHEDULE_EVENTS = ("Schedule", "ScheduleV2")
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """The period of a `rate(N unit)` expression in seconds; None for anything else (cron)."""
    match = _RATE.match(expression.strip())
    if match is None:
        return None
    count, unit = int(match.group(1)), match.group(2).rstrip("s")
    return float(count * _UNIT_SECONDS[unit]) if count > 0 else None


def scheduled_event(rule_name: str) -> dict[str, Any]:
    """What an EventBridge schedule rule sends its Lambda target."""
    from runhook.clock import now_iso

    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": now_iso(),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }


def wire_schedule(
    deployer: Deployer,
    function: LocalFunction,
    logical_id: str,
    event_name: str,
    props: Mapping[str, Any],
) -> None:
    """A function's `Schedule`/`ScheduleV2` event → a `ScheduleSpec` of the deployment."""
    if props.get("Enabled") in (False, "false") or props.get("State") == "DISABLED":
        return
    expression = str(props.get("Schedule") or props.get("ScheduleExpression") or "")
    period = rate_seconds(expression)
    if period is None:
        deployer.warn(
            f"function {logical_id}: event {event_name}: schedule {expression!r} is not "
            "emulated (only rate(...) is)"
        )
        return
    given = props.get("Input")
    deployer.out.schedules.append(
        ScheduleSpec(
            function=function.name,
            name=str(props.get("Name") or f"{deployer.stack_name}-{logical_id}-{event_name}"),
            expression=expression,
            period_seconds=period,
            input=json.loads(given) if isinstance(given, str) else None,
        )
    )


def wire_startup(deployer: Deployer, function: LocalFunction, logical_id: str) -> None:
    """`Metadata.LocalCloud.InvokeOnStart` → a `StartupCall` of the deployment."""
    metadata = deployer.resource(logical_id).get("Metadata") or {}
    local = metadata.get("LocalCloud") or {}
    if "InvokeOnStart" in local:
        deployer.out.startup_calls.append(StartupCall(function.name, local["InvokeOnStart"]))


class Scheduler(BackgroundLoop):
    """One thread: the start-up calls at once, then every schedule at its period."""

    thread_name = "schedules"

    def __init__(
        self,
        registry: FunctionRegistry,
        invoker: AsyncInvoker,
        schedules: list[ScheduleSpec],
        startup_calls: list[StartupCall],
    ) -> None:
        super().__init__()
        self.registry = registry
        self.invoker = invoker
        self.schedules = list(schedules)
        self.startup_calls = list(startup_calls)
        self.startup_results: dict[str, Any] = {}  # function name → what it answered
        self.started_up = threading.Event()  # set once the start-up calls are done

    def start(self) -> None:
        if not self.schedules and not self.startup_calls:
            self.started_up.set()
            return
        super().start()

    def _run(self) -> None:
        try:
            for call in self.startup_calls:
                if self._stop.is_set():
                    return
                self._call_at_start(call)
        finally:
            self.started_up.set()
        self._rounds()

    def _call_at_start(self, call: StartupCall) -> None:
        function = self.registry.get(call.function)
        if function is None:
            log.warning("start-up call: no function %s", call.function)
            return
        result = self.registry.invoke(function, call.event)
        self.startup_results[call.function] = result.payload
        if result.error:
            log.warning("start-up call of %s failed: %s", call.function, result.payload)
        else:
            log.info("start-up call of %s: %s", call.function, json.dumps(result.payload))

    def _rounds(self) -> None:
        """Invoke each schedule's function every period (the first round one period in)."""
        import time

        due = {spec.name: time.monotonic() + spec.period_seconds for spec in self.schedules}
        while self.schedules:
            wake = min(due.values())
            if self._stop.wait(max(0.0, wake - time.monotonic())):
                return
            now = time.monotonic()
            for spec in self.schedules:
                if due[spec.name] <= now:
                    due[spec.name] = now + spec.period_seconds
                    self._fire(spec)

    def _fire(self, spec: ScheduleSpec) -> None:
        function = self.registry.get(spec.function)
        if function is None:
            log.warning("schedule %s: no function %s", spec.name, spec.function)
            return
        event = spec.input if spec.input is not None else scheduled_event(spec.name)
        self.invoker.submit(function, event)
