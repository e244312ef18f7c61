"""Express routing on the local cloud (issue 16): a short task runs on the Express machine,
an approval task on the Standard one; both complete with the same logs and the same
webhook events (a real receiver, every delivery verified), apart from what the approval
itself adds."""

from __future__ import annotations

from typing import Any

from tests.e2e.webhooks.webhook_helpers import Org, Receiver, verify_both
from tests.support.polling import eventually

STEPS = [
    {"id": "greet", "type": "log", "message": "Hello {{ inputs.name }}"},
    {"id": "shape", "type": "transform", "values": {"who": "inputs.name"}},
]
SHORT = {
    "name": "Short",
    "inputs": {"type": "object", "properties": {"name": {"type": "string"}}},
    "steps": STEPS,
    "outputs": {"who": "steps.shape.who"},
    "timeoutSeconds": 120,  # fits Express (<= 240 s)
}
APPROVAL = {
    **SHORT,
    "name": "Approved",
    "steps": [
        *STEPS,
        {"id": "ok", "type": "approval", "prompt": "go?", "timeoutSeconds": 60},
    ],
}


def _run(org: Org, receiver: Receiver, task: dict[str, Any]) -> tuple[dict[str, Any], str]:
    task_id = org.task(task)
    _, secret = org.endpoint(receiver.url, taskId=task_id)
    resp = org.api.post(f"/tasks/{task_id}/runs", json={"inputs": {"name": "Grace"}})
    assert resp.status_code == 202, resp.text
    return resp.json()["run"], secret


def _executions(local_cloud: Any, logical_id: str) -> set[str]:
    sfn = local_cloud.new_client("stepfunctions")
    arn = local_cloud.deployment.state_machines[logical_id]
    pages = sfn.list_executions(stateMachineArn=arn, maxResults=1000)
    return {e["name"] for e in pages["executions"]}


# A run of quick steps stores its progress with its completion: no `updated` in between
# (docs/engine.md §2, checkpoints).
LIFECYCLE = {"task-run.started", "task-run.log", "task-run.completed"}
# Before the approval pauses, the progress of the steps before it is stored (`updated`).
APPROVAL_ADDS = {"task-run.updated", "task-run.waiting"}


def _finished(
    org: Org, receiver: Receiver, run_id: str, secret: str, expected: set[str]
) -> dict[str, Any]:
    """The completed event (checked against the API) and what the endpoint heard, verified.

    Deliveries are not ordered (a run's events leave the table in one publisher batch and
    are sent in parallel), so it waits until every `expected` event type has arrived, not
    only the completion."""

    def heard() -> list[Any]:
        return [r for r in receiver.received() if run_id in r.headers["x-komos-run-id"]]

    got = eventually(
        heard,
        lambda got: expected <= {r.event for r in got},
        timeout=60,
        message=lambda got: f"heard only {sorted({r.event for r in got})}",
    )
    body = next(r.json for r in got if r.event == "task-run.completed")
    assert body["status"] == "COMPLETED" and body["outputs"] == {"who": "Grace"}
    for request in got:
        verify_both(request, secret)
    logs = org.api.get(f"/task-runs/{run_id}/logs", params={"limit": 500}).json()["logEntries"]
    return {
        "events": {r.event for r in got},
        "logs": [(e["nodeId"], e["level"], e["message"]) for e in logs],
        "engine": body["engine"],
    }


def test_short_runs_go_to_express_and_approvals_to_standard(
    org: Org, receivers: Any, local_cloud: Any
) -> None:
    receiver: Receiver = receivers()
    quick, quick_secret = _run(org, receiver, SHORT)
    assert quick["engine"] == "express"  # said at once, in the 202
    slow, slow_secret = _run(org, receiver, APPROVAL)
    assert slow["engine"] == "standard"
    eventually(
        lambda: org.api.get(f"/task-runs/{slow['id']}").json()["run"],
        lambda run: run.get("waiting") is not None,
        timeout=60,
        message="the approval never waited",
    )
    resp = org.api.post(f"/task-runs/{slow['id']}/resume", json={"approved": True})
    assert resp.status_code in (200, 202), resp.text

    express = _finished(org, receiver, quick["id"], quick_secret, LIFECYCLE)
    standard = _finished(org, receiver, slow["id"], slow_secret, LIFECYCLE | APPROVAL_ADDS)
    assert (express["engine"], standard["engine"]) == ("express", "standard")
    # The same lifecycle and logs: the approval adds its waiting event, the progress stored
    # before it pauses, and its own lines.
    assert express["events"] == LIFECYCLE
    assert standard["events"] - express["events"] == APPROVAL_ADDS
    shared = {"greet", "shape"}
    assert [x for x in express["logs"] if x[0] in shared] == [
        x for x in standard["logs"] if x[0] in shared
    ]
    assert express["logs"][-1][2] == "completing the run: 2/2 steps finished"
    assert standard["logs"][-1][2] == "completing the run: 3/3 steps finished"
    # Each ran on its own machine (moto runs Express executions like Standard ones).
    assert quick["id"] in _executions(local_cloud, "ExpressRunStateMachine")
    assert quick["id"] not in _executions(local_cloud, "RunStateMachine")
    assert slow["id"] in _executions(local_cloud, "RunStateMachine")
    assert slow["id"] not in _executions(local_cloud, "ExpressRunStateMachine")


def test_the_local_cloud_deploys_both_machines(local_cloud: Any) -> None:
    sfn = local_cloud.new_client("stepfunctions")
    machines = local_cloud.deployment.state_machines
    kinds = {
        lid: sfn.describe_state_machine(stateMachineArn=arn)["type"]
        for lid, arn in machines.items()
    }
    assert kinds == {"RunStateMachine": "STANDARD", "ExpressRunStateMachine": "EXPRESS"}
    assert local_cloud.state_machine_arn == machines["RunStateMachine"]
