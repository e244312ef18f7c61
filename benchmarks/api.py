"""Benchmark 2: API throughput and latency over real HTTP against the local cloud.

The load generator (`benchmarks.loadgen`) is its own process: N concurrent clients
(httpx + asyncio) sending POST run (fresh clientRequestId each time), alone or followed
by GET run and GET logs. The organization's rate limit is far above what the machine can
send, so the limiter is not what is measured. Each POST starts a real execution: the task
parks in a 2-hour Wait state after one step-function invocation, so the background work
per run is as small as the engine allows, but it is there (and it shares the CPUs).

The API is served as `runhook dev` serves it: by `DEFAULT_API_WORKERS` worker processes
of its own (`$RUNHOOK_BENCH_API_WORKERS` overrides; 0 = in the local cloud's process, as
before issue 16); the handlers run as `runhook dev` runs them too: `DEFAULT_LAMBDA_WORKERS`
worker processes (`$RUNHOOK_BENCH_LAMBDA_WORKERS` overrides; 0 = in the local cloud's
process).

Baseline, same run: the same create-run transactions (TransactWriteItems captured as the
API sent them through the AWS endpoint during the warm-up, with fresh ids) sent straight to
DynamoDB Local with the same number of clients (threads, one boto3 client each).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any, NamedTuple

from benchmarks import machine, stats
from benchmarks.loadgen import make_template
from benchmarks.localcloud import BenchCloud, parked_task
from benchmarks.table import Table, ms, per_second, times

ROOT = Path(__file__).resolve().parent.parent


WORKERS_ENV = "RUNHOOK_BENCH_API_WORKERS"
LAMBDA_WORKERS_ENV = "RUNHOOK_BENCH_LAMBDA_WORKERS"


def api_workers() -> int:
    """How many API worker processes the benchmark's cloud runs (`runhook dev`'s default)."""
    from runhook_dev.devcloud.command import DEFAULT_API_WORKERS

    return max(0, int(os.environ.get(WORKERS_ENV, DEFAULT_API_WORKERS)))


def lambda_workers() -> int:
    """How many Lambda worker processes the benchmark's cloud runs (`runhook dev`'s default)."""
    from runhook_dev.devcloud.command import DEFAULT_LAMBDA_WORKERS

    return max(0, int(os.environ.get(LAMBDA_WORKERS_ENV, DEFAULT_LAMBDA_WORKERS)))


def _cpu_of(pids: list[int]) -> float:
    return sum(machine.process_cpu_seconds(pid) for pid in pids)


def _load(
    config: dict[str, Any],
    java_pid: int | None = None,
    api_pids: list[int] | None = None,
    lambda_pids: list[int] | None = None,
) -> dict[str, Any]:
    """Run the load generator; its result plus the CPU seconds each side used meanwhile."""
    pids, handlers = api_pids or [], lambda_pids or []
    before = (
        machine.process_cpu_seconds(),
        machine.process_cpu_seconds(java_pid) if java_pid else float("nan"),
        machine.children_cpu_seconds(),
        _cpu_of(pids),
        _cpu_of(handlers),
    )
    answer = subprocess.run(
        [sys.executable, "-m", "benchmarks.loadgen", json.dumps(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=float(config["seconds"]) + 120,
        stdin=subprocess.DEVNULL,
    )
    if answer.returncode != 0:
        raise RuntimeError(f"load generator failed: {answer.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(answer.stdout.strip().splitlines()[-1])
    result["cpu"] = {
        "cloud": machine.process_cpu_seconds() - before[0],
        "api": _cpu_of(pids) - before[3],
        "lambda": _cpu_of(handlers) - before[4],
        "jvm": (machine.process_cpu_seconds(java_pid) if java_pid else float("nan")) - before[1],
        "client": machine.children_cpu_seconds() - before[2],
    }
    return result


def run(quick: bool = False) -> list[Table]:
    seconds = 4.0 if quick else 8.0
    concurrency = 8
    workers = (api_workers(), lambda_workers())
    results, boot = _measure(seconds, concurrency, workers)
    return [_table(seconds, concurrency, results, boot, workers)]


def _measure(
    seconds: float, concurrency: int, workers: tuple[int, int]
) -> tuple[dict[str, dict[str, Any]], float]:
    """Every row's load result by key, and the local cloud's boot time in seconds."""
    with BenchCloud(api_workers=workers[0], lambda_workers=workers[1]) as bench:
        task_id = bench.create_task(parked_task())
        api = {"mode": "api", "base": bench.base_url, "key": bench.api_key, "task": task_id}
        with _captured_transactions() as captured:
            _load({**api, "clients": 4, "seconds": 2.0, "mix": "mixed"})  # warm-up
        raw = {
            "mode": "dynamodb",
            "endpoint": bench.cloud.dynamodb_endpoint,
            "region": bench.cloud.region,
            "templates": _templates(captured)[:50],
        }
        pids = Pids(
            bench.cloud.java_pid, bench.cloud.api_worker_pids, bench.cloud.lambda_worker_pids
        )
        results = _alternate_loads(api, raw, seconds, concurrency, pids)
        boot = bench.boot_seconds
    return results, boot


@contextlib.contextmanager
def _captured_transactions() -> Iterator[list[dict[str, Any]]]:
    """The TransactWriteItems requests the AWS endpoint forwards to DynamoDB Local during
    the block, as parameters (DynamoDB's JSON protocol is the low-level client's shape).
    Read at the endpoint, so it sees the API wherever it runs (a worker process too)."""
    from runhook_dev.devcloud.dispatcher import Dispatcher

    captured: list[dict[str, Any]] = []
    forward = Dispatcher._dynamodb

    def capturing(self: Dispatcher, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_X_AMZ_TARGET", "").endswith(".TransactWriteItems"):
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = BytesIO(body)
            if len(captured) < 200:
                captured.append(json.loads(body))
        return forward(self, environ, start_response)

    Dispatcher._dynamodb = capturing  # type: ignore[method-assign]
    try:
        yield captured
    finally:
        Dispatcher._dynamodb = forward  # type: ignore[method-assign]


def _templates(captured: list[dict[str, Any]]) -> list[str]:
    """The create-run transactions the warm-up sent, as the baseline's templates."""
    templates = [t for params in captured if (t := make_template(params)) is not None]
    if not templates:
        raise RuntimeError("no create-run transaction was captured during the warm-up")
    return templates


class Pids(NamedTuple):
    """The processes whose CPU time a row reports (beside this one's and the client's)."""

    java: int | None
    api: list[int]
    handlers: list[int]


def _alternate_loads(
    api: dict[str, Any], raw: dict[str, Any], seconds: float, concurrency: int, pids: Pids
) -> dict[str, dict[str, Any]]:
    """Ours and the baseline alternate, so both see similar background load."""
    results: dict[str, dict[str, Any]] = {}
    post = {**api, "seconds": seconds, "mix": "post"}
    rows = [
        ("post1", {**post, "clients": 1}),
        ("raw1", {**raw, "clients": 1, "seconds": seconds}),
        ("postN", {**post, "clients": concurrency}),
        ("rawN", {**raw, "clients": concurrency, "seconds": seconds}),
        ("mixedN", {**api, "clients": concurrency, "seconds": seconds, "mix": "mixed"}),
    ]
    for key, config in rows:
        results[key] = _load(config, pids.java, pids.api, pids.handlers)
    return results


def _table(
    seconds: float,
    concurrency: int,
    results: dict[str, dict[str, Any]],
    boot: float,
    workers: tuple[int, int],
) -> Table:
    table = Table(
        title=f"2. API over HTTP on the local cloud ({seconds:.0f} s per row)",
        columns=[
            "what",
            "clients",
            "requests",
            "req/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "errors",
            "req/s vs baseline",
            "CPU ms/req: cloud, API workers, Lambda workers, JVM, client",
        ],
    )
    mixed = results["mixedN"]
    raw = "baseline: TransactWriteItems → DynamoDB Local"
    _add_row(table, results, "API: POST run", 1, results["post1"], "POST run", "raw1")
    _add_row(table, results, "API: POST run", concurrency, results["postN"], "POST run", "rawN")
    _add_row(
        table, results, "API: POST run + GET run + GET logs (all)", concurrency, mixed, None, None
    )
    _add_row(table, results, "  of which POST run", concurrency, mixed, "POST run", None)
    _add_row(table, results, "  of which GET run", concurrency, mixed, "GET run", None)
    _add_row(table, results, "  of which GET logs", concurrency, mixed, "GET logs", None)
    _add_row(table, results, raw, 1, results["raw1"], None, None)
    _add_row(table, results, raw, concurrency, results["rawN"], None, None)
    where = (
        f"in {workers[0]} worker processes of its own (${WORKERS_ENV}=0: in the local "
        "cloud's process)"
        if workers[0]
        else "in the same Python process as the local cloud (one GIL)"
    )
    handlers = (
        f"in {workers[1]} worker processes of their own (${LAMBDA_WORKERS_ENV}=0: in the "
        "local cloud's process)"
        if workers[1]
        else f"in the local cloud's process (${LAMBDA_WORKERS_ENV}=N: N worker processes)"
    )
    table.notes.append(
        "The API (uvicorn serving the same FastAPI app as the Lambda), the AWS dispatcher, moto, "
        f"the handlers and the load generator share this machine's CPUs; the API runs {where}, "
        f"the handlers {handlers} (both as `runhook dev` runs them by default), DynamoDB Local "
        "in its own JVM."
    )
    table.notes.append(
        "Each POST run writes one transaction (run + idempotency claim + usage counter), "
        "calls StartExecution, and starts a real execution (one step-function invocation, "
        "then a 2 h Wait). The baseline sends the same transactions straight to DynamoDB "
        "Local, without the API, the dispatcher or Step Functions."
    )
    table.notes.append(
        "CPU ms/req: CPU time used during the row by the local cloud's Python process "
        "(dispatcher, moto, pollers; the API and the handlers too when they have no workers), "
        "by the API and the Lambda worker processes, by DynamoDB Local's JVM and by the load "
        "generator, divided by the "
        "requests of the row (background work of earlier rows included)."
    )
    table.notes.append(_cpu_bound_ratio(results, concurrency))
    table.notes.append(f"local cloud boot: {boot:.1f} s (not in any figure)")
    return table


def _total_cpu_ms(result: dict[str, Any], parts: tuple[str, ...]) -> float:
    """CPU ms per request of the row, summed over the processes `parts` names."""
    requests = sum(len(v) for v in result["ops"].values())
    values = [float(result["cpu"][part]) for part in parts]
    if not requests or any(math.isnan(v) for v in values):
        return math.nan
    return sum(values) * 1000 / requests


def _cpu_bound_ratio(results: dict[str, dict[str, Any]], concurrency: int) -> str:
    """The load-robust companion of the req/s ratio: on a machine whose CPUs both sides
    saturate (a quiet one), req/s goes as 1 / CPU per request, so the ratio tends to the
    baseline's CPU per transaction over a POST run's; other work on the machine makes the
    measured req/s ratio drift from it (both sides then wait for the CPU). The baseline
    counts only DynamoDB Local and its client (the idle local cloud's CPU meanwhile is not
    the baseline's)."""
    post = _total_cpu_ms(results["postN"], ("cloud", "api", "lambda", "jvm", "client"))
    raw = _total_cpu_ms(results["rawN"], ("jvm", "client"))
    return (
        f"CPU per request ({concurrency} clients): POST run {ms(post, 0)} ms (every process), "
        f"baseline transaction {ms(raw, 0)} ms (JVM + client): {times(stats.ratio(raw, post))}, "
        "the ratio req/s tends to when both are CPU-bound (a quiet machine); on a loaded one "
        "the measured req/s ratio drifts from it"
    )


def _add_row(
    table: Table,
    results: dict[str, dict[str, Any]],
    label: str,
    clients: int,
    result: dict[str, Any],
    op: str | None,
    base: str | None,
) -> None:
    """One row: `op`'s requests of `result` (all of them if None), against `base`'s rate."""
    ops: dict[str, list[float]] = result["ops"]
    values = ops[op] if op else [v for vs in ops.values() for v in vs]
    summary = stats.summarize(values)
    throughput = stats.rate(summary.n, float(result["elapsed"]))
    errors = sum(n for key, n in result["errors"].items() if op is None or key.startswith(op))
    versus = "-"
    if base:
        other = results[base]
        other_rate = stats.rate(len(other["ops"]["TransactWriteItems"]), float(other["elapsed"]))
        versus = times(stats.ratio(throughput, other_rate))
    table.add(
        label,
        clients,
        summary.n,
        per_second(throughput),
        ms(summary.p50),
        ms(summary.p95),
        ms(summary.p99),
        errors,
        versus,
        _cpu_per_request(result, op),
    )


def _cpu_per_request(result: dict[str, Any], op: str | None) -> str:
    """CPU ms per request of the cloud, the JVM and the client, or "-" where the row's
    CPU time is shared with other operations (the mixed row's parts)."""
    ops: dict[str, list[float]] = result["ops"]
    if not (op is None or (op == "POST run" and len(ops) == 1)):
        return "-"
    total = sum(len(v) for v in ops.values())
    parts = [
        result["cpu"][k] * 1000 / total if total else float("nan")
        for k in ("cloud", "api", "lambda", "jvm", "client")
    ]
    return ", ".join(ms(v, 0) for v in parts)
