"""`runhook dev` serves the API from worker processes of its own, and they die with it.

As a user runs it (a subprocess): the API answers from the workers (a run is created and
completes, the terminal prints its request line), and after Ctrl-C no worker is left
behind. After SIGKILL neither: the crash test (test_localcloud_crash.py, which runs the
default, one worker) checks it with `api_workers_of` and `wait_no_workers`.
"""

from __future__ import annotations

import secrets
import signal
import sys
from pathlib import Path

import httpx
import pytest

from tests.localcloud.workers import api_workers_of, wait_no_workers
from tests.support.devprocess import DevProcess
from tests.support.polling import eventually

pytestmark = [
    pytest.mark.localcloud,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]


def run_once(dev: DevProcess, key: str) -> None:
    """Create a run of the demo task through the API and wait for it to complete."""
    headers = {"Authorization": f"Bearer {key}"}
    # A first request on a loaded machine: imports, the route modules, DynamoDB Local warm-up.
    with httpx.Client(base_url=f"{dev.url('API')}/public/v1", headers=headers, timeout=60) as api:
        tasks = api.get("/tasks").json()["tasks"]
        assert tasks, dev.output
        created = api.post(f"/tasks/{tasks[0]['id']}/runs", json={"inputs": {"name": "x"}})
        assert created.status_code == 202, created.text
        run_id = created.json()["run"]["id"]
        eventually(
            lambda: api.get(f"/task-runs/{run_id}").json()["run"]["status"],
            lambda status: status == "COMPLETED",
            timeout=60,
            message=lambda status: f"run {run_id} is {status}:\n{dev.output}",
        )


# SIGKILL: the crash test (test_localcloud_crash.py) checks that no worker is left behind.
@pytest.mark.slow
def test_the_api_is_served_by_workers_that_stop_with_runhook_dev(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    key = "sk_test_" + secrets.token_urlsafe(32)
    env = {**clean_env, "RUNHOOK_DEV_API_KEY": key}
    dev = DevProcess(tmp_path / "state", env, "--in-memory", "--api-workers", "2")
    try:
        dev.wait_ready()
        workers = api_workers_of(dev.process.pid)
        assert len(workers) == 2, dev.output
        assert "(2 worker processes)" in dev.output
        run_once(dev, key)
        eventually(
            lambda: dev.output,
            lambda out: "POST /public/v1/tasks/" in out and " 202 " in out,
            timeout=10,
            message=lambda out: f"no request line for the POST:\n{out}",
        )
    finally:
        code = dev.stop(signal.SIGINT)
    assert code == 0, dev.output
    wait_no_workers(workers)
