"""Runs: the Komos contract, plus resume."""

# No `from __future__ import annotations`: FastAPI would evaluate each endpoint parameter's
# annotation from its string when it builds the route (the API's first request builds these).

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Body, Query, Response

from runhook.api.deps import BulkCancels, Caller, Runs
from runhook.api.resources import (
    BulkCancelJobResponse,
    BulkCancelResult,
    LogPage,
    RunList,
    RunResponse,
    TaskRunList,
)
from runhook.api.routes import api_router
from runhook.api.schemas import (
    BulkCancelBody,
    CancelRunBody,
    CreateRunBody,
    ResumeRunBody,
    RetryRunBody,
    merged,
)
from runhook.clock import iso
from runhook.errors import InvalidRequest
from runhook.models import RunFilter, RunStatus

router = api_router("runs")

CREATE_RUN_EXAMPLES = {
    "inputs": {
        "summary": "Inputs and an idempotency key",
        "value": {"inputs": {"orderId": "A-1001"}, "clientRequestId": "order-A-1001"},
    }
}


@router.post(
    "/tasks/{taskId}/runs",
    status_code=202,
    response_model=RunResponse,
    summary="Queue a run of a saved task",
    description="202 with the new run; 200 with the existing one when a run with this "
    "`clientRequestId` exists already (an idempotent retry).",
    responses={
        200: {
            "model": RunResponse,
            "description": "A run with this clientRequestId exists already: it is returned",
        },
        **merged(
            _400="invalid_task_id, invalid_inputs (+errors), invalid_client_request_id, "
            "invalid_tags (+errors), invalid_metadata (+errors), invalid_body",
            _402="usage_limit_exceeded (+usage)",
            _404="task_not_found",
        ),
    },
)
def create_run(
    taskId: str,
    caller: Caller,
    runs: Runs,
    response: Response,
    body: Annotated[CreateRunBody | None, Body(openapi_examples=CREATE_RUN_EXAMPLES)] = None,
) -> dict[str, Any]:
    body = body or CreateRunBody()
    created = runs.create_run(
        caller,
        taskId,
        body.inputs,
        body.clientRequestId,
        tags=body.tags,
        metadata=body.metadata,
    )
    if not created.created:
        response.status_code = 200
    return {"run": runs.resource(created.run)}


@router.get(
    "/tasks/{taskId}/runs",
    response_model=TaskRunList,
    summary="The 50 most recent runs of a task, newest first",
    responses=merged(_400="invalid_task_id", _404="task_not_found"),
)
def list_task_runs(taskId: str, caller: Caller, runs: Runs) -> dict[str, Any]:
    return {"runs": [runs.resource(r) for r in runs.list_task_runs(caller, taskId)]}


def _timestamp(value: datetime | None) -> str | None:
    return iso(value) if value else None


@router.get(
    "/task-runs",
    response_model=RunList,
    summary="The organization's recent runs, newest first, with filters and cursor pagination",
    responses=merged(_400="invalid_query (+errors), invalid_page_token, invalid_task_id"),
    description="`tag` lists the runs carrying that tag (one Query of the tag's index "
    "partition); it combines with `taskId`, `triggerType` and the created bounds, not with "
    "`status`.",
)
def list_runs(
    caller: Caller,
    runs: Runs,
    pageSize: Annotated[int, Query(ge=1, le=100)] = 50,
    pageToken: Annotated[str | None, Query(max_length=2048)] = None,
    status: RunStatus | None = None,
    taskId: Annotated[str | None, Query(max_length=36)] = None,
    triggerType: Literal["manual", "schedule", "api"] | None = None,
    createdAfter: datetime | None = None,
    createdBefore: datetime | None = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> dict[str, Any]:
    if tag is not None and status is not None:
        raise InvalidRequest(
            "invalid_query",
            errors=[{"path": "status", "message": "cannot be combined with tag"}],
        )
    if createdAfter and createdBefore and iso(createdAfter) >= iso(createdBefore):
        # DynamoDB refuses an empty BETWEEN range (it was a 500).
        raise InvalidRequest(
            "invalid_query",
            errors=[{"path": "createdBefore", "message": "must be later than createdAfter"}],
        )
    filters = RunFilter(
        status=status.value if status else None,
        task_id=taskId,
        trigger_type=triggerType,
        created_after=_timestamp(createdAfter),
        created_before=_timestamp(createdBefore),
        tag=tag,
    )
    page, token = runs.list_runs(caller, filters, page_size=pageSize, page_token=pageToken)
    return {"runs": [runs.resource(r) for r in page], "nextPageToken": token}


@router.get(
    "/task-runs/{runId}",
    response_model=RunResponse,
    summary="The latest status of a run",
    responses=merged(_400="invalid_run_id", _404="run_not_found"),
)
def get_run(runId: str, caller: Caller, runs: Runs) -> dict[str, Any]:
    return {"run": runs.resource(runs.visible_run(caller, runId))}


@router.get(
    "/task-runs/{runId}/logs",
    response_model=LogPage,
    summary="A run's log entries in ascending time; `after` and `limit` for tailing",
    responses=merged(
        _400="invalid_run_id, invalid_cursor, invalid_query (+errors)", _404="run_not_found"
    ),
)
def get_run_logs(
    runId: str,
    caller: Caller,
    runs: Runs,
    after: Annotated[str | None, Query(max_length=36)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> dict[str, Any]:
    entries, cursor = runs.read_logs(caller, runId, after, limit)
    return {"runId": runId, "logEntries": [e.to_resource() for e in entries], "nextCursor": cursor}


@router.post(
    "/task-runs/{runId}/cancel",
    status_code=202,
    response_model=RunResponse,
    summary="Cancel a pending or running run (a finished run is returned unchanged)",
    responses=merged(
        _400="invalid_run_id, invalid_cancel_reason, invalid_body", _404="run_not_found"
    ),
)
def cancel_run(
    runId: str,
    caller: Caller,
    runs: Runs,
    body: Annotated[CancelRunBody | None, Body()] = None,
) -> dict[str, Any]:
    reason = body.reason if body else None
    return {"run": runs.resource(runs.cancel_run(caller, runId, reason))}


@router.post(
    "/task-runs/{runId}/resume",
    status_code=202,
    response_model=RunResponse,
    summary="Answer a run that waits for a human (approval step)",
    responses=merged(
        _400="invalid_run_id, resume_data_too_large (+limit), invalid_body",
        _404="run_not_found",
        _409="run_not_waiting",
    ),
)
def resume_run(runId: str, caller: Caller, body: ResumeRunBody, runs: Runs) -> dict[str, Any]:
    run = runs.resume_run(caller, runId, body.approved, body.data, body.comment)
    return {"run": runs.resource(run)}


# -- run management (issue 14): retry, bulk cancel ---------------------------------------------


@router.post(
    "/task-runs/{runId}/retry",
    status_code=202,
    response_model=RunResponse,
    summary="Retry a FAILED or CANCELLED run from the step that failed",
    description="202 with the new run: the same task version and inputs, `retryOf` set (and "
    "`retriedBy` on this run); the leading steps that succeeded are not run again, their "
    "results are carried over (`reusedSteps`). `fromStart` reruns every step; `inputs` "
    "replaces the inputs (and reruns every step). 200 with the existing retry when one with "
    "this `clientRequestId` exists already.",
    responses={
        200: {"model": RunResponse, "description": "The retry with this clientRequestId"},
        **merged(
            _400="invalid_run_id, invalid_inputs (+errors), invalid_client_request_id, "
            "invalid_body",
            _402="usage_limit_exceeded (+usage)",
            _404="run_not_found",
            _409="run_not_retryable (+runStatus), run_already_retried (+retriedBy), "
            "task_version_not_found, client_request_id_in_use (+runId)",
        ),
    },
)
def retry_run(
    runId: str,
    caller: Caller,
    runs: Runs,
    response: Response,
    body: Annotated[RetryRunBody | None, Body()] = None,
) -> dict[str, Any]:
    body = body or RetryRunBody()
    created = runs.retry_run(
        caller,
        runId,
        from_start=body.fromStart,
        inputs=body.inputs,
        client_request_id=body.clientRequestId,
    )
    if not created.created:
        response.status_code = 200
    return {"run": runs.resource(created.run)}


@router.post(
    "/task-runs/cancel",
    status_code=202,
    response_model=BulkCancelResult,
    summary="Cancel many runs: up to 100 by id, or every match of a filter in the background",
    description="`runIds`: each run is cancelled as by cancelRun and the answer lists what "
    "was cancelled and what was skipped (`already_terminal`, `not_found`). A filter "
    "(`taskId`, `status` PENDING or RUNNING, `createdBefore`; `limit` runs at most, default "
    "1000) starts a job that proceeds in the background: `job` is its resource, "
    "getBulkCancel its progress.",
    responses=merged(
        _400="invalid_bulk_cancel (+errors), invalid_run_ids (+errors), invalid_filter "
        "(+errors), invalid_cancel_reason, invalid_body"
    ),
)
def cancel_runs(caller: Caller, body: BulkCancelBody, bulk: BulkCancels) -> dict[str, Any]:
    filtered = any(v is not None for v in (body.taskId, body.status, body.createdBefore))
    if (body.runIds is None) == (not filtered) or (body.runIds is not None and body.limit):
        message = "either runIds or a filter (taskId, status, createdBefore, limit)"
        raise InvalidRequest("invalid_bulk_cancel", errors=[{"path": "", "message": message}])
    if body.runIds is not None:
        return bulk.cancel_ids(caller, body.runIds, body.reason).to_resource()
    # Here, not at import: this module is loaded by a container's first run request.
    from runhook.services.bulk_cancel import CancelFilter

    wanted = CancelFilter(body.taskId, body.status, body.createdBefore, body.limit)
    return bulk.start(caller, wanted, body.reason).to_resource()


@router.get(
    "/task-runs/cancel/{jobId}",
    response_model=BulkCancelJobResponse,
    summary="The progress of a filter-based bulk cancel",
    responses=merged(_400="invalid_job_id", _404="job_not_found"),
)
def get_bulk_cancel(jobId: str, caller: Caller, bulk: BulkCancels) -> dict[str, Any]:
    return {"job": bulk.get_job(caller, jobId).to_resource()}
