"""Step Functions: start, stop and answer the executions that drive runs.

An execution is named by its run id, so starting one on the Standard machine is
idempotent. A run routed to Express (runhook.engine.routing) starts on the Express machine:
that StartExecution is asynchronous and not idempotent (a repeat starts a second execution,
which the engine's conditional updates make harmless), and Express executions cannot be
described, listed or stopped, so everything here but `start_run` is about Standard
(docs/engine.md, "Express").
"""

from __future__ import annotations

import json
from typing import Any, Unpack

from botocore.exceptions import BotoCoreError, ClientError

from runhook.aws import ClientOptions, LazyClient, error_code, translate_errors, unavailable
from runhook.engine.routing import EXPRESS, STANDARD, EngineName

MAX_CAUSE = 32768
_TOKEN_GONE = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


def execution_arn(state_machine_arn: str, run_id: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{run_id}"


class StepFunctions:
    """The run state machines' executions (`state_machine_arn`: settings.state_machine_arn,
    the Standard machine; `express_state_machine_arn`: the Express one, "" when there is none)."""

    def __init__(
        self,
        state_machine_arn: str,
        *,
        express_state_machine_arn: str = "",
        **client: Unpack[ClientOptions],
    ) -> None:
        self.state_machine_arn = state_machine_arn
        self.express_state_machine_arn = express_state_machine_arn
        self._client = LazyClient("stepfunctions", **client)

    @property
    def express_enabled(self) -> bool:
        """Whether this deployment has an Express machine to route short runs to."""
        return bool(self.express_state_machine_arn)

    @property
    def client(self) -> Any:
        return self._client.get()

    def execution_arn(self, run_id: str) -> str:
        return execution_arn(self.state_machine_arn, run_id)

    def start_run(self, run_id: str, engine: EngineName = STANDARD) -> None:
        """Start the execution named by the run id on the run's machine; an existing one
        counts as started (Standard; Express does not check names, see the module)."""
        machine = self.state_machine_arn
        if engine == EXPRESS and self.express_enabled:
            machine = self.express_state_machine_arn
        try:
            self.client.start_execution(
                stateMachineArn=machine,
                name=run_id,
                input=json.dumps({"runId": run_id}),
            )
        except ClientError as exc:
            if error_code(exc) != "ExecutionAlreadyExists":
                raise unavailable("stepfunctions", exc) from exc
        except BotoCoreError as exc:
            raise unavailable("stepfunctions", exc) from exc

    def execution_status(self, run_id: str) -> str | None:
        """The status of the run's execution (RUNNING, SUCCEEDED, FAILED, TIMED_OUT,
        ABORTED, ...), or None when there is no such execution (never started, or lost)."""
        try:
            answer = self.client.describe_execution(executionArn=self.execution_arn(run_id))
        except ClientError as exc:
            if error_code(exc) == "ExecutionDoesNotExist":
                return None
            raise unavailable("stepfunctions", exc) from exc
        except BotoCoreError as exc:
            raise unavailable("stepfunctions", exc) from exc
        return str(answer["status"])

    def running_runs(self) -> set[str]:
        """The names (run ids) of the machine's RUNNING executions: one ListExecutions page
        per thousand, so a sweep describes only the executions missing from it."""
        names: set[str] = set()
        request: dict[str, Any] = {
            "stateMachineArn": self.state_machine_arn,
            "statusFilter": "RUNNING",
            "maxResults": 1000,
        }
        while True:
            with translate_errors("stepfunctions"):
                page = self.client.list_executions(**request)
            names.update(str(e["name"]) for e in page.get("executions") or [])
            token = page.get("nextToken")
            if not token:
                return names
            request["nextToken"] = token

    def stop_run(self, run_id: str, cause: str, engine: EngineName = STANDARD) -> None:
        """Best effort: the run's status in DynamoDB already says it is over.

        An Express execution cannot be stopped (StopExecution is Standard only), so for an
        Express run this does nothing: its execution ends at the engine's next step boundary,
        where the conditional write finds the run no longer RUNNING (docs/engine.md, 6b)."""
        if engine == EXPRESS:
            return
        try:
            self.client.stop_execution(
                executionArn=self.execution_arn(run_id), error="Cancelled", cause=cause[:MAX_CAUSE]
            )
        except (ClientError, BotoCoreError):
            return

    def send_task_success(self, token: str, output: dict[str, Any]) -> bool:
        """False when the token is no longer valid (timed out, already answered)."""
        try:
            self.client.send_task_success(taskToken=token, output=json.dumps(output))
        except ClientError as exc:
            if error_code(exc) in _TOKEN_GONE:
                return False
            raise unavailable("stepfunctions", exc) from exc
        except BotoCoreError as exc:
            raise unavailable("stepfunctions", exc) from exc
        return True

    def send_task_failure(self, token: str, error: str, cause: str) -> None:
        """Best effort: the run is over whatever the execution makes of it."""
        try:
            self.client.send_task_failure(taskToken=token, error=error, cause=cause[:MAX_CAUSE])
        except (ClientError, BotoCoreError):
            return
