"""`runhook dev` serves the API from worker processes of its own, and they die with it.

As a user runs it (a subprocess): the API answers from the workers (a run is created and
completes, the terminal prints its request line), and whether `runhook dev` is stopped with
Ctrl-C or killed with SIGKILL, no worker is left behind.
"""

from __future__ import annotations

import secrets
import signal
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.devprocess import DevProcess
from tests.support.polling import eventually

pytestmark = [
    pytest.mark.localcloud,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

WORKER_MODULE = "runhook_dev.devcloud.api_workers"


def api_workers_of(parent: int) -> list[int]:
    """Live processes running the API worker module whose parent is `parent`, or whose
    parent is gone (an orphan is re-parented: it would still be listed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, ppid = fields[0], int(fields[1])
        if WORKER_MODULE in cmdline and state != "Z" and (ppid == parent or ppid == 1):
            found.append(int(entry.name))
    return found


def run_once(dev: DevProcess, key: str) -> None:
    """Create a run of the demo task through the API and wait for it to complete."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=f"{dev.url('API')}/public/v1", headers=headers) as api:
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


@pytest.mark.parametrize(
    "stop", [pytest.param(signal.SIGINT, id="ctrl-c"), pytest.param(signal.SIGKILL, id="kill-9")]
)
def test_the_api_is_served_by_workers_that_die_with_runhook_dev(
    tmp_path: Path, clean_env: dict[str, str], stop: signal.Signals
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
        code = dev.stop(stop)
    if stop == signal.SIGINT:
        assert code == 0, dev.output
    eventually(
        lambda: [pid for pid in workers if _alive(pid)],
        lambda left: not left,
        timeout=10,
        message=lambda left: f"API workers left behind: {left}",
    )


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_zero_workers_serves_the_api_in_process(tmp_path: Path, clean_env: dict[str, str]) -> None:
    key = "sk_test_" + secrets.token_urlsafe(32)
    env = {**clean_env, "RUNHOOK_DEV_API_KEY": key}
    dev = DevProcess(tmp_path / "state", env, "--in-memory", "--api-workers", "0")
    try:
        dev.wait_ready()
        assert api_workers_of(dev.process.pid) == []
        assert "worker processes" not in dev.output
        answer = httpx.get(f"{dev.url('API')}/public/v1/health")
        assert answer.status_code == 200, answer.text
    finally:
        assert dev.stop(signal.SIGINT) == 0
