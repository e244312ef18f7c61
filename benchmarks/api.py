"""Benchmark 2: API throughput and latency over real HTTP against the local cloud.

The load generator (`benchmarks.loadgen`) is its own process: N concurrent clients
(httpx + asyncio) sending POST run (fresh clientRequestId each time), alone or followed
by GET run and GET logs. The organization's rate limit is far above what the machine can
send, so the limiter is not what is measured. Each POST starts a real execution: the task
parks in a 2-hour Wait state after one step-function invocation, so the background work
per run is as small as the engine allows, but it is there (and it shares the CPUs).

Baseline, same run: the same create-run transactions (TransactWriteItems captured from
the API's own requests during the warm-up, with fresh ids) sent straight to DynamoDB
Local with the same number of clients (threads, one boto3 client each).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks import machine, stats
from benchmarks.calls import CallRecorder
from benchmarks.loadgen import make_template
from benchmarks.localcloud import BenchCloud, parked_task
from benchmarks.table import Table, ms, per_second, times

ROOT = Path(__file__).resolve().parent.parent


def _load(config: dict[str, Any], java_pid: int | None = None) -> dict[str, Any]:
    """Run the load generator; its result plus the CPU seconds each side used meanwhile."""
    before = (
        machine.process_cpu_seconds(),
        machine.process_cpu_seconds(java_pid) if java_pid else float("nan"),
        machine.children_cpu_seconds(),
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
        "jvm": (machine.process_cpu_seconds(java_pid) if java_pid else float("nan")) - before[1],
        "client": machine.children_cpu_seconds() - before[2],
    }
    return result


# Long on purpose: one benchmark's steps in the order they run and print (setup, baseline, measurement, table); splitting it would scatter the table's rows.
def run(quick: bool = False) -> list[Table]:
    seconds = 4.0 if quick else 8.0
    concurrency = 8
    recorder = CallRecorder()
    recorder.keep_params = {"TransactWriteItems"}
    recorder.keep_limit = 200
    results: dict[str, dict[str, Any]] = {}
    with BenchCloud(recorder=recorder) as bench:
        task_id = bench.create_task(parked_task())
        api = {"mode": "api", "base": bench.base_url, "key": bench.api_key, "task": task_id}
        _load({**api, "clients": 4, "seconds": 2.0, "mix": "mixed"})  # warm-up
        templates = [
            t for name, params in recorder.kept if (t := make_template(params)) is not None
        ]
        recorder.keep_params = set()
        if not templates:
            raise RuntimeError("no create-run transaction was captured during the warm-up")
        raw = {
            "mode": "dynamodb",
            "endpoint": bench.cloud.dynamodb_endpoint,
            "region": bench.cloud.region,
            "templates": templates[:50],
        }
        java = bench.cloud.java_pid
        # Alternate ours and the baseline so both see similar background load.
        results["post1"] = _load({**api, "clients": 1, "seconds": seconds, "mix": "post"}, java)
        results["raw1"] = _load({**raw, "clients": 1, "seconds": seconds}, java)
        results["postN"] = _load(
            {**api, "clients": concurrency, "seconds": seconds, "mix": "post"}, java
        )
        results["rawN"] = _load({**raw, "clients": concurrency, "seconds": seconds}, java)
        results["mixedN"] = _load(
            {**api, "clients": concurrency, "seconds": seconds, "mix": "mixed"}, java
        )
        boot = bench.boot_seconds

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
            "CPU ms/req: cloud, JVM, client",
        ],
    )

    def add(
        label: str, clients: int, result: dict[str, Any], op: str | None, base: str | None
    ) -> None:
        ops: dict[str, list[float]] = result["ops"]
        values = ops[op] if op else [v for vs in ops.values() for v in vs]
        summary = stats.summarize(values)
        throughput = stats.rate(summary.n, float(result["elapsed"]))
        errors = sum(n for key, n in result["errors"].items() if op is None or key.startswith(op))
        cpu = "-"
        if op is None or (op == "POST run" and len(result["ops"]) == 1):
            total = sum(len(v) for v in ops.values())
            parts = [
                result["cpu"][k] * 1000 / total if total else float("nan")
                for k in ("cloud", "jvm", "client")
            ]
            cpu = ", ".join(ms(v, 0) for v in parts)
        versus = "-"
        if base:
            other = results[base]
            other_rate = stats.rate(
                len(other["ops"]["TransactWriteItems"]), float(other["elapsed"])
            )
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
            cpu,
        )

    add("API: POST run", 1, results["post1"], "POST run", "raw1")
    add("API: POST run", concurrency, results["postN"], "POST run", "rawN")
    add("API: POST run + GET run + GET logs (all)", concurrency, results["mixedN"], None, None)
    add("  of which POST run", concurrency, results["mixedN"], "POST run", None)
    add("  of which GET run", concurrency, results["mixedN"], "GET run", None)
    add("  of which GET logs", concurrency, results["mixedN"], "GET logs", None)
    add("baseline: TransactWriteItems → DynamoDB Local", 1, results["raw1"], None, None)
    add("baseline: TransactWriteItems → DynamoDB Local", concurrency, results["rawN"], None, None)
    table.notes.append(
        "The API (uvicorn serving the same FastAPI app as the Lambda), the AWS dispatcher, moto, "
        "the handlers and the load generator share this machine's CPUs; the API runs in the "
        "same Python process as the local cloud (one GIL), DynamoDB Local in its own JVM."
    )
    table.notes.append(
        "Each POST run writes one transaction (run + idempotency claim + usage counter), "
        "calls StartExecution, and starts a real execution (one step-function invocation, "
        "then a 2 h Wait). The baseline sends the same transactions straight to DynamoDB "
        "Local, without the API, the dispatcher or Step Functions."
    )
    table.notes.append(
        "CPU ms/req: CPU time used during the row by the local cloud's Python process (API, "
        "dispatcher, moto, handlers, pollers), by DynamoDB Local's JVM and by the load "
        "generator, divided by the requests of the row (background work of earlier rows "
        "included)."
    )
    table.notes.append(f"local cloud boot: {boot:.1f} s (not in any figure)")
    return [table]
