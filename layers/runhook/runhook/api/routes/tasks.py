"""Tasks: what the dashboard's builder saves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Query, Response

from runhook.api.deps import Caller, Tasks
from runhook.api.resources.tasks import TaskList, TaskResponse
from runhook.api.routes import api_router
from runhook.api.schemas import merged

router = api_router("tasks")

TASK_EXAMPLE = {
    "name": "Fetch order total",
    "inputs": {
        "type": "object",
        "properties": {
            "orderId": {"type": "string"},
            "currency": {"type": "string", "default": "EUR"},
        },
        "required": ["orderId"],
    },
    "steps": [
        {
            "id": "fetch",
            "type": "http",
            "method": "GET",
            "url": "https://shop.example.com/orders/{{ inputs.orderId }}",
        },
        {"id": "total", "type": "transform", "values": {"amount": "steps.fetch.json.total"}},
    ],
    "outputs": {"amount": "steps.total.amount"},
    "timeoutSeconds": 3600,
}
TaskBody = Annotated[dict[str, Any], Body(openapi_examples={"order": {"value": TASK_EXAMPLE}})]
# The body is checked by runhook.tasks.definition (every problem listed in one 400), not by
# FastAPI; the document states its schema, bounds included (added by runhook.api.app).
TASK_SCHEMA = {
    "requestBody": {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TaskDefinition"}}}
    }
}


@router.post(
    "/tasks",
    status_code=201,
    response_model=TaskResponse,
    summary="Save a task (validated: every problem is listed)",
    responses=merged(
        _400="invalid_task (+errors), invalid_schedule (+errors), invalid_body",
        _409="task_exists",
    ),
    openapi_extra=TASK_SCHEMA,
)
def create_task(caller: Caller, body: TaskBody, tasks: Tasks) -> dict[str, Any]:
    return {"task": tasks.create_task(caller, body).to_resource()}


@router.get(
    "/tasks",
    response_model=TaskList,
    summary="The organization's tasks, newest first",
    responses=merged(_400="invalid_page_token, invalid_query (+errors)"),
)
def list_tasks(
    caller: Caller,
    tasks: Tasks,
    pageSize: Annotated[int, Query(ge=1, le=100)] = 50,
    pageToken: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    page, token = tasks.list_tasks(caller, page_size=pageSize, page_token=pageToken)
    return {"tasks": [t.to_resource() for t in page], "nextPageToken": token}


@router.get(
    "/tasks/{taskId}",
    response_model=TaskResponse,
    summary="A task (latest version)",
    responses=merged(_400="invalid_task_id", _404="task_not_found"),
)
def get_task(taskId: str, caller: Caller, tasks: Tasks) -> dict[str, Any]:
    return {"task": tasks.visible_task(caller, taskId).to_resource()}


@router.put(
    "/tasks/{taskId}",
    response_model=TaskResponse,
    summary="Save a new version of a task (runs keep the version they started with)",
    responses=merged(
        _400="invalid_task_id, invalid_task (+errors), invalid_schedule (+errors), invalid_body",
        _404="task_not_found",
        _409="task_modified_concurrently",
    ),
    openapi_extra=TASK_SCHEMA,
)
def update_task(taskId: str, caller: Caller, body: TaskBody, tasks: Tasks) -> dict[str, Any]:
    return {"task": tasks.update_task(caller, taskId, body).to_resource()}


@router.delete(
    "/tasks/{taskId}",
    status_code=204,
    summary="Delete a task (its runs stay readable)",
    responses=merged(_400="invalid_task_id", _404="task_not_found"),
)
def delete_task(taskId: str, caller: Caller, tasks: Tasks) -> Response:
    tasks.delete_task(caller, taskId)
    return Response(status_code=204)


# -- schedule (docs/schedules.md) -----------------------------------------------------------
SCHEDULE_RESPONSES = merged(
    _400="invalid_task_id, invalid_schedule (+errors)",
    _404="task_not_found",
    _409="task_not_scheduled, task_modified_concurrently",
)


@router.post(
    "/tasks/{taskId}/schedule/pause",
    response_model=TaskResponse,
    summary="Pause the task's schedule (a new version with schedule.enabled false)",
    responses=SCHEDULE_RESPONSES,
)
def pause_task_schedule(taskId: str, caller: Caller, tasks: Tasks) -> dict[str, Any]:
    return {"task": tasks.set_schedule_enabled(caller, taskId, enabled=False).to_resource()}


@router.post(
    "/tasks/{taskId}/schedule/resume",
    response_model=TaskResponse,
    summary="Resume the task's schedule (a new version with schedule.enabled true)",
    responses=SCHEDULE_RESPONSES,
)
def resume_task_schedule(taskId: str, caller: Caller, tasks: Tasks) -> dict[str, Any]:
    return {"task": tasks.set_schedule_enabled(caller, taskId, enabled=True).to_resource()}
