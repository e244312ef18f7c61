"""Benchmark 4: run execution, end to end on the local cloud.

Wall time from `POST /tasks/{id}/runs` until DynamoDB says the run is COMPLETED (polled
every 10 ms), one run at a time, for a 5-step compute-only task and for a task with a 2 s
wait step. The first run of each task is a warm-up (handlers imported) and not kept.

Baseline, in the same cloud: a state machine of the same shape whose Task states invoke a
no-op Lambda (Task → Done; Task → Wait 2 s → Task → Done), started with StartExecution
and timed until SUCCEEDED. What is left after subtracting it is runhook's own work: the
API, the step function's reads and writes, events.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from benchmarks import stats
from benchmarks.localcloud import BenchCloud, compute_task, wait_task
from benchmarks.table import Table, ms, times

ROLE = "arn:aws:iam::123456789012:role/runhook-bench"
NOOP = "runhook-bench-noop"


def _noop(event: Any, context: Any) -> dict[str, Any]:
    return {"ok": True}


def _baseline_machine(arn: str, wait_seconds: int | None) -> dict[str, Any]:
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": arn, "Payload": {"action": "advance"}},
        "OutputPath": "$.Payload",
    }
    if wait_seconds is None:
        return {
            "StartAt": "Advance",
            "States": {"Advance": {**task, "Next": "Done"}, "Done": {"Type": "Succeed"}},
        }
    return {
        "StartAt": "Advance",
        "States": {
            "Advance": {**task, "Next": "Wait"},
            "Wait": {"Type": "Wait", "Seconds": wait_seconds, "Next": "Finish"},
            "Finish": {**task, "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }


def _time_execution(sfn: Any, machine: str, timeout: float = 60.0) -> float:
    started = time.perf_counter()
    arn = sfn.start_execution(stateMachineArn=machine, name=uuid.uuid4().hex, input="{}")[
        "executionArn"
    ]
    deadline = time.monotonic() + timeout
    while True:
        status = sfn.describe_execution(executionArn=arn)["status"]
        if status != "RUNNING":
            if status != "SUCCEEDED":
                raise RuntimeError(f"baseline execution ended {status}")
            return (time.perf_counter() - started) * 1000
        if time.monotonic() > deadline:
            raise TimeoutError("baseline execution did not finish")
        time.sleep(0.01)


def _time_run(bench: BenchCloud, task_id: str) -> float:
    started = time.perf_counter()
    run_id = bench.start_run(task_id)
    state = bench.wait_for(run_id, {"COMPLETED", "FAILED", "CANCELLED"}, timeout=120)
    if state["status"] != "COMPLETED":
        raise RuntimeError(f"run {run_id} ended {state['status']}")
    return (time.perf_counter() - started) * 1000


_Row = tuple[str, list[float], str, list[float]]  # task, its wall ms, baseline, its wall ms


def run(quick: bool = False) -> list[Table]:
    repeats = 3 if quick else 5
    return [_table(repeats, _measure(repeats))]


def _measure(repeats: int) -> list[_Row]:
    rows: list[_Row] = []
    with BenchCloud() as bench:
        sfn = bench.cloud.client("stepfunctions")
        machines = _baseline_machines(bench, sfn)
        cases = [
            ("5 compute steps", bench.create_task(compute_task(5)), "compute", "Task → Done"),
            (
                "log, wait 2 s, log",
                bench.create_task(wait_task(2)),
                "wait",
                "Task → Wait 2 s → Task → Done",
            ),
        ]
        for label, task_id, machine, shape in cases:
            ours, base = _interleaved(bench, sfn, task_id, machines[machine], repeats)
            rows.append((label, ours, f"no-op Lambda machine ({shape})", base))
    return rows


def _baseline_machines(bench: BenchCloud, sfn: Any) -> dict[str, str]:
    """The baseline state machines' ARNs by shape ("compute", "wait"), over a no-op Lambda."""
    cloud = bench.cloud
    cloud.register_function(NOOP, _noop)
    arn = cloud.function_arn(NOOP)
    machines = {}
    for label, wait in (("compute", None), ("wait", 2)):
        machines[label] = sfn.create_state_machine(
            name=f"runhook-bench-{label}-{uuid.uuid4().hex[:6]}",
            definition=json.dumps(_baseline_machine(arn, wait)),
            roleArn=ROLE,
        )["stateMachineArn"]
    return machines


def _interleaved(
    bench: BenchCloud, sfn: Any, task_id: str, machine: str, repeats: int
) -> tuple[list[float], list[float]]:
    """(our runs' wall ms, the baseline's), one of each in turn so both see the same load."""
    _time_run(bench, task_id)  # warm-up: imports the handlers
    _time_execution(sfn, machine)
    ours: list[float] = []
    base: list[float] = []
    for _ in range(repeats):
        ours.append(_time_run(bench, task_id))
        base.append(_time_execution(sfn, machine))
    return ours, base


def _table(repeats: int, rows: list[_Row]) -> Table:
    table = Table(
        title=f"4. Run execution, end to end on the local cloud (one run at a time, {repeats} runs)",
        columns=[
            "task",
            "wall ms (p50)",
            "min ms",
            "max ms",
            "baseline",
            "baseline ms (p50)",
            "ratio",
            "runhook's own ms",
        ],
    )
    for label, ours, base_label, base in rows:
        table.add(
            label,
            ms(stats.median(ours), 0),
            ms(min(ours), 0),
            ms(max(ours), 0),
            base_label,
            ms(stats.median(base), 0),
            times(stats.ratio(stats.median(ours), stats.median(base))),
            ms(stats.median(ours) - stats.median(base), 0),
        )
    table.notes.append(
        "wall ms: POST /tasks/{id}/runs until the run is COMPLETED in DynamoDB (polled every "
        "10 ms). Baseline: StartExecution of a machine of the same shape whose Tasks invoke a "
        "no-op Lambda, until SUCCEEDED (polled every 10 ms)."
    )
    table.notes.append(
        "Everything (API, moto's interpreter, handlers, DynamoDB Local's JVM) shares this "
        "machine's CPUs; on AWS each piece has its own."
    )
    return table
