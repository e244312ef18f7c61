"""`runhook dev` killed with work in flight, restarted on the same state directory: nothing is
left stuck and nothing is lost.

As a user would: `runhook dev` in a subprocess; an endpoint whose receiver holds the first
request and refuses the others until released; three runs in a 6 s wait, one run waiting
for an approval, deliveries in flight. Then the process is killed (SIGKILL: a crash; SIGINT:
Ctrl-C) and started again on the same state directory. Its executions, queue messages and
leases were in moto's memory and are gone; the sweeper, invoked right after start-up,
restarts the runs (they continue from their current step) and re-enqueues the deliveries.
After the receiver is released and the approval answered through the API:

- every run is COMPLETED;
- every run's `task-run.completed` webhook arrived, and every delivery of the endpoint
  succeeded (those refused before the kill included);
- a webhook (one event, one body) that arrived more than once always carried the same
  `webhook-id`.
"""

from __future__ import annotations

import secrets
import signal
import sys
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.localcloud.workers import api_workers_of, wait_no_workers
from tests.support.devprocess import DevProcess
from tests.support.loopback import Answer, LoopbackServer, Request
from tests.support.polling import eventually

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]

WAIT_TASK = {
    "name": "nap",
    "steps": [
        {"id": "before", "type": "log", "message": "before the nap"},
        {"id": "nap", "type": "wait", "seconds": 6},
        {"id": "after", "type": "log", "message": "after the nap"},
    ],
}
APPROVAL_TASK = {
    "name": "ship",
    "steps": [{"id": "ok", "type": "approval", "prompt": "ship it?", "timeoutSeconds": 600}],
}


class HoldingReceiver(LoopbackServer):
    """Holds its first request and refuses (503) the others until `release()`; then 200."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self._held = threading.Lock()
        super().__init__(self._answer)

    def release(self) -> None:
        self.released.set()

    def _answer(self, request: Request) -> Answer:
        if self.released.is_set():
            return Answer(200)
        if self._held.acquire(blocking=False):  # the first one: an attempt in flight
            self.released.wait(20)
        return Answer(503, body=b"not yet")


class Api:
    """The REST API of one `runhook dev` process, with the dev admin key."""

    def __init__(self, dev: DevProcess, key: str) -> None:
        self.client = httpx.Client(
            base_url=f"{dev.url('API')}/public/v1",
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )

    def call(self, method: str, path: str, expected: int = 200, **kw: Any) -> Any:
        answer = self.client.request(method, path, **kw)
        assert answer.status_code == expected, f"{method} {path}: {answer.text}"
        return answer.json()

    def run(self, run_id: str) -> dict[str, Any]:
        run: dict[str, Any] = self.call("GET", f"/task-runs/{run_id}")["run"]
        return run

    def deliveries(self, endpoint_id: str) -> list[dict[str, Any]]:
        page = self.call("GET", f"/webhook-endpoints/{endpoint_id}/deliveries?pageSize=100")
        return list(page["deliveries"])


def start_work(api: Api, receiver: HoldingReceiver) -> tuple[str, list[str], str]:
    """An endpoint, three runs in their wait and one parked approval; (endpoint, runs, approval)."""
    endpoint = api.call("POST", "/webhook-endpoints", 201, json={"url": f"{receiver.url}/hook"})
    wait_task = api.call("POST", "/tasks", 201, json=WAIT_TASK)["task"]["id"]
    approval_task = api.call("POST", "/tasks", 201, json=APPROVAL_TASK)["task"]["id"]
    waits = [api.call("POST", f"/tasks/{wait_task}/runs", 202)["run"]["id"] for _ in range(3)]
    approval = api.call("POST", f"/tasks/{approval_task}/runs", 202)["run"]["id"]
    eventually(
        lambda: [api.run(r) for r in waits],
        lambda runs: all(
            r["status"] == "RUNNING" and r["progress"]["currentStep"] == 1 for r in runs
        ),
        timeout=30,
        interval=0.5,  # three GETs a poll: stay under the key's rate limit (20/s)
        message=lambda runs: f"not all in their wait: {runs}",
    )
    eventually(
        lambda: api.run(approval),
        lambda run: run["waiting"] is not None,
        timeout=30,
        message=lambda run: f"the approval is not parked: {run}",
    )
    eventually(
        receiver.recorded,
        lambda got: len(got) >= 2,  # one held, one refused at least
        timeout=30,
        message=lambda got: f"{len(got)} deliveries reached the receiver",
    )
    return endpoint["endpoint"]["id"], waits, approval


def answer_approval(api: Api, run_id: str) -> None:
    """Approve once the new execution has parked the approval again (409 until then)."""

    def approve() -> int:
        answer = api.client.post(f"/task-runs/{run_id}/resume", json={"approved": True})
        return answer.status_code

    eventually(approve, lambda status: status == 202, timeout=60, interval=0.5)


# Ctrl-C: while `runhook dev` shuts down (several seconds) moto's executions keep running;
# runs that complete then are COMPLETED in DynamoDB and their events wait in the table's
# stream: the publisher continues after its last checkpoint once `runhook dev` is back.
CTRL_C = pytest.param(signal.SIGINT, id="ctrl-c")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals as on Linux")
@pytest.mark.parametrize("stop", [pytest.param(signal.SIGKILL, id="kill-9"), CTRL_C])
def test_nothing_is_stuck_or_lost_after_a_restart(
    tmp_path: Path, clean_env: dict[str, str], stop: signal.Signals
) -> None:
    key = "sk_test_" + secrets.token_urlsafe(32)
    env = {**clean_env, "RUNHOOK_DEV_API_KEY": key}
    args = ("--env", "WEBHOOK_RETRY_SCHEDULE=5,5,5,5,5,5,5")
    state_dir = tmp_path / "state"
    receiver = HoldingReceiver()
    first = DevProcess(state_dir, env, *args)
    workers: list[int] = []
    try:
        first.wait_ready()
        workers = api_workers_of(first.process.pid)  # `runhook dev`'s default: one
        endpoint, waits, approval = start_work(Api(first, key), receiver)
    finally:
        first.stop(stop)
    assert len(workers) == 1, first.output
    wait_no_workers(workers)  # none left behind, even after SIGKILL
    before_restart = len(receiver.recorded())

    second = DevProcess(state_dir, env, *args)
    try:
        second.wait_ready()
        api = Api(second, key)
        receiver.release()
        answer_approval(api, approval)
        runs = eventually(
            lambda: [api.run(r) for r in [*waits, approval]],
            lambda runs: all(r["status"] == "COMPLETED" for r in runs),
            timeout=90,
            interval=0.5,  # four GETs a poll: stay under the key's rate limit (20/s)
            message=lambda runs: (
                f"runs after the restart: {[r['status'] for r in runs]}\n" + second.output
            ),
        )
        assert len(runs) == 4
        completed = eventually(
            lambda: {
                r.headers["x-komos-run-id"]
                for r in receiver.recorded()
                if r.headers.get("x-komos-event") == "task-run.completed"
            },
            lambda got: got == {*waits, approval},
            timeout=60,
            message=lambda got: (
                f"completed webhooks for {len(got)} of 4 runs; deliveries: "
                + str([(d["eventType"], d["runId"], d["status"]) for d in api.deliveries(endpoint)])
                + f"\nfirst run of runhook dev:\n{first.output}"
            ),
        )
        assert completed
        deliveries = eventually(
            lambda: api.deliveries(endpoint),
            lambda ds: ds and all(d["status"] == "succeeded" for d in ds),
            timeout=60,
            message=lambda ds: (
                f"deliveries: {[(d['eventType'], d['status']) for d in ds]}\n"
                f"second run of runhook dev:\n{second.output}"
            ),
        )
        assert before_restart >= 2 and len(deliveries) >= 4
        assert "start-up call of runhook-local-sweeper" in second.output
    finally:
        second.stop(signal.SIGINT)
        receiver.stop()

    # The same webhook (same event, same body) may arrive again, always with its webhook-id.
    ids: dict[tuple[str, str, bytes], set[str]] = defaultdict(set)
    for request in receiver.recorded():
        event, run = request.headers["x-komos-event"], request.headers.get("x-komos-run-id", "")
        ids[(event, run, request.body)].add(request.headers["webhook-id"])
    twice = {k[:2]: v for k, v in ids.items() if len(v) > 1}
    assert not twice, f"one webhook under several webhook-ids: {twice}"
