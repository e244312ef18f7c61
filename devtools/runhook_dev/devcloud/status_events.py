"""Step Functions "Execution Status Change" events, which moto never emits.

`ExecutionStatusEmitter` polls the watched state machines for executions that FAILED,
TIMED_OUT or were ABORTED and puts the AWS-shaped event (source `aws.states`) on the
default bus, once per execution: what the reconciler's rule matches on AWS.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("devcloud")

ClientFactory = Callable[[str], Any]

SOURCE = "aws.states"
DETAIL_TYPE = "Step Functions Execution Status Change"
ENDED_BADLY = ("FAILED", "TIMED_OUT", "ABORTED")


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


class ExecutionStatusEmitter:
    """A thread that emits the status change events of the watched state machines."""

    def __init__(self, new_client: ClientFactory, interval: float) -> None:
        self.new_client = new_client
        self.interval = interval
        self._machines: set[str] = set()
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, arn: str) -> None:
        self._machines.add(arn)

    def start(self) -> None:
        """Start polling (not when the interval is 0 or less)."""
        if self.interval <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="sfn-status-events", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        sfn = self.new_client("stepfunctions")
        events = self.new_client("events")
        while not self._stop.wait(self.interval):
            for arn in sorted(self._machines):
                for status in ENDED_BADLY:
                    self._emit_new(sfn, events, arn, status)

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
