"""What the deployer created: names, URLs and ARNs by logical id, and the event sources."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from runhook_dev.devcloud.registry import LocalFunction
from runhook_dev.devcloud.streams import StreamSourceSpec


@dataclass(frozen=True)
class Queue:
    logical_id: str
    name: str
    url: str
    arn: str


@dataclass(frozen=True)
class SqsSourceSpec:
    """An SQS event source mapping of a function."""

    function: str  # function name
    event_name: str
    queue_url: str
    queue_arn: str
    batch_size: int
    report_batch_item_failures: bool
    maximum_concurrency: int


@dataclass(frozen=True)
class RuleShimSpec:
    """An EventBridge rule whose Lambda target is delivered through an SQS queue."""

    function: str
    rule_name: str
    bus_name: str
    queue_url: str
    queue_arn: str


@dataclass(frozen=True)
class ScheduleSpec:
    """A function's `Schedule`/`ScheduleV2` event with a `rate(...)` (schedules.py)."""

    function: str  # function name
    name: str  # the rule's name
    expression: str
    period_seconds: float
    input: Any = None  # the event's `Input` (parsed); None: EventBridge's "Scheduled Event"


@dataclass(frozen=True)
class StartupCall:
    """A function invoked once right after the local cloud starts (schedules.py)."""

    function: str
    event: Any


@dataclass
class Deployment:
    tables: dict[str, str] = field(default_factory=dict)  # logical id → table name
    queues: dict[str, Queue] = field(default_factory=dict)  # logical id → queue
    buses: dict[str, str] = field(default_factory=dict)  # logical id → bus name
    rules: dict[str, str] = field(default_factory=dict)  # logical id / fn.event → rule name
    state_machines: dict[str, str] = field(default_factory=dict)  # logical id → ARN
    functions: dict[str, LocalFunction] = field(default_factory=dict)  # logical id → function
    api_functions: list[str] = field(default_factory=list)  # logical ids with Api events
    environment: dict[str, str] = field(default_factory=dict)  # union of function variables
    sqs_sources: list[SqsSourceSpec] = field(default_factory=list)
    rule_shims: list[RuleShimSpec] = field(default_factory=list)
    schedules: list[ScheduleSpec] = field(default_factory=list)
    startup_calls: list[StartupCall] = field(default_factory=list)
    stream_sources: list[StreamSourceSpec] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def str_value(value: Any) -> str:
    """A template value as CloudFormation passes it to an API: a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
