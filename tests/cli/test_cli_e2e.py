"""The `runhook` command against the local cloud, as callers use it: exit codes, outputs,
live logs, tasks from YAML, webhook replay and recover."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runhook_client import Runhook
from tests.e2e.webhooks.webhook_helpers import Receiver, free_port
from tests.support.orgs import Organizations
from tests.support.polling import eventually

pytestmark = pytest.mark.localcloud

WAIT_TASK = {
    "name": "Nap then total",
    "inputs": {"type": "object", "properties": {"n": {"type": "string", "default": "1"}}},
    "steps": [
        {"id": "hello", "type": "log", "message": "hello {{ inputs.n }}"},
        {"id": "nap", "type": "wait", "seconds": 1},
        {"id": "total", "type": "transform", "values": {"n": "inputs.n"}},
    ],
    "outputs": {"n": "steps.total.n"},
}
FAILING_TASK = {"name": "Doomed", "steps": [{"id": "boom", "type": "fail", "message": "no luck"}]}
APPROVAL_TASK = {
    "name": "Approve",
    "steps": [{"id": "approve", "type": "approval", "prompt": "OK?", "timeoutSeconds": 300}],
    "outputs": {"by": "steps.approve.data.user"},
}
SLOW_LOG_TASK = {
    "name": "Slow logs",
    "steps": [
        {"id": "before", "type": "log", "message": "before the nap"},
        {"id": "nap", "type": "wait", "seconds": 10},  # longer than a loaded CLI start
        {"id": "after", "type": "log", "message": "after the nap"},
    ],
}


class Cli:
    """`runhook …` in a subprocess, as a caller runs it, for one organization.

    A subprocess, not CliRunner: the in-process local cloud's functions log to this
    process's stdout from their threads, which would mix with the command's output.
    """

    def __init__(self, api_url: str, key: str) -> None:
        self.env = {"RUNHOOK_API_URL": api_url, "RUNHOOK_API_KEY": key}
        self.sdk = Runhook(key, base_url=api_url)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "runhook_dev.cli", *args]

    def __call__(self, *args: str) -> tuple[int, str, str]:
        done = subprocess.run(
            self.command(*args),
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.returncode, done.stdout, done.stderr

    def json(self, *args: str) -> Any:
        code, out, err = self(*args, "-o", "json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture()
def cli(organizations: Organizations, local_cloud: Any) -> Iterator[Cli]:
    org = organizations.create("cli")
    made = Cli(local_cloud.api_url, org.key)
    yield made
    made.sdk.close()


def test_start_wait_on_a_task_with_a_wait_step_exits_0_and_prints_the_outputs(cli: Cli) -> None:
    task = cli.sdk.tasks.create(WAIT_TASK)
    code, out, err = cli("runs", "start", task.id, "--input", "n=7", "--wait")
    assert code == 0, err
    assert json.loads(out) == {"n": "7"}
    run = next(iter(cli.sdk.runs.list(task_id=task.id)))
    assert run.status == "COMPLETED" and run.progress and run.progress.current_step == 3


def test_a_failed_run_exits_1_with_its_error_on_stderr(cli: Cli) -> None:
    task = cli.sdk.tasks.create(FAILING_TASK)
    code, out, err = cli("runs", "start", task.id, "--wait")
    assert code == 1
    assert "FAILED at step boom" in err and "no luck" in err
    code, out, err = cli("runs", "start", task.id, "--wait", "-o", "json")
    assert code == 1 and json.loads(out)["status"] == "FAILED"


def test_resume_approve_then_get_wait_and_a_cancelled_run_exits_3(cli: Cli, tmp_path: Path) -> None:
    task = cli.sdk.tasks.create(APPROVAL_TASK)
    inputs = tmp_path / "inputs.json"
    inputs.write_text("{}")
    run = cli.json(
        "runs", "start", task.id, "--inputs-file", str(inputs), "--client-request-id", "cli-1"
    )
    again = cli.json("runs", "start", task.id, "--client-request-id", "cli-1")
    assert again["id"] == run["id"]
    eventually(lambda: cli.sdk.runs.get(run["id"]).waiting is not None, timeout=60)
    resumed = cli.json("runs", "resume", run["id"], "--approve", "--data", '{"user": "ada"}')
    assert resumed["id"] == run["id"]
    code, out, err = cli("runs", "get", run["id"], "--wait")
    assert code == 0 and json.loads(out) == {"by": "ada"}, err
    code, _, err = cli("runs", "resume", run["id"], "--reject")
    assert code == 1 and err.strip() == "runhook: error: 409 run_not_waiting"

    other = cli.json("runs", "start", task.id)
    cancelled = cli.json("runs", "cancel", other["id"], "--reason", "not today")
    assert cancelled["status"] == "CANCELLED"
    code, _, err = cli("runs", "get", other["id"], "--wait")
    assert code == 3 and "CANCELLED: not today" in err
    listed = cli.json("runs", "list", "--task", task.id, "--status", "cancelled", "--since", "1h")
    assert [r["id"] for r in listed] == [other["id"]]


def test_tasks_apply_from_yaml_creates_then_versions(cli: Cli, tmp_path: Path) -> None:
    name = f"Applied {time.time_ns()}"
    path = tmp_path / "task.yaml"
    path.write_text(f"name: {name}\nsteps:\n  - id: hello\n    type: log\n    message: hi\n")
    code, out, err = cli("tasks", "apply", "-f", str(path))
    assert code == 0 and "created (version 1)" in out, err
    code, out, err = cli("tasks", "apply", "-f", str(path))  # same name: a new version
    assert code == 0 and "updated (version 2)" in out, err
    listed = [t for t in cli.json("tasks", "list") if t["name"] == name]
    assert len(listed) == 1 and listed[0]["version"] == 2
    exported = tmp_path / "task.json"
    exported.write_text(json.dumps(cli.json("tasks", "get", listed[0]["id"])))
    assert cli.json("tasks", "apply", "-f", str(exported))["version"] == 3
    path.write_text("name: broken\nsteps: [{id: x, type: nope}]\n")
    code, _, err = cli("tasks", "apply", "-f", str(path))
    assert code == 1 and err.startswith("runhook: error: 400 invalid_task")
    assert len(err.strip().splitlines()) == 1
    code, out, _ = cli("tasks", "delete", listed[0]["id"])
    assert code == 0
    code, _, err = cli("tasks", "get", listed[0]["id"])
    assert code == 1 and err.strip() == "runhook: error: 404 task_not_found"


def test_logs_follow_sees_lines_arrive_while_the_run_runs(cli: Cli) -> None:
    task = cli.sdk.tasks.create(SLOW_LOG_TASK)
    run = cli.sdk.runs.create(task.id)
    process = subprocess.Popen(
        cli.command("runs", "logs", run.id, "--follow"),
        env={**os.environ, **cli.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "[before] before the nap" in first
        assert not cli.sdk.runs.get(run.id).is_terminal  # it arrived while the run ran
        rest = process.stdout.read()
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
    assert "[after] after the nap" in rest
    assert cli.sdk.runs.get(run.id).status == "COMPLETED"


@pytest.mark.slow
def test_webhook_endpoints_test_deliveries_replay_and_recover(cli: Cli) -> None:
    port = free_port()
    created = cli.json("webhooks", "endpoints", "create", f"http://127.0.0.1:{port}/hook")
    endpoint_id = created["id"]
    assert created["secret"].startswith("whsec_")
    assert endpoint_id in [e["id"] for e in cli.json("webhooks", "endpoints", "list")]
    delivery = cli.json("webhooks", "endpoints", "test", endpoint_id)
    # Nobody listens: the delivery fails through the (compressed) schedule into the DLQ.
    eventually(
        lambda: cli.json("webhooks", "deliveries", endpoint_id, "--status", "failed"),
        timeout=60,
    )
    receiver = Receiver(None, port)
    try:

        def recovered() -> bool:
            code, out, err = cli("webhooks", "recover", endpoint_id, "--since", "10m")
            assert code == 0, err
            return not out.startswith("recovered 0")

        eventually(recovered, timeout=30, interval=0.5)
        got = receiver.wait_for(1)
        assert got[0].webhook_id == delivery["webhookId"]
        code, out, err = cli("webhooks", "replay", delivery["id"])
        assert code == 0 and delivery["id"] in out, err
        assert receiver.wait_for(2)[1].webhook_id == delivery["webhookId"]
    finally:
        receiver.stop()
    rotated = cli.json("webhooks", "endpoints", "rotate", endpoint_id, "--overlap", "0")
    assert rotated["secret"] != created["secret"]
    code, out, _ = cli("webhooks", "endpoints", "delete", endpoint_id)
    assert code == 0 and "deleted" in out
