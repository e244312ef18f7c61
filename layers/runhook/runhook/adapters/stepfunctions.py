"""Step Functions: start, stop and answer the executions that drive runs."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runhook import aws
from runhook.errors import ServiceUnavailable
from runhook.settings import get_settings


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def execution_arn(run_id: str) -> str:
    machine = get_settings().state_machine_arn
    return machine.replace(":stateMachine:", ":execution:") + f":{run_id}"


def start_run(run_id: str) -> None:
    """Start the execution named by the run id; an existing one counts as started."""
    try:
        aws.client("stepfunctions").start_execution(
            stateMachineArn=get_settings().state_machine_arn,
            name=run_id,
            input=json.dumps({"runId": run_id}),
        )
    except ClientError as exc:
        if _code(exc) == "ExecutionAlreadyExists":
            return
        raise ServiceUnavailable(message=f"stepfunctions: {_code(exc)}") from exc
    except BotoCoreError as exc:
        raise ServiceUnavailable(message=f"stepfunctions: {exc}") from exc


def stop_run(run_id: str, cause: str) -> None:
    """Best effort: the run's status in DynamoDB already says it is over."""
    try:
        aws.client("stepfunctions").stop_execution(
            executionArn=execution_arn(run_id), error="Cancelled", cause=cause[:32768]
        )
    except (ClientError, BotoCoreError):
        return


def send_task_success(token: str, output: dict[str, Any]) -> bool:
    """False when the token is no longer valid (timed out, already answered)."""
    try:
        aws.client("stepfunctions").send_task_success(taskToken=token, output=json.dumps(output))
    except ClientError as exc:
        if _code(exc) in {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}:
            return False
        raise ServiceUnavailable(message=f"stepfunctions: {_code(exc)}") from exc
    except BotoCoreError as exc:
        raise ServiceUnavailable(message=f"stepfunctions: {exc}") from exc
    return True


def send_task_failure(token: str, error: str, cause: str) -> None:
    try:
        aws.client("stepfunctions").send_task_failure(
            taskToken=token, error=error, cause=cause[:32768]
        )
    except (ClientError, BotoCoreError):
        return
