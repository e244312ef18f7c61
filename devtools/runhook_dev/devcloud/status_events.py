"""Step Functions "Execution Status Change" events, which moto never emits.

`ExecutionStatusEmitter` polls the watched state machines for executions that FAILED,
TIMED_OUT or were ABORTED and puts the AWS-shaped event (source `aws.states`) on the
default bus, once per execution: what the reconciler's rule matches on AWS.

It polls only while executions run: every `interval` after activity (the dispatcher's
wake-up when an execution starts, stops, is called back or a Task invokes a function),
backing off to `RUNNING_CAP` while nothing happens (a run waiting for an approval), and
not at all (`IDLE_CAP`, a safety net) while no execution runs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from runhook_dev.devcloud.activity import Channel
from runhook_dev.devcloud.background import BackgroundLoop

log = logging.getLogger("devcloud")

ClientFactory = Callable[[str], Any]

SOURCE = "aws.states"
DETAIL_TYPE = "Step Functions Execution Status Change"
ENDED_BADLY = ("FAILED", "TIMED_OUT", "ABORTED")
RUNNING_CAP = 8.0  # the longest between polls while an execution runs and nothing happens
IDLE_CAP = 60.0  # ... and while none runs (only a safety net: a start wakes the emitter)


def _millis(value: Any) -> int | None:
    return int(value.timestamp() * 1000) if hasattr(value, "timestamp") else None


def status_change_entry(execution: Mapping[str, Any]) -> dict[str, Any]:
    """The PutEvents entry AWS would send for a DescribeExecution answer."""
    detail = {
        "executionArn": execution.get("executionArn"),
        "stateMachineArn": execution.get("stateMachineArn"),
        "name": execution.get("name"),
        "status": execution.get("status"),
        "startDate": _millis(execution.get("startDate")),
        "stopDate": _millis(execution.get("stopDate")),
        "input": execution.get("input"),
        "output": execution.get("output"),
        "error": execution.get("error"),
        "cause": execution.get("cause"),
    }
    return {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Resources": [str(detail["executionArn"])],
        "Detail": json.dumps(detail),
    }


class ExecutionStatusEmitter(BackgroundLoop):
    """A thread that emits the status change events of the watched state machines."""

    thread_name = "sfn-status-events"
    stop_timeout = 3.0

    def __init__(
        self, new_client: ClientFactory, interval: float, wake: Channel | None = None
    ) -> None:
        super().__init__(wake)  # None: poll every interval
        self.new_client = new_client
        self.interval = interval
        self._machines: set[str] = set()
        self._seen: set[str] = set()

    def watch(self, arn: str) -> None:
        self._machines.add(arn)

    def start(self) -> None:
        """Start polling (not when the interval is 0 or less)."""
        if self.interval <= 0:
            return
        super().start()

    def _run(self) -> None:
        sfn = self.new_client("stepfunctions")
        events = self.new_client("events")
        quiet = 0  # rounds since the last wake-up
        while not self._stop.wait(self.interval):
            generation = self.wake.generation() if self.wake is not None else 0
            for arn in sorted(self._machines):
                for status in ENDED_BADLY:
                    self._emit_new(sfn, events, arn, status)
            if self.wake is None:
                continue
            if self._any_running(sfn):
                patience = min(self.interval * 2**quiet, RUNNING_CAP)
            else:
                patience = IDLE_CAP
            woken = self.wake.wait(generation, max(0.0, patience - self.interval))
            quiet = 0 if woken else min(quiet + 1, 16)

    def _any_running(self, sfn: Any) -> bool:
        for arn in sorted(self._machines):
            try:
                page = sfn.list_executions(
                    stateMachineArn=arn, statusFilter="RUNNING", maxResults=1
                )
            except Exception:
                return True  # unknown: keep polling
            if page.get("executions"):
                return True
        return False

    def _emit_new(self, sfn: Any, events: Any, machine_arn: str, status: str) -> None:
        try:
            page = sfn.list_executions(
                stateMachineArn=machine_arn, statusFilter=status, maxResults=100
            )
        except Exception as exc:
            if not self._stop.is_set():
                log.debug("status poll failed: %s", exc)
            return
        for execution in page.get("executions") or []:
            if execution["executionArn"] in self._seen:
                continue
            self._seen.add(execution["executionArn"])
            try:
                described = sfn.describe_execution(executionArn=execution["executionArn"])
            except Exception:
                described = dict(execution)
            try:
                events.put_events(Entries=[status_change_entry(described)])
            except Exception as exc:
                log.warning(
                    "could not emit the status change of %s: %s", described.get("name"), exc
                )
