"""Benchmark 5: the cost model. Count every AWS call a run makes, price it per million runs.

A `CallRecorder` is hooked into botocore before the local cloud starts, so it sees every
call of every handler (they all run in this process), the Lambda invocations of the local
registry (timed) and the requests to the API. One run at a time, each recorded from its
`POST /tasks/{id}/runs` until the run is over and nothing billed has happened for 2.5 s
(webhooks delivered). Scenarios:

- A: 5 compute steps, no webhook endpoint;
- B: the same with one webhook endpoint subscribed to every event (a local receiver);
- C: an approval task (transform, approval, log) with that endpoint; the approval is
  answered with `POST /task-runs/{id}/resume` as soon as the run waits;
- AX, BX: A and B with a 120 s timeout, which the routing rule sends to the Express machine
  (issue 16), so table 5b puts Standard and Express side by side from the same run.

Express is billed per execution started and per GB-second (duration rounded up to 100 ms,
64 MB for runhook's small state): the duration is the local execution's start to stop
(moto's DescribeExecution), a proxy like the Lambda durations. Express keeps no history of
its own: its log group gets one event per history event that the machine's log level logs
(template.yaml's `ExpressLogLevel` default, ERROR: failure events only; `logs_event`),
each `EXPRESS_LOG_BYTES_PER_EVENT` (an estimate of one JSON event without execution data),
counted as CloudWatch Logs bytes.

Billed quantities (see `benchmarks.calls.usage`): DynamoDB read/write units as DynamoDB
Local reports them (ReturnConsumedCapacity=INDEXES, so GSI writes count), Step Functions
transitions from GetExecutionHistory (states entered), Lambda requests and GB-seconds
(measured wall time of each invocation here, rounded up to the ms, at the function's
MemorySize), EventBridge events, SQS requests (empty long polls are a fixed cost of the
queue, not per run, and are left out), API Gateway requests, CloudWatch Logs bytes (what
the handlers wrote, plus Lambda's START/END/REPORT lines). Prices: benchmarks/prices.json.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from benchmarks import calls, stats
from benchmarks.calls import CallRecorder, Recording, Usage
from benchmarks.localcloud import (
    TERMINAL,
    BenchCloud,
    Receiver,
    approval_task,
    compute_task,
)
from benchmarks.pricing import line_items, load_prices, share, total_per_million
from benchmarks.table import Table, usd

PLATFORM_LOG_BYTES = 300  # Lambda's START, END and REPORT lines per invocation
QUIET_SECONDS = 2.5
EXPRESS_TIMEOUT_SECONDS = 120  # fits Express (runhook.engine.routing: <= 240 s)
EXPRESS_MEMORY_GB = 64 / 1024  # billed in 64 MB chunks; runhook's state is a few hundred bytes
EXPRESS_LOG_BYTES_PER_EVENT = 400  # one logged execution event, no execution data (an estimate)
GOALS = {"A": 20.0, "B": 40.0}  # issue 16: $ per 1M runs on Express
RUN_ENDS = ("task-run.completed", "task-run.failed", "task-run.cancelled")  # scenario DX

# The execution event types that the levels ERROR and FATAL log (ALL logs every type, OFF
# none), from the Step Functions developer guide's table "Log levels for Step Functions
# execution events" (docs.aws.amazon.com/step-functions/latest/dg/cloudwatch-log-level.html).
FATAL_EVENT_TYPES = frozenset({"ExecutionAborted", "ExecutionFailed", "ExecutionTimedOut"})
ERROR_EVENT_TYPES = FATAL_EVENT_TYPES | frozenset(
    {
        "FailStateEntered",
        "LambdaFunctionFailed",
        "LambdaFunctionScheduleFailed",
        "LambdaFunctionStartFailed",
        "LambdaFunctionTimedOut",
        "MapIterationAborted",
        "MapIterationFailed",
        "MapStateAborted",
        "MapStateFailed",
        "ParallelStateAborted",
        "ParallelStateFailed",
        "TaskFailed",
        "TaskStartFailed",
        "TaskStateAborted",
        "TaskSubmitFailed",
        "TaskTimedOut",
        "WaitStateAborted",
    }
)
LOG_LEVELS = ("ALL", "ERROR", "FATAL", "OFF")
_LOGGED_TYPES = {"ERROR": ERROR_EVENT_TYPES, "FATAL": FATAL_EVENT_TYPES, "OFF": frozenset()}


def logs_event(level: str, event_type: str) -> bool:
    """Whether a state machine logging at `level` sends an execution history event of this
    type to its log group."""
    if level not in LOG_LEVELS:
        raise ValueError(f"unknown Step Functions log level {level!r} (one of {LOG_LEVELS})")
    return level == "ALL" or event_type in _LOGGED_TYPES[level]


def express_log_level() -> str:
    """The Express machine's `Logging.Level` as deployed with template.yaml's defaults (as
    the benchmarks' local cloud deploys it: localcloud.deployed_parameters)."""
    from runhook_dev.devcloud.cfn import Resolver, load_template, parameter_defaults
    from runhook_dev.devcloud.options import CloudOptions

    template = load_template(CloudOptions().template_path)
    logging = template["Resources"]["ExpressRunStateMachine"]["Properties"]["Logging"]

    def no_resource(*args: str) -> Any:
        raise ValueError(f"ExpressRunStateMachine's Logging.Level names a resource: {args}")

    resolver = Resolver(template, parameter_defaults(template), no_resource, no_resource)
    level = str(resolver.resolve(logging.get("Level", "OFF")))
    if level not in LOG_LEVELS:
        raise ValueError(f"ExpressRunStateMachine logs at {level!r}, not one of {LOG_LEVELS}")
    return level


@dataclass
class Scenario:
    key: str
    label: str
    task: dict[str, Any]
    approval: bool = False
    webhook: bool = False
    # An endpoint of its own task and these event types only (None: the org-wide endpoint
    # of every event that B, BX and C share).
    endpoint_events: list[str] | None = None
    usages: list[Usage] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)
    expected_transitions: int | None = None
    engines: set[str] = field(default_factory=set)  # what the runs said (run.engine)
    # Express runs: the machine's log level, and per run (events logged, history events).
    log_level: str = ""
    express_log_events: list[tuple[int, int]] = field(default_factory=list)

    def mean(self) -> Usage:
        total = Usage()
        for usage in self.usages:
            total = _add(total, usage)
        return total.scaled(1 / len(self.usages)) if self.usages else total


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(
        **{
            name: getattr(a, name) + getattr(b, name)
            for name in Usage.__dataclass_fields__  # type: ignore[attr-defined]
        }
    )


def _expected(task: dict[str, Any]) -> int | None:
    try:
        from runhook.engine.plan import expected_transitions
    except ImportError:
        return None
    return int(expected_transitions([str(s["type"]) for s in task["steps"]]))


def _one_run(
    bench: BenchCloud, recorder: CallRecorder, scenario: Scenario, task_id: str, log_level: str
) -> None:
    recorder.wait_quiet(QUIET_SECONDS, timeout=30)
    with recorder.recording() as recording:
        run_id = bench.start_run(task_id, counted=True)
        if scenario.approval:
            bench.wait_waiting(run_id)
            bench.resume(run_id, counted=True)
        state = bench.wait_for(run_id, TERMINAL, timeout=120)
        if state["status"] != "COMPLETED":
            raise RuntimeError(f"{scenario.label}: run {run_id} ended {state['status']}")
        recorder.wait_quiet(QUIET_SECONDS, timeout=60)
    api = bench.cloud.registry.get("ApiFunction")
    with CallRecorder.ignored():  # the run as stored: which machine drove it
        stored = bench.container.runs.get(run_id)
    engine = str(getattr(stored, "engine", "standard"))
    scenario.engines.add(engine)
    scenario.recordings.append(recording)
    usage = calls.usage(
        recording,
        transitions=0 if engine == "express" else bench.transitions(run_id),
        api_memory_mb=int(getattr(api, "memory_mb", 1024) or 1024),
        platform_log_bytes_per_invocation=PLATFORM_LOG_BYTES,
    )
    if engine == "express":
        usage, logged, events = _express_usage(bench, run_id, usage, log_level)
        scenario.log_level = log_level
        scenario.express_log_events.append((logged, events))
    scenario.usages.append(usage)


def _express_usage(
    bench: BenchCloud, run_id: str, usage: Usage, log_level: str
) -> tuple[Usage, int, int]:
    """One Express request, its billed duration and its log group's events (those
    `log_level` logs); also how many were logged of how many history events."""
    sfn = bench.cloud.client("stepfunctions")
    deployment = bench.cloud.deployment
    assert deployment is not None  # the cloud is started
    machine = deployment.state_machines["ExpressRunStateMachine"]
    with CallRecorder.ignored():
        listed = sfn.list_executions(stateMachineArn=machine, maxResults=1000)["executions"]
        arn = next(e["executionArn"] for e in listed if e["name"] == run_id)
        described = sfn.describe_execution(executionArn=arn)
        history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    seconds = (described["stopDate"] - described["startDate"]).total_seconds()
    billed = math.ceil(seconds * 10) / 10  # rounded up to 100 ms
    logged = sum(1 for event in history if logs_event(log_level, str(event["type"])))
    usage = replace(
        usage,
        sfn_express_requests=usage.sfn_express_requests + 1,
        sfn_express_gb_seconds=usage.sfn_express_gb_seconds + billed * EXPRESS_MEMORY_GB,
        log_bytes=usage.log_bytes + EXPRESS_LOG_BYTES_PER_EVENT * logged,
    )
    return usage, logged, len(history)


def _express(task: dict[str, Any]) -> dict[str, Any]:
    return {**task, "name": task["name"] + " (Express)", "timeoutSeconds": EXPRESS_TIMEOUT_SECONDS}


def measure(repeats: int, log_level: str) -> list[Scenario]:
    """The scenarios' runs; Express runs' log group at `log_level` (`express_log_level`)."""
    short = _express(compute_task(5))
    scenarios = [
        Scenario("A", "A: 5 compute steps, Standard", compute_task(5)),
        Scenario("AX", "AX: 5 compute steps, Express", short),
        Scenario(
            "B", "B: 5 compute steps + 1 webhook endpoint, Standard", compute_task(5), webhook=True
        ),
        Scenario("BX", "BX: 5 compute steps + 1 webhook endpoint, Express", short, webhook=True),
        Scenario("C", "C: approval + 1 webhook endpoint", approval_task(), True, True),
        # Last, once the org-wide endpoint is gone: a realistic receiver of run ends only.
        Scenario(
            "DX",
            "DX: 5 compute steps + 1 endpoint of run ends only, Express",
            {**short, "name": short["name"] + ", run ends"},
            webhook=True,
            endpoint_events=list(RUN_ENDS),
        ),
    ]
    recorder = CallRecorder()
    recorder.count_stdout()  # before any handler is imported (Powertools keeps the stream)
    with BenchCloud(recorder=recorder) as bench, Receiver() as receiver:
        tasks = {}
        for scenario in scenarios:
            scenario.expected_transitions = _expected(scenario.task)
            key = scenario.task["name"]
            if key not in tasks:
                tasks[key] = bench.create_task(scenario.task)
            # Warm-up run (not recorded): imports, first connections.
            warm = bench.start_run(tasks[key])
            if scenario.approval:
                bench.wait_waiting(warm)
                bench.resume(warm)
            bench.wait_for(warm, TERMINAL, timeout=120)
        endpoint = None
        for scenario in scenarios:
            key = scenario.task["name"]
            if scenario.endpoint_events is not None:
                if endpoint is not None:  # the org-wide one would hear this task too
                    bench.unsubscribe(endpoint)
                    endpoint = None
                bench.subscribe(receiver.url, events=scenario.endpoint_events, task_id=tasks[key])
            elif scenario.webhook and endpoint is None:
                endpoint = bench.subscribe(receiver.url)
            for _ in range(repeats):
                _one_run(bench, recorder, scenario, tasks[key], log_level)
    return scenarios


_SERVICE_NAMES = {
    "stepfunctions": "Step Functions",
    "dynamodb": "DynamoDB",
    "events": "EventBridge",
}

_PerOperation = dict[tuple[str, str], dict[str, float]]


def _calls_table(scenarios: list[Scenario]) -> Table:
    columns = ["service", "operation"] + [f"{s.key}: per run" for s in scenarios]
    table = Table(
        title="5a. Cost model: AWS calls per run, by service and operation (mean of the runs)",
        columns=columns,
    )
    _add_operation_rows(table, scenarios)
    _add_usage_rows(table, scenarios)
    table.notes.append(
        "Scenarios: " + "; ".join(s.label for s in scenarios) + ". Webhook endpoint: one, "
        "subscribed to every event, at a local receiver answering 204 (DX: one of its task's "
        "run ends only). The template's "
        "defaults as deployed: RunEventsOnBus=subscribed (only run events an endpoint "
        "routes go on the bus; docs/outbox.md)."
    )
    table.notes.append(
        "Left out as local-only: the SQS shim queues standing in for EventBridge → Lambda "
        "targets, the emulated Step Functions status-change events, and the benchmark's own "
        "reads. Durations: wall time of each invocation in the local cloud on this machine "
        "(x86, Python 3.11, shared CPUs) as a proxy for arm64 Lambda's billed duration."
    )
    return table


def _per_run_by_operation(scenarios: list[Scenario]) -> tuple[_PerOperation, _PerOperation]:
    """(calls, capacity units) per run of each (service, operation), by scenario key.

    Empty SQS receives are left out of the calls: idle polling is a cost of the queue.
    """
    per: _PerOperation = defaultdict(dict)
    units: _PerOperation = defaultdict(dict)
    for scenario in scenarios:
        totals: dict[tuple[str, str], float] = defaultdict(float)
        capacity: dict[tuple[str, str], float] = defaultdict(float)
        for recording in scenario.recordings:
            for key, op in calls.by_operation(recording.calls).items():
                idle = op.empty if key == ("sqs", "ReceiveMessage") else 0
                totals[key] += op.calls - idle
                capacity[key] += op.read_units + op.write_units
        runs = max(1, len(scenario.recordings))
        for key, value in totals.items():
            per[key][scenario.key] = value / runs
            units[key][scenario.key] = capacity[key] / runs
    return per, units


def _add_operation_rows(table: Table, scenarios: list[Scenario]) -> None:
    """One row per (service, operation); DynamoDB's cells also give the capacity units."""
    per, units = _per_run_by_operation(scenarios)
    for (service, operation), values in sorted(per.items()):
        note = ""
        if service == "lambda" and operation == "Invoke":
            note = " (by the state machine)"
        if service == "dynamodb":
            kind = "RRU" if operation in calls.DYNAMODB_READS else "WRU"
            note = f" (calls, {kind})"
            cells = [
                f"{_num(values.get(s.key, 0.0))}, {_num(round(units[(service, operation)].get(s.key, 0.0), 1))}"
                for s in scenarios
            ]
        else:
            cells = [_num(values.get(s.key, 0.0)) for s in scenarios]
        table.add(
            _SERVICE_NAMES.get(service, service.upper() if service in {"sqs"} else service),
            operation + note,
            *cells,
        )


def _add_usage_rows(table: Table, scenarios: list[Scenario]) -> None:
    """The "=" rows: each scenario's mean billed usage, then invocations by function."""

    def row(label: str, value: Callable[[Scenario, Usage], str]) -> None:
        table.add("=", label, *[value(s, s.mean()) for s in scenarios])

    row("DynamoDB read units (RRU)", lambda s, u: _num(u.dynamodb_rru))
    row("DynamoDB write units (WRU)", lambda s, u: _num(u.dynamodb_wru))
    row("  of which estimated (refused writes)", lambda s, u: _num(u.dynamodb_estimated))
    row(
        "Step Functions transitions (planned)",
        lambda s, u: f"{u.sfn_transitions} ({s.expected_transitions})",
    )
    row("EventBridge events", lambda s, u: str(u.eventbridge_events))
    row("SQS requests (idle polls left out)", lambda s, u: str(u.sqs_requests))
    row("API Gateway requests", lambda s, u: str(u.api_requests))
    row("  AWS calls made by the API", lambda s, u: _num(round(_api_calls(s), 1)))
    row("Lambda invocations (incl. API)", lambda s, u: str(u.lambda_requests))
    functions = sorted({i.function for s in scenarios for r in s.recordings for i in r.invocations})
    for function in functions:
        table.add(
            "=",
            f"  {function.replace('runhook-local-', '')}: count x p50 ms (CPU)",
            *[_invocations(s, function) for s in scenarios],
        )
    table.add("=", "  api: requests x p50 ms", *[_api(s) for s in scenarios])
    row("Lambda GB-seconds", lambda s, u: f"{u.lambda_gb_seconds:.4f}")
    row("log bytes (CloudWatch Logs)", lambda s, u: f"{u.log_bytes:,}")


def _num(value: float) -> str:
    return f"{value:.1f}" if value != int(value) else str(int(value))


def _invocations(scenario: Scenario, function: str) -> str:
    chosen = [i for r in scenario.recordings for i in r.invocations if i.function == function]
    if not chosen:
        return "-"
    count = len(chosen) / max(1, len(scenario.recordings))
    wall = stats.median([i.duration_ms for i in chosen])
    cpu = stats.median([i.cpu_ms for i in chosen])
    return f"{_num(round(count, 1))} x {wall:.0f} ({cpu:.0f})"


def _api_calls(scenario: Scenario) -> float:
    made = sum(1 for r in scenario.recordings for c in r.calls if c.origin == calls.API)
    return made / max(1, len(scenario.recordings))


def _api(scenario: Scenario) -> str:
    durations = [a.duration_ms for r in scenario.recordings for a in r.api_requests]
    if not durations:
        return "-"
    count = len(durations) / max(1, len(scenario.recordings))
    return f"{_num(round(count, 1))} x {stats.median(durations):.0f}"


def _comparison_table(scenarios: list[Scenario]) -> Table:
    """Standard and Express side by side, from the same run, with issue 16's goals."""
    prices = load_prices()
    by_key = {s.key: s for s in scenarios}
    table = Table(
        title="5b. $ per 1M runs: Standard vs Express (same run, same prices file)",
        columns=["runs", "Standard", "Express", "Express / Standard", "goal (Express)"],
    )
    for key, label in (("A", "5 compute steps"), ("B", "5 compute steps + 1 webhook endpoint")):
        standard = total_per_million(line_items(by_key[key].mean(), prices))
        express = total_per_million(line_items(by_key[key + "X"].mean(), prices))
        goal = GOALS[key]
        verdict = "met" if express <= goal else "NOT met"
        ratio = f"{express / standard:.2f}x" if standard else "-"
        table.add(label, usd(standard), usd(express), ratio, f"<= {usd(goal)}: {verdict}")
    if "DX" in by_key:
        ends = total_per_million(line_items(by_key["DX"].mean(), prices))
        table.add(
            "5 compute steps + 1 endpoint of run ends only", "-", usd(ends), "-", "(see the note)"
        )
        table.notes.append(
            "The last row is not a goal's scenario: its endpoint subscribes to "
            + ", ".join(RUN_ENDS)
            + " of its task only, so the run's other events stay off the bus "
            "(RunEventsOnBus=subscribed); the ≤ $40 goal's endpoint hears every event (the "
            "row above)."
        )
    engines = {s.key: ",".join(sorted(s.engines)) for s in scenarios}
    table.notes.append(
        "Engines the runs reported (run.engine): "
        + "; ".join(f"{k} {v}" for k, v in engines.items())
        + f". Express: a {EXPRESS_TIMEOUT_SECONDS} s timeout and no approval "
        "(runhook.engine.routing); details in the tables below."
    )
    logged = [s for s in scenarios if s.express_log_events]
    if logged:
        table.notes.append(
            f"Express's log group is counted at the machine's log level, {logged[0].log_level} "
            "(template.yaml's ExpressLogLevel default): only the history events that level "
            f"logs, {EXPRESS_LOG_BYTES_PER_EVENT} bytes each; logged of the history's events "
            "per run: " + "; ".join(f"{s.key} {_express_log_share(s)}" for s in logged) + "."
        )
    return table


def _express_log_share(scenario: Scenario) -> str:
    """'<logged> of <history events>' per run (means over the Express runs)."""
    runs = max(1, len(scenario.express_log_events))
    logged = sum(logged for logged, _ in scenario.express_log_events) / runs
    events = sum(events for _, events in scenario.express_log_events) / runs
    return f"{_num(round(logged, 1))} of {_num(round(events, 1))}"


def _cost_table(scenario: Scenario, letter: str) -> Table:
    prices = load_prices()
    items = line_items(scenario.mean(), prices)
    table = Table(
        title=f"5{letter}. Cost per million runs, {scenario.label} (biggest first)",
        columns=["line item", "per run", "list price", "$ per 1M runs", "share"],
    )
    for item in items:
        quantity = item.quantity
        if item.key == "logs_ingested_gb":
            per_run = f"{quantity * 1024**2:,.1f} KB"
        elif item.key == "lambda_gb_second":
            per_run = f"{quantity:.4f} GB-s"
        elif item.key == "sfn_express_gb_hour":
            per_run = f"{quantity * 3600:.4f} GB-s"
        else:
            per_run = _num(round(quantity, 2))
        table.add(
            item.label,
            per_run,
            item.price.describe(),
            usd(item.per_million_runs),
            f"{share(item, items) * 100:.1f}%",
        )
    table.add("total", "", "", usd(total_per_million(items)), "100.0%")
    usage = scenario.mean()
    duration = prices["lambda_gb_second"]
    cpu_cost = usage.lambda_gb_seconds_cpu * duration.unit_price * 1_000_000
    table.notes.append(
        f"Lambda duration is priced on wall time measured here, which includes waiting for "
        f"this machine's CPUs and for the emulators; on CPU time alone, stretched to Lambda's "
        f"CPU share at each function's memory (1,769 MB = 1 vCPU), it would be "
        f"{usage.lambda_gb_seconds_cpu:.4f} GB-s = {usd(cpu_cost)} per 1M runs (API requests "
        f"stay at wall time)."
    )
    if scenario.express_log_events:
        runs = len(scenario.express_log_events)
        events = sum(events for _, events in scenario.express_log_events) / runs
        every = events * EXPRESS_LOG_BYTES_PER_EVENT / 1024
        table.notes.append(
            f"CloudWatch Logs includes the Express machine's log group at level "
            f"{scenario.log_level} (template.yaml's ExpressLogLevel default): "
            f"{_express_log_share(scenario)} history events per run, "
            f"{EXPRESS_LOG_BYTES_PER_EVENT} bytes each (an estimate); ALL would log every one, "
            f"{every:,.1f} KB per run."
        )
    table.notes.append(prices.caption())
    return table


def run(quick: bool = False) -> list[Table]:
    repeats = 2 if quick else 3
    scenarios = measure(repeats, express_log_level())
    details = [_cost_table(s, "cdefgh"[i]) for i, s in enumerate(scenarios)]
    tables = [_calls_table(scenarios), _comparison_table(scenarios), *details]
    tables[-1].notes.append(
        "Not modelled: free tiers, X-Ray traces of the state machine (sampled; the functions do not trace), CloudWatch "
        "metrics, DynamoDB storage/PITR/streams, data transfer, idle SQS polling by the "
        "event source mapping (a fixed cost per queue, not per run), clients polling GET run."
    )
    return tables
