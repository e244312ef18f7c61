"""The benchmarks' table builders on fixed measurements: which rows, in which order, what cells."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks import api, coldstart, cost, runs
from benchmarks.calls import FUNCTION, LOCAL, Call, Invocation, Recording, Usage
from benchmarks.table import Table


def _rows(table: Table) -> dict[str, list[str]]:
    return {" | ".join(row[:2]): row[2:] for row in table.rows}


def test_calls_table_averages_billed_calls_per_run_and_leaves_idle_polls_out() -> None:
    first = Recording(
        calls=[
            Call("dynamodb", "GetItem", FUNCTION, read_units=0.5, capacity_reported=True),
            Call("dynamodb", "GetItem", FUNCTION, read_units=1.0, capacity_reported=True),
            Call("sqs", "ReceiveMessage", FUNCTION, returned=0),
            Call("sqs", "ReceiveMessage", FUNCTION, returned=1),
            Call("events", "PutEvents", LOCAL),
        ],
        invocations=[Invocation("runhook-local-step", 512, 10.0, cpu_ms=4.0)],
    )
    second = Recording(
        calls=[Call("dynamodb", "GetItem", FUNCTION, read_units=0.5, capacity_reported=True)],
        invocations=[Invocation("runhook-local-step", 512, 30.0, cpu_ms=8.0)],
    )
    scenario = cost.Scenario("A", "A: 5 compute steps", {}, expected_transitions=7)
    scenario.recordings = [first, second]
    scenario.usages = [Usage(dynamodb_rru=1.5, sfn_transitions=6), Usage(dynamodb_rru=0.5)]

    table = cost._calls_table([scenario])

    assert table.columns == ["service", "operation", "A: per run"]
    rows = _rows(table)
    assert rows["DynamoDB | GetItem (calls, RRU)"] == ["1.5, 1"]
    assert rows["SQS | ReceiveMessage"] == ["0.5"]  # the empty receive is idle polling
    assert not any(key.startswith("EventBridge") for key in rows)  # local only
    assert rows["= | DynamoDB read units (RRU)"] == ["1"]
    assert rows["= | Step Functions transitions (planned)"] == ["3 (7)"]
    assert rows["= |   step: count x p50 ms (CPU)"] == ["1 x 20 (6)"]
    assert rows["= |   api: requests x p50 ms"] == ["-"]
    assert [row[1] for row in table.rows][-2:] == [
        "Lambda GB-seconds",
        "log bytes (CloudWatch Logs)",
    ]
    assert len(table.notes) == 2


def _load_result(ops: dict[str, int], elapsed: float = 2.0) -> dict[str, Any]:
    return {
        "ops": {op: [10.0] * n for op, n in ops.items()},
        "elapsed": elapsed,
        "errors": {"POST run: 500": 1, "GET run: 404": 2},
        "cpu": {"cloud": 1.0, "api": 0.5, "lambda": 0.25, "jvm": 0.5, "client": 0.25},
    }


def test_api_table_compares_posts_with_the_baseline_and_splits_the_mixed_row() -> None:
    results = {
        "post1": _load_result({"POST run": 10}),
        "raw1": _load_result({"TransactWriteItems": 40}),
        "postN": _load_result({"POST run": 20}),
        "rawN": _load_result({"TransactWriteItems": 80}),
        "mixedN": _load_result({"POST run": 10, "GET run": 20, "GET logs": 10}),
    }

    table = api._table(4.0, 8, results, boot=3.25, workers=(2, 1))

    labels = [(row[0], row[1]) for row in table.rows]
    raw = "baseline: TransactWriteItems → DynamoDB Local"
    assert labels == [
        ("API: POST run", "1"),
        ("API: POST run", "8"),
        ("API: POST run + GET run + GET logs (all)", "8"),
        ("  of which POST run", "8"),
        ("  of which GET run", "8"),
        ("  of which GET logs", "8"),
        (raw, "1"),
        (raw, "8"),
    ]
    first, _, mixed, of_post, of_get, _, base1, _ = table.rows
    assert first[2:4] == ["10", "5.0"] and first[7:] == ["1", "0.25x", "100, 50, 25, 50, 25"]
    assert mixed[2] == "40" and mixed[7] == "3" and mixed[9] == "25, 12, 6, 12, 6"
    assert of_post[7:] == ["1", "-", "-"] and of_get[7:] == ["2", "-", "-"]
    assert base1[8:] == ["-", "25, 12, 6, 12, 6"]
    assert "the API runs in 2 worker processes of its own" in table.notes[0]
    assert "the handlers in 1 worker processes of their own" in table.notes[0]
    # Every process for a POST run (2.5 s / 20), the JVM and client for the baseline (0.75 s / 80).
    assert "POST run 125 ms (every process), baseline transaction 9 ms" in table.notes[-2]
    assert table.notes[-1] == "local cloud boot: 3.2 s (not in any figure)"


def test_runs_table_subtracts_the_baselines_median() -> None:
    rows = [("5 compute steps", [300.0, 100.0, 200.0], "no-op machine", [50.0, 150.0, 100.0])]

    (row,) = runs._table(3, rows).rows

    assert row == ["5 compute steps", "200", "100", "300", "no-op machine", "100", "2.00x", "100"]


def test_coldstart_table_puts_functions_beside_their_baseline_then_the_baselines() -> None:
    def subject(name: str, samples: list[float], baseline: str | None = None) -> Any:
        made = coldstart.Subject(name=name, argv=[], env={}, cwd=Path("."), baseline=baseline)
        made.samples, made.cpu, made.wall = samples, samples, samples
        return made

    base = subject("baseline: boto3 + Powertools Logger", [100.0, 100.0])
    worker = subject("StepFunction", [300.0, 100.0], baseline=base.name)
    worker.memory_mb, worker.web = 512, ["fastapi"]

    table = coldstart._table(2, [base, worker])

    assert [row[0] for row in table.rows] == ["StepFunction", base.name]
    assert table.rows[0][1] == "512 MB" and table.rows[0][7:] == [
        "boto3 + Powertools Logger",
        "100",
        "100",
        "2.00x",
        "2.00x",
    ]
    assert table.rows[1][7:] == ["-"] * 5
    assert table.notes[-1] == "Worker functions importing a web framework: StepFunction"


def test_coldstart_table_ends_with_the_pydantic_floor_beside_the_worker_baseline() -> None:
    def subject(name: str, samples: list[float], baseline: str | None = None) -> Any:
        made = coldstart.Subject(name=name, argv=[], env={}, cwd=Path("."), baseline=baseline)
        made.samples, made.cpu, made.wall = samples, samples, samples
        return made

    base = subject(coldstart.WORKER_BASELINE_NAME, [100.0, 100.0])
    floor = subject(coldstart.FLOOR_NAME, [150.0, 150.0])
    worker = subject("StepFunction", [180.0, 180.0], baseline=base.name)

    table = coldstart._table(2, [base, floor, worker])

    assert [row[0] for row in table.rows] == ["StepFunction", base.name, floor.name]
    assert table.rows[2][7:] == ["boto3 + Powertools Logger", "100", "100", "1.50x", "1.50x"]
    assert any(note.startswith("floor: not a function") for note in table.notes)


def test_comparison_table_prices_each_pair_and_the_run_ends_endpoint_apart() -> None:
    """5b: Standard beside Express for A and B with the goal's verdict; DX (an endpoint of
    run ends only) gets its own row, Express only, never a verdict of its own."""

    def scenario(key: str, usage: Usage) -> cost.Scenario:
        made = cost.Scenario(key, key, {})
        made.usages = [usage]
        return made

    cheap = Usage(eventbridge_events=1, dynamodb_wru=10)  # $1 + $6.25 per 1M runs
    dear = Usage(eventbridge_events=100, dynamodb_wru=10)  # $100 + $6.25
    table = cost._comparison_table(
        [
            scenario("A", dear),
            scenario("AX", cheap),
            scenario("B", dear),
            scenario("BX", dear),
            scenario("DX", cheap),
        ]
    )
    rows = {row[0]: row[1:] for row in table.rows}
    assert rows["5 compute steps"] == ["$106.25", "$7.25", "0.07x", "<= $20.00: met"]
    assert rows["5 compute steps + 1 webhook endpoint"][-1] == "<= $40.00: NOT met"
    assert rows["5 compute steps + 1 endpoint of run ends only"] == [
        "-",
        "$7.25",
        "-",
        "(see the note)",
    ]
    assert any("task-run.completed" in note for note in table.notes)
    without = cost._comparison_table([scenario(k, dear) for k in ("A", "AX", "B", "BX")])
    assert len(without.rows) == 2
