"""`runhook dev --lambda-endpoint URL --sam-env FILE`: every Lambda invoke of the local cloud
goes to an external Lambda Invoke endpoint, none runs in `runhook dev`'s process.

As a developer with Docker would run it, with `tests/support/lambda_server.py` standing in
for `sam local start-lambda --env-vars FILE` (no Docker here): it speaks the same wire
contract and gives each function only what SAM would (the variables the template declares,
valued from the file `runhook dev --sam-env` writes). One run with a wait and an approval,
a webhook endpoint on a real local receiver; the Lambda endpoint answers the first invoke
of the step, publisher and dispatch functions with a function error, which the local cloud
must treat like an in-process one (the state machine's Retry, the stream's retry of the
batch, the async invoke's retry). Then:

- the run completed and its `task-run.completed` webhook arrived;
- every function's invokes, as the endpoint counted them, equal the remote invokes
  `runhook dev` logged for it (each invoke went there, once), and the state machine, the
  stream, the rule, the SQS source and the start-up call all went through it;
- `runhook dev` ran no handler itself (no in-process invoke in its debug log).
"""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.devprocess import CollectedProcess, DevProcess
from tests.support.loopback import Answer, LoopbackServer
from tests.support.polling import eventually

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]

TASK = {
    "name": "nap then ask",
    "steps": [
        {"id": "hello", "type": "log", "message": "hello"},
        {"id": "nap", "type": "wait", "seconds": 1},
        {"id": "ok", "type": "approval", "prompt": "go on?", "timeoutSeconds": 600},
        {"id": "bye", "type": "log", "message": "bye"},
    ],
}
FAULTS = {  # the first invoke of each answers a function error
    "StepFunction": {"count": 1, "errorType": "Lambda.ServiceException"},  # Retry
    "PublisherFunction": {"count": 1, "errorType": "RuntimeError"},  # the batch again
    "WebhookDispatchFunction": {"count": 1, "errorType": "RuntimeError"},  # async retry
}
REMOTE = re.compile(r"devcloud\.lambda: remote invoke of (\w+): (answered|function error)")
IN_PROCESS = re.compile(r"devcloud\.lambda: \S+ (answered in|failed after) ")


class LambdaEndpoint(CollectedProcess):
    """tests/support/lambda_server.py in a subprocess (what `sam local start-lambda` is)."""

    def __init__(self, env_vars: Path, env: dict[str, str]) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.lambda_server"]
            + ["--template", str(ROOT / "template.yaml"), "--env-vars", str(env_vars)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        super().__init__(process)
        self.url = eventually(
            lambda: next(
                (line.split(": ", 1)[1] for line in self.lines if "endpoint:" in line), ""
            ),
            timeout=30,
            message=lambda _: f"the Lambda endpoint did not start:\n{self.output}",
        )

    def counts(self) -> Counter[str]:
        return Counter(httpx.get(f"{self.url}/invocations", timeout=10).json())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def test_every_invoke_goes_through_the_lambda_endpoint(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    key = "sk_test_" + secrets.token_urlsafe(32)
    env = {**clean_env, "RUNHOOK_DEV_API_KEY": key}
    env_vars = tmp_path / "env.json"
    receiver = LoopbackServer(lambda _request: Answer(200))
    lambda_endpoint = LambdaEndpoint(env_vars, env)
    dev: DevProcess | None = None
    try:
        httpx.post(f"{lambda_endpoint.url}/faults", json=FAULTS, timeout=10).raise_for_status()
        dev = DevProcess(
            tmp_path / "state",
            env,
            "--in-memory",
            "--log-level",
            "DEBUG",
            "--sam-env",
            str(env_vars),
            "--sam-env-host",
            "127.0.0.1",
            "--lambda-endpoint",
            lambda_endpoint.url,
        )
        dev.wait_ready(timeout=120)
        assert f"(Lambda: sent to {lambda_endpoint.url};" in dev.output
        assert f"sam local env  {env_vars}" in dev.output
        run_a_task(dev, key, receiver)
        counts = eventually(
            lambda: (lambda_endpoint.counts(), remote_invokes(dev)),
            lambda both: both[0] == both[1],
            timeout=30,
            message=lambda both: f"endpoint counted {both[0]}, runhook dev sent {both[1]}",
        )[0]
        assert counts["StepFunction"] >= 4, counts  # advance, retried, after wait, approval
        for function in ("PublisherFunction", "WebhookDispatchFunction", "WebhookSendFunction"):
            minimum = 2 if function in FAULTS else 1  # a failed invoke, then its retry
            assert counts[function] >= minimum, (function, counts)
        assert counts["SweeperFunction"] == 1, counts  # the start-up call
        assert not IN_PROCESS.findall(dev.output), "a handler ran inside runhook dev"
        errors = [m for m in REMOTE.finditer(dev.output) if m.group(2) == "function error"]
        assert {m.group(1) for m in errors} == set(FAULTS), errors
    finally:
        if dev is not None:
            dev.stop(2)  # SIGINT
        lambda_endpoint.stop()
        receiver.stop()


def remote_invokes(dev: DevProcess) -> Counter[str]:
    return Counter(m.group(1) for m in REMOTE.finditer(dev.output))


def run_a_task(dev: DevProcess, key: str, receiver: LoopbackServer) -> None:
    """A webhook endpoint, a run through its wait and its approval, its completed webhook."""
    api = httpx.Client(
        base_url=f"{dev.url('API')}/public/v1",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )

    def call(method: str, path: str, expected: int, **kw: Any) -> Any:
        answer = api.request(method, path, **kw)
        assert answer.status_code == expected, f"{method} {path}: {answer.text}\n{dev.output}"
        return answer.json()

    call("POST", "/webhook-endpoints", 201, json={"url": f"{receiver.base_url}/hook"})
    task = call("POST", "/tasks", 201, json=TASK)["task"]["id"]
    run = call("POST", f"/tasks/{task}/runs", 202)["run"]["id"]
    eventually(
        lambda: call("GET", f"/task-runs/{run}", 200)["run"],
        lambda got: got["waiting"] is not None,
        timeout=60,
        message=lambda got: f"the approval is not parked: {got}\n{dev.output}",
    )
    call("POST", f"/task-runs/{run}/resume", 202, json={"approved": True})
    done = eventually(
        lambda: call("GET", f"/task-runs/{run}", 200)["run"],
        lambda got: got["status"] != "RUNNING",
        timeout=60,
        message=lambda got: f"the run did not finish: {got}\n{dev.output}",
    )
    assert done["status"] == "COMPLETED", done
    eventually(
        receiver.recorded,
        lambda got: any(r.headers.get("x-komos-event") == "task-run.completed" for r in got),
        timeout=60,
        message=lambda got: f"no completed webhook among {[r.headers for r in got]}",
    )
