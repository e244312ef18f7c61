"""Helpers of the engine's end-to-end tests: tasks and runs through the REST API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.polling import eventually

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}


@dataclass
class Api:
    """An organization's REST client on the local cloud, plus the cloud itself."""

    client: httpx.Client
    cloud: Any
    org_id: str

    def task(self, definition: dict[str, Any]) -> str:
        resp = self.client.post("/tasks", json=definition)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["task"]["id"])

    def start(self, task_id: str, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
        resp = self.client.post(f"/tasks/{task_id}/runs", json={"inputs": inputs or {}})
        assert resp.status_code == 202, resp.text
        run: dict[str, Any] = resp.json()["run"]
        assert run["status"] == "PENDING"
        return run

    def run(self, run_id: str) -> dict[str, Any]:
        resp = self.client.get(f"/task-runs/{run_id}")
        assert resp.status_code == 200, resp.text
        return dict(resp.json()["run"])

    def wait(self, run_id: str, until: Any = None, timeout: float = 30.0) -> dict[str, Any]:
        """Poll the run until `until(run)` (default: a terminal status)."""
        return eventually(
            lambda: self.run(run_id),
            until or (lambda r: r["status"] in TERMINAL),
            timeout=timeout,
            message=lambda run: f"run {run_id} did not get there in {timeout} s: {run}",
        )

    def waiting(self, run_id: str, timeout: float = 30.0) -> dict[str, Any]:
        return self.wait(run_id, lambda r: r.get("waiting") or r["status"] in TERMINAL, timeout)

    def logs(self, run_id: str) -> list[dict[str, Any]]:
        resp = self.client.get(f"/task-runs/{run_id}/logs", params={"limit": 500})
        assert resp.status_code == 200, resp.text
        return list(resp.json()["logEntries"])

    def execution_arn(self, run_id: str) -> str:
        """The run's execution (named by the run id) on the machine its `engine` names:
        short runs without approvals run on the Express machine (issue 16)."""
        machine = self.cloud.state_machine_arn
        if self.run(run_id).get("engine") == "express":
            machine = self.cloud.deployment.state_machines["ExpressRunStateMachine"]
        return str(machine).replace(":stateMachine:", ":execution:") + f":{run_id}"

    def execution(self, run_id: str) -> dict[str, Any]:
        sfn = self.cloud.new_client("stepfunctions")
        return dict(sfn.describe_execution(executionArn=self.execution_arn(run_id)))

    def wait_execution(self, run_id: str, timeout: float = 30.0) -> dict[str, Any]:
        return eventually(
            lambda: self.execution(run_id),
            lambda execution: execution["status"] != "RUNNING",
            timeout=timeout,
            message=f"execution {run_id} still RUNNING after {timeout} s",
        )

    def transitions(self, run_id: str) -> list[str]:
        """The states the finished execution entered, in order (billed transitions).

        The run's status is committed before the machine reaches its last states, so
        this waits for the execution to end first.
        """
        self.wait_execution(run_id)
        sfn = self.cloud.new_client("stepfunctions")
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": self.execution_arn(run_id), "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in events
            if e["type"].endswith("StateEntered")
        ]


def messages(logs: list[dict[str, Any]], node: str | None = None) -> list[str]:
    return [e["message"] for e in logs if node is None or e["nodeId"] == node]
