"""The local cloud as the benchmarks use it: booted in this process, with a fast organization.

`BenchCloud` starts `runhook_dev.devcloud.LocalCloud` in memory on free ports (like the test
suite's fixture), optionally with a `CallRecorder` hooked in before anything starts, and
makes an organization whose rate limits are far above what one machine can send, so the
limiter is never what a benchmark measures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from benchmarks.calls import IGNORE_HEADER, CallRecorder

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"}
# The most the settings allow (models.OrganizationSettings): the limiter never throttles a benchmark.
FAST_ORG_SETTINGS: dict[str, object] = {"rateLimitPerSecond": 10000, "rateLimitBurst": 100000}


def compute_task(steps: int = 5) -> dict[str, Any]:
    """A compute-only task: `steps` transform steps (no I/O beyond runhook's own)."""
    return {
        "name": f"bench: {steps} compute steps",
        "inputs": {"type": "object", "properties": {"word": {"type": "string", "default": "hi"}}},
        "steps": [
            {"id": f"step_{i}", "type": "transform", "values": {"word": "inputs.word"}}
            for i in range(steps)
        ],
        "outputs": {"word": f"steps.step_{steps - 1}.word"},
        "timeoutSeconds": 600,
    }


def wait_task(seconds: int = 2) -> dict[str, Any]:
    return {
        "name": f"bench: wait {seconds} s",
        "steps": [
            {"id": "before", "type": "log", "message": "waiting"},
            {"id": "pause", "type": "wait", "seconds": seconds},
            {"id": "after", "type": "log", "message": "done"},
        ],
        "timeoutSeconds": 600,
    }


def approval_task() -> dict[str, Any]:
    return {
        "name": "bench: approval",
        "steps": [
            {"id": "prepare", "type": "transform", "values": {"ok": "inputs"}},
            {"id": "approve", "type": "approval", "prompt": "Ship it?"},
            {"id": "finish", "type": "log", "message": "approved"},
        ],
        "timeoutSeconds": 600,
    }


def parked_task() -> dict[str, Any]:
    """A run that parks in a long Wait state after one invocation (for API load)."""
    return {
        "name": "bench: parked",
        "steps": [{"id": "park", "type": "wait", "seconds": 7200}],
        "timeoutSeconds": 10800,
    }


# Template parameters `runhook dev` sets apart from a deployment (devcloud/lifecycle.py):
# the benchmarks measure what AWS would run, so these get the template's defaults back.
DEPLOYED_PARAMETERS = ("RunEventsOnBus",)


def deployed_parameters() -> dict[str, str]:
    """The template's defaults of `DEPLOYED_PARAMETERS` (read, never restated here)."""
    from runhook_dev.devcloud.cfn import load_template, parameter_defaults
    from runhook_dev.devcloud.options import CloudOptions

    defaults = parameter_defaults(load_template(CloudOptions().template_path))
    return {name: defaults[name] for name in DEPLOYED_PARAMETERS}


class BenchCloud:
    """A started local cloud plus an API client for a fast organization."""

    def __init__(
        self,
        *,
        recorder: CallRecorder | None = None,
        env: Mapping[str, str] | None = None,
        api_workers: int = 0,
        lambda_workers: int = 0,
    ) -> None:
        from runhook_dev.devcloud import LocalCloud

        if recorder is not None and (api_workers or lambda_workers):
            raise ValueError("a CallRecorder sees this process only: no worker processes")

        self.recorder = recorder
        self._state = tempfile.TemporaryDirectory(prefix="runhook-bench-")
        if recorder is not None:
            recorder.install()
            import runhook_dev.devcloud.servers as servers

            original = servers.load_api_app

            def load_api_app(container: Any | None = None) -> tuple[Any, str | None]:
                app, error = original(container)
                return recorder.asgi(app), error

            servers.load_api_app = load_api_app  # type: ignore[assignment]
        self.cloud = LocalCloud(
            in_memory=True,
            api_port=0,
            aws_port=0,
            state_dir=Path(self._state.name),
            env_overrides=dict(env or {}),
            parameters=deployed_parameters(),
            install_signal_handlers=True,
            api_workers=api_workers,
            lambda_workers=lambda_workers,
        )
        if recorder is not None:
            recorder.wrap_registry(self.cloud.registry)
        self.boot_seconds = 0.0
        self.api_key = ""
        self.org_id = ""
        self.http: httpx.Client | None = None  # the benchmark's own requests (not counted)
        self.counted: httpx.Client | None = None  # requests a recorder counts
        self._container: Any = None

    def __enter__(self) -> BenchCloud:
        began = time.monotonic()
        self.cloud.start()
        self.boot_seconds = time.monotonic() - began
        from runhook_dev.admin import bootstrap_organization

        org_id, key = bootstrap_organization(
            f"bench {uuid.uuid4().hex[:6]}", live=False, settings=FAST_ORG_SETTINGS
        )
        assert key, "a new organization always gets a key"
        self.org_id, self.api_key = org_id, key
        # No keep-alive: uvicorn drops idle connections after 5 s, and a request racing
        # that close would fail; a loopback connect per request costs next to nothing.
        fresh = httpx.Limits(max_keepalive_connections=0)
        self.http = httpx.Client(
            base_url=self.base_url, headers=self.headers(ignore=True), timeout=60, limits=fresh
        )
        self.counted = httpx.Client(
            base_url=self.base_url, headers=self.headers(), timeout=60, limits=fresh
        )
        return self

    def __exit__(self, *exc: object) -> None:
        for http in (self.http, self.counted):
            if http is not None:
                http.close()
        self.cloud.stop()
        if self.recorder is not None:
            self.recorder.uninstall()
        self._state.cleanup()

    @property
    def base_url(self) -> str:
        return f"{self.cloud.api_url}/public/v1"

    @property
    def container(self) -> Any:
        """runhook's Container for the cloud's functions (its table, queues and bus)."""
        if self._container is None:
            from runhook.bootstrap import Container

            self._container = Container.from_environment(self.cloud.environment)
        return self._container

    def headers(self, *, ignore: bool = False) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if ignore:
            headers[IGNORE_HEADER] = "1"
        return headers

    # -- API helpers (the benchmark's own requests: not counted by a recorder) ------------
    def client(self, *, counted: bool = False) -> httpx.Client:
        http = self.counted if counted else self.http
        assert http is not None, "use BenchCloud as a context manager"
        return http

    def create_task(self, definition: dict[str, Any]) -> str:
        answer = self.client().post("/tasks", json=definition)
        answer.raise_for_status()
        body = answer.json()
        task = body.get("task", body)
        return str(task["id"])

    def start_run(self, task_id: str, *, counted: bool = False) -> str:
        """POST a run with a fresh clientRequestId; `counted` makes it a billed request."""
        answer = self.client(counted=counted).post(
            f"/tasks/{task_id}/runs", json={"clientRequestId": str(uuid.uuid4())}
        )
        if answer.status_code not in (200, 202):
            raise RuntimeError(f"POST run: {answer.status_code} {answer.text}")
        return str(answer.json()["run"]["id"])

    def resume(self, run_id: str, *, counted: bool = False) -> None:
        answer = self.client(counted=counted).post(
            f"/task-runs/{run_id}/resume", json={"approved": True}
        )
        if answer.status_code >= 300:
            raise RuntimeError(f"resume: {answer.status_code} {answer.text}")

    def run_status(self, run_id: str) -> dict[str, Any]:
        """The run as DynamoDB has it (read directly: no API request, not counted)."""
        with CallRecorder.ignored():
            run = self.container.runs.get(run_id)
        if run is None:
            return {"status": "MISSING"}
        status = getattr(run.status, "value", run.status)
        return {"status": str(status).upper(), "waiting": run.waiting}

    def wait_for(
        self, run_id: str, statuses: set[str], timeout: float = 60.0, interval: float = 0.01
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = self.run_status(run_id)
            if state["status"] in statuses:
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {state['status']} after {timeout} s")
            time.sleep(interval)

    def wait_waiting(self, run_id: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            state = self.run_status(run_id)
            if state.get("waiting"):
                return
            if state["status"] in TERMINAL:
                raise RuntimeError(f"run {run_id} ended ({state['status']}) before waiting")
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} never waited for approval")
            time.sleep(0.01)

    def transitions(self, run_id: str) -> int:
        """Billed state transitions of the run's execution (GetExecutionHistory)."""
        from benchmarks.calls import state_transitions

        sfn = self.cloud.client("stepfunctions")
        arn = self.cloud.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{run_id}"
        events: list[dict[str, Any]] = []
        token: str | None = None
        with CallRecorder.ignored():
            while True:
                kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
                if token:
                    kwargs["nextToken"] = token
                page = sfn.get_execution_history(**kwargs)
                events.extend(page.get("events") or [])
                token = page.get("nextToken")
                if not token:
                    break
        return state_transitions(events)

    def subscribe(
        self, url: str, *, events: list[str] | None = None, task_id: str | None = None
    ) -> str:
        """A webhook endpoint pointing at `url` (every event of every task unless `events`
        and `task_id` narrow it); its id."""
        request: dict[str, Any] = {"url": url}
        if events is not None:
            request["events"] = events
        if task_id is not None:
            request["taskId"] = task_id
        answer = self.client().post("/webhook-endpoints", json=request)
        if answer.status_code >= 300:
            raise RuntimeError(f"webhook endpoint: {answer.status_code} {answer.text}")
        body = answer.json()
        endpoint = body.get("endpoint", body)
        return str(endpoint["id"])

    def unsubscribe(self, endpoint_id: str) -> None:
        self.client().delete(f"/webhook-endpoints/{endpoint_id}")


class Receiver:
    """A webhook receiver in its own process (`benchmarks.receiver`): answers 204."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="runhook-bench-receiver-")
        self.log_path = Path(self._dir.name) / "receipts.jsonl"
        port_file = Path(self._dir.name) / "port"
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.receiver", str(port_file), str(self.log_path)],
            cwd=Path(__file__).resolve().parent.parent,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not port_file.exists() or not port_file.read_text().strip():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the webhook receiver did not start")
            time.sleep(0.02)
        self.port = int(port_file.read_text().strip())
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._offset = 0

    def receipts(self) -> list[dict[str, Any]]:
        """Receipts logged since the last call (each: time, run id, event, delivery id)."""
        if not self.log_path.exists():
            return []
        with self.log_path.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        self._offset += end
        return [json.loads(line) for line in data[:end].splitlines() if line.strip()]

    def close(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5)
        self._dir.cleanup()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- `python -m benchmarks --only localcloud`: the local cloud's idle footprint ----------------

IDLE_SECONDS = 30.0
IDLE_GOAL_PERCENT = 2.0  # issue 16: an idle `runhook dev` uses at most 2 % of a core


def _process_cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a process (Linux /proc), every thread included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_idle(seconds: float) -> dict[str, float]:
    """CPU of a local cloud left alone for `seconds` right after it booted (what a developer
    leaving `runhook dev` open sees: its API worker processes included), beside DynamoDB
    Local's JVM over the same window."""
    from runhook_dev.devcloud.command import DEFAULT_API_WORKERS

    with BenchCloud(api_workers=DEFAULT_API_WORKERS) as bench:
        java, workers = bench.cloud.java_pid, bench.cloud.api_worker_pids
        began, cpu, java_cpu = time.monotonic(), time.process_time(), 0.0
        java_before = _process_cpu_seconds(java) if java else 0.0
        workers_before = sum(_process_cpu_seconds(pid) for pid in workers)
        time.sleep(seconds)
        wall = time.monotonic() - began
        cpu = time.process_time() - cpu
        workers_cpu = sum(_process_cpu_seconds(pid) for pid in workers) - workers_before
        if java:
            java_cpu = _process_cpu_seconds(java) - java_before
        return {
            "boot_seconds": bench.boot_seconds,
            "wall": wall,
            "workers": len(workers),
            "cloud_percent": 100 * cpu / wall,
            "workers_percent": 100 * workers_cpu / wall,
            "python_percent": 100 * (cpu + workers_cpu) / wall,
            "java_percent": 100 * java_cpu / wall,
        }


def run(quick: bool = False) -> list[Any]:
    """The benchmark runner's entry (`benchmarks.child`): one table, idle CPU vs the JVM."""
    from benchmarks.table import Table

    seconds = IDLE_SECONDS / 3 if quick else IDLE_SECONDS
    figures = measure_idle(seconds)
    table = Table(
        f"Local cloud idle: CPU over {figures['wall']:.0f} s right after boot",
        ["process", "% of a core", "vs DynamoDB Local's JVM", "goal"],
    )
    java = figures["java_percent"]
    ratio = f"{figures['python_percent'] / java:.1f}x" if java > 0 else "n/a"
    table.add(
        f"runhook dev (Python: cloud + {figures['workers']:.0f} API workers)",
        f"{figures['python_percent']:.2f}",
        ratio,
        f"<= {IDLE_GOAL_PERCENT:g} %",
    )
    table.add("  of which the cloud's process", f"{figures['cloud_percent']:.2f}", "", "")
    table.add("  of which the API workers", f"{figures['workers_percent']:.2f}", "", "")
    table.add("DynamoDB Local (Java, baseline)", f"{java:.2f}", "1.0x", "")
    verdict = "met" if figures["python_percent"] <= IDLE_GOAL_PERCENT else "POOR: above the goal"
    table.notes.append(
        f"goal {verdict}; before issue 16: 27 % of a core (JVM 0.7 %); "
        f"boot took {figures['boot_seconds']:.1f} s"
    )
    return [table]
