"""Creating, reading, cancelling and answering runs."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from runhook import clock
from runhook.adapters import events, stepfunctions
from runhook.dal import runs as runs_dal
from runhook.dal import tasks as tasks_dal
from runhook.errors import Conflict, InvalidRequest, NotFound, QuotaExceeded, ServiceUnavailable
from runhook.models import ACTIVE_STATUSES, LogEntry, Principal, Run, RunStatus, TriggerType
from runhook.services import quota
from runhook.tasks.definition import input_defaults, validate_inputs

MAX_CANCEL_REASON = 1024
MAX_CLIENT_REQUEST_ID = 255
# The answer travels in the execution's state (256 KB limit, shared with the run's refs).
MAX_RESUME_DATA_BYTES = 64 * 1024


@dataclass(frozen=True)
class CreatedRun:
    run: Run
    created: bool  # False: an existing run was returned for the same clientRequestId


def _require_uuid(value: str, code: str) -> None:
    if not clock.is_uuid(value):
        raise InvalidRequest(code)


def visible_run(principal: Principal, run_id: str) -> Run:
    _require_uuid(run_id, "invalid_run_id")
    run = runs_dal.get_run(run_id)
    if run is None or run.org_id != principal.org_id:
        raise NotFound("run_not_found")
    return run


def create_run(
    principal: Principal,
    task_id: str,
    inputs: dict[str, Any] | None,
    client_request_id: str | None,
    trigger_type: TriggerType = "api",
) -> CreatedRun:
    _require_uuid(task_id, "invalid_task_id")
    if client_request_id is not None and not (0 < len(client_request_id) <= MAX_CLIENT_REQUEST_ID):
        raise InvalidRequest("invalid_client_request_id")
    task = tasks_dal.get_task(task_id)
    if task is None or task.org_id != principal.org_id:
        raise NotFound("task_not_found")
    schema = task.definition.get("inputs", {"type": "object"})
    merged = {**input_defaults(schema), **(inputs or {})}
    problems = validate_inputs(schema, merged)
    if problems:
        raise InvalidRequest("invalid_inputs", errors=problems)
    now = clock.now()
    run = Run(
        id=clock.new_id(),
        org_id=principal.org_id,
        task_id=task_id,
        task_version=task.version,
        status=RunStatus.PENDING,
        trigger_type=trigger_type,
        created_at=clock.iso(now),
        steps_total=len(task.steps),
        inputs=merged,
        client_request_id=client_request_id,
        deadline=clock.iso(
            now + timedelta(seconds=int(task.definition.get("timeoutSeconds", 3600)))
        ),
    )
    for attempt in range(6):
        try:
            runs_dal.create_run(
                run, extra_writes=quota.usage_writes(principal.org_id, now, principal.org_settings)
            )
            break
        except runs_dal.IdempotencyConflict as conflict:
            return _replay(conflict.run_id, principal)
        except runs_dal.TransactionRefused as refused:
            if "ConditionalCheckFailed" in refused.reasons:
                raise quota.exceeded(principal.org_id, now) from refused
            # TransactionConflict: a concurrent create touched the same claim or counter.
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
            if client_request_id and (
                existing := _existing_for_request(task_id, client_request_id, principal)
            ):
                return existing
    else:
        raise ServiceUnavailable(message="create run: transaction conflicts persisted")
    stepfunctions.start_run(run.id)
    return CreatedRun(run, created=True)


def _existing_for_request(
    task_id: str, client_request_id: str, principal: Principal
) -> CreatedRun | None:
    from runhook import keys
    from runhook.dal.dynamo import get

    claim = get(keys.idempotency_pk(task_id, client_request_id), keys.IDEMPOTENCY_SK)
    return _replay(str(claim["runId"]), principal) if claim else None


def _replay(run_id: str, principal: Principal) -> CreatedRun:
    """The run an earlier request with the same clientRequestId created.

    A run still PENDING may never have been started (StartExecution failed after the
    transaction): start it. StartExecution by name is idempotent, so a replay racing the
    original request, or one after the run was claimed, starts nothing twice.
    """
    run = runs_dal.get_run(run_id)
    if run is None:  # the claim is written in the same transaction as the run
        raise NotFound("run_not_found")
    if run.org_id != principal.org_id:
        raise NotFound("task_not_found")
    if run.status is RunStatus.PENDING:
        stepfunctions.start_run(run.id)
    return CreatedRun(run, created=False)


def cancel_run(principal: Principal, run_id: str, reason: str | None) -> Run:
    if reason is not None and len(reason) > MAX_CANCEL_REASON:
        raise InvalidRequest("invalid_cancel_reason")
    run = visible_run(principal, run_id)
    if not run.active:
        return run
    cancelled = runs_dal.transition(
        run_id,
        allowed_from=ACTIVE_STATUSES,
        changes={
            "status": RunStatus.CANCELLED,
            "cancel_reason": reason,
            "finished_at": clock.now_iso(),
        },
        remove=["waiting"],
    )
    if cancelled is None:  # it finished meanwhile: report what it is now
        return visible_run(principal, run_id)
    # Read the token after the cancel is committed: an approval parked a moment ago is
    # seen here, and one parking later finds the run inactive and stands down itself.
    token = (runs_dal.get_run_item(run_id) or {}).get("taskToken")
    if token:
        stepfunctions.send_task_failure(str(token), "Cancelled", reason or "cancelled")
    stepfunctions.stop_run(run_id, reason or "cancelled")
    events.publish_run("task-run.cancelled", cancelled)
    return cancelled


def resume_run(
    principal: Principal,
    run_id: str,
    approved: bool,
    data: dict[str, Any] | None,
    comment: str | None,
) -> Run:
    if data is not None and len(json.dumps(data)) > MAX_RESUME_DATA_BYTES:
        raise InvalidRequest("resume_data_too_large", limit=MAX_RESUME_DATA_BYTES)
    run = visible_run(principal, run_id)
    item = runs_dal.get_run_item(run_id) or {}
    token = item.get("taskToken")
    if run.status is not RunStatus.RUNNING or run.waiting is None or not token:
        raise Conflict("run_not_waiting")
    answered = runs_dal.transition(
        run_id,
        allowed_from={RunStatus.RUNNING},
        changes={},
        remove=["waiting", "taskToken"],
        condition="taskToken = :token",
        condition_values={":token": token},
    )
    if answered is None:
        raise Conflict("run_not_waiting")
    answer = {"approved": approved, "data": data, "comment": comment}
    if not stepfunctions.send_task_success(str(token), answer):
        raise Conflict("run_not_waiting")
    events.publish_run("task-run.updated", answered)
    return answered


def list_task_runs(principal: Principal, task_id: str) -> list[Run]:
    _require_uuid(task_id, "invalid_task_id")
    task = tasks_dal.get_task(task_id)
    if task is None or task.org_id != principal.org_id:
        raise NotFound("task_not_found")
    return runs_dal.list_task_runs(task_id, limit=50)


def read_logs(
    principal: Principal, run_id: str, after: str | None, limit: int
) -> tuple[list[LogEntry], str | None]:
    visible_run(principal, run_id)
    if after is not None and not clock.is_uuid(after):
        raise InvalidRequest("invalid_cursor")
    return runs_dal.list_logs(run_id, after=after, limit=limit)


__all__ = ["CreatedRun", "QuotaExceeded", "cancel_run", "create_run", "resume_run", "visible_run"]
