"""The SDK against the local cloud: tasks, runs (wait, logs, tail, cancel, resume,
pagination, idempotent create), webhooks, and the SDK held against the OpenAPI document."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from runhook_client import (
    Conflict,
    InvalidRequest,
    NotFound,
    Run,
    Runhook,
    WebhookVerificationError,
    verify_webhook,
)
from runhook_client._ops import OPERATIONS
from tests.e2e.webhooks.webhook_helpers import Receiver
from tests.support.orgs import Organizations

pytestmark = pytest.mark.localcloud

NAP_TASK = {
    "name": "Nap",
    "inputs": {"type": "object", "properties": {"who": {"type": "string", "default": "you"}}},
    "steps": [
        {"id": "hello", "type": "log", "message": "hello {{ inputs.who }}"},
        {"id": "nap", "type": "wait", "seconds": 1},
        {"id": "bye", "type": "log", "message": "bye"},
    ],
    "outputs": {"who": "inputs.who"},
}
APPROVAL_TASK = {
    "name": "Approve",
    "steps": [{"id": "approve", "type": "approval", "prompt": "OK?", "timeoutSeconds": 300}],
    "outputs": {"by": "steps.approve.data.user"},
}
LONG_TASK = {"name": "Long", "steps": [{"id": "nap", "type": "wait", "seconds": 60}]}


@pytest.fixture()
def sdk(organizations: Organizations, local_cloud: Any) -> Iterator[Runhook]:
    org = organizations.create("sdk")
    with Runhook(org.key, base_url=local_cloud.api_url) as client:
        yield client


def until_waiting(client: Runhook, run_id: str, timeout: float = 60) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.runs.get(run_id)
        if run.waiting is not None:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} never waited")


def test_a_run_from_create_to_completed_with_its_logs(sdk: Runhook) -> None:
    task = sdk.tasks.create(NAP_TASK)
    assert (task.name, task.version) == ("Nap", 1)
    request_id = f"req-{uuid.uuid4()}"
    run = sdk.runs.create(task.id, {"who": "Ada"}, client_request_id=request_id)
    assert run.status == "PENDING" and run.client_request_id == request_id
    again = sdk.runs.create(task.id, {"who": "Ada"}, client_request_id=request_id)
    assert again.id == run.id  # idempotent: nothing new started

    done = sdk.runs.wait(run.id, timeout=60)
    assert done.status == "COMPLETED" and done.outputs == {"who": "Ada"}
    assert done.progress is not None and done.progress.current_step == done.progress.steps_total
    assert done.timestamps.finished_at is not None

    messages = [e.message for e in sdk.runs.logs(run.id).log_entries]
    assert "hello Ada" in messages and "bye" in messages
    tailed = list(sdk.runs.tail(run.id, poll=0.2))
    assert [e.message for e in tailed] == messages
    first = sdk.runs.logs(run.id, limit=1)
    assert first.next_cursor == first.log_entries[0].id
    rest = sdk.runs.logs(run.id, after=first.next_cursor)
    assert [e.message for e in first.log_entries + rest.log_entries] == messages


def test_tail_follows_a_run_while_it_runs(sdk: Runhook) -> None:
    task = sdk.tasks.create(NAP_TASK)
    run = sdk.runs.create(task.id)
    tailed = [e.message for e in sdk.runs.tail(run.id, poll=0.1)]
    assert "hello you" in tailed and "bye" in tailed
    assert sdk.runs.get(run.id).status == "COMPLETED"  # tail ends only once finished


def test_resume_approves_a_waiting_run_and_a_second_answer_conflicts(sdk: Runhook) -> None:
    task = sdk.tasks.create(APPROVAL_TASK)
    run = sdk.runs.create(task.id)
    waiting = until_waiting(sdk, run.id)
    assert waiting.status == "RUNNING" and waiting.waiting and waiting.waiting.node_id == "approve"
    sdk.runs.resume(run.id, approve=True, data={"user": "ada"}, comment="fine")
    done = sdk.runs.wait(run.id, timeout=60)
    assert done.status == "COMPLETED" and done.outputs == {"by": "ada"}
    with pytest.raises(Conflict) as caught:
        sdk.runs.resume(run.id, approve=False)
    assert caught.value.detail == "run_not_waiting" and caught.value.status == 409


def test_cancel_and_the_errors_callers_branch_on(sdk: Runhook) -> None:
    task = sdk.tasks.create(LONG_TASK)
    run = sdk.runs.create(task.id)
    cancelled = sdk.runs.cancel(run.id, reason="changed my mind")
    assert cancelled.status == "CANCELLED" and cancelled.cancel_reason == "changed my mind"
    assert sdk.runs.wait(run.id, timeout=5).status == "CANCELLED"
    with pytest.raises(NotFound) as missing:
        sdk.runs.get(str(uuid.uuid4()))
    assert missing.value.detail == "run_not_found"
    with pytest.raises(InvalidRequest) as malformed:
        sdk.runs.get("not-a-uuid")
    assert malformed.value.detail == "invalid_run_id"


def test_list_walks_every_page_and_tasks_update_and_delete(sdk: Runhook) -> None:
    task = sdk.tasks.create(LONG_TASK)
    started = {sdk.runs.create(task.id).id for _ in range(5)}
    listed = [r.id for r in sdk.runs.list(task_id=task.id, page_size=2)]
    assert sorted(listed) == sorted(started) and len(listed) == 5
    for run_id in started:
        sdk.runs.cancel(run_id)
    assert {r.id for r in sdk.runs.list(task_id=task.id, status="CANCELLED")} == started

    updated = sdk.tasks.update(task.id, {**LONG_TASK, "name": "Longer"})
    assert (updated.version, sdk.tasks.get(task.id).name) == (2, "Longer")
    assert task.id in [t.id for t in sdk.tasks.list(page_size=1)]
    sdk.tasks.delete(task.id)
    with pytest.raises(NotFound):
        sdk.tasks.get(task.id)


def test_webhook_endpoint_test_send_verify_and_replay(sdk: Runhook) -> None:
    receiver = Receiver(None, 0)
    try:
        endpoint = sdk.webhooks.endpoints.create(receiver.url, description="sdk")
        assert endpoint.secret and endpoint.secret.startswith("whsec_")
        assert endpoint.id in [e.id for e in sdk.webhooks.endpoints.list()]
        delivery = sdk.webhooks.endpoints.test(endpoint.id)
        got = receiver.wait_for(1)[0]
        event = verify_webhook(got.body, got.headers, endpoint.secret)
        assert isinstance(event, dict) and got.event == delivery.event_type
        with pytest.raises(WebhookVerificationError):
            verify_webhook(got.body, got.headers, "whsec_" + "A" * 32)
        replayed = sdk.webhooks.replay(delivery.id)
        again = receiver.wait_for(2)[1]
        assert replayed.webhook_id == delivery.webhook_id == again.webhook_id
        listed = list(sdk.webhooks.deliveries(endpoint.id))
        assert [d.id for d in listed] == [delivery.id]
        rotated = sdk.webhooks.endpoints.rotate_secret(endpoint.id, overlap_seconds=0)
        assert rotated.secret and rotated.secret != endpoint.secret
        sdk.webhooks.endpoints.delete(endpoint.id)
        with pytest.raises(NotFound):
            sdk.webhooks.endpoints.get(endpoint.id)
    finally:
        receiver.stop()


# operationIds issue 13 names; the SDK's OPERATIONS keys are these same names.
NAMED_BY_THE_ISSUE = (
    "createRun",
    "getRun",
    "listRuns",
    "listTaskRuns",
    "getRunLogs",
    "cancelRun",
    "resumeRun",
    "createTask",
)


def test_every_sdk_operation_is_in_the_openapi_document(local_cloud: Any) -> None:
    document = httpx.get(f"{local_cloud.api_url}/public/v1/openapi.json").json()
    paths = document["paths"]

    def operation(method: str, path: str) -> Any:
        return paths.get(f"/public/v1{path}", paths.get(path, {})).get(method.lower())

    missing = [
        f"{name}: {method} {path}"
        for name, (method, path) in OPERATIONS.items()
        if operation(method, path) is None
    ]
    assert missing == []
    # Once the document names its operations (camelCase, not FastAPI's generated
    # snake_case ids), the ones the issue names must be the SDK's names too.
    renamed = []
    for name in NAMED_BY_THE_ISSUE:
        served = operation(*OPERATIONS[name]).get("operationId", "")
        if served and "_" not in served and served != name:
            renamed.append(f"{name}: the document says {served}")
    assert renamed == []


def aliases(model: type[BaseModel], value: Any, where: str = "run") -> list[str]:
    """The model's fields (wire names, nested models included) missing from `value`."""
    gaps = []
    for name, field in model.model_fields.items():
        alias = field.alias or name
        if alias not in value:
            gaps.append(f"{where}.{alias}")
            continue
        nested = field.annotation
        for candidate in getattr(nested, "__args__", (nested,)):
            is_model = isinstance(candidate, type) and issubclass(candidate, BaseModel)
            if is_model and isinstance(value[alias], dict):
                gaps += aliases(candidate, value[alias], f"{where}.{alias}")
    return gaps


def test_every_field_of_the_sdk_run_is_in_the_api_answer(sdk: Runhook) -> None:
    task = sdk.tasks.create(APPROVAL_TASK)
    run = sdk.runs.create(task.id)
    until_waiting(sdk, run.id)
    raw = sdk._http.get(f"/task-runs/{run.id}").json()["run"]  # what the API really sends
    assert aliases(Run, raw) == []
    sdk.runs.resume(run.id, approve=False)
    failed = sdk.runs.wait(run.id, timeout=60)
    assert failed.status == "FAILED" and failed.error and failed.error.code == "rejected"
    assert aliases(Run, sdk._http.get(f"/task-runs/{run.id}").json()["run"]) == []


def test_the_async_client_runs_the_same_flow(
    organizations: Organizations, local_cloud: Any
) -> None:
    import asyncio

    from runhook_client import AsyncRunhook

    org = organizations.create("sdk-async")

    async def flow() -> tuple[str, list[str], int]:
        async with AsyncRunhook(org.key, base_url=local_cloud.api_url) as client:
            task = await client.tasks.create(NAP_TASK)
            run = await client.runs.create(task.id, {"who": "Bo"}, client_request_id="a-1")
            again = await client.runs.create(task.id, {"who": "Bo"}, client_request_id="a-1")
            assert again.id == run.id
            done = await client.runs.wait(run.id, timeout=60)
            tailed = [e.message async for e in client.runs.tail(run.id, poll=0.2)]
            listed = [r.id async for r in client.runs.list(task_id=task.id, page_size=1)]
            assert listed == [run.id]
            return done.status, tailed, len(listed)

    status, tailed, count = asyncio.run(flow())
    assert status == "COMPLETED" and "hello Bo" in tailed and "bye" in tailed and count == 1


def test_the_async_client_manages_webhooks_and_keys(
    organizations: Organizations, local_cloud: Any
) -> None:
    import asyncio

    from runhook_client import AsyncRunhook
    from tests.support.loopback import LoopbackServer

    org = organizations.create("sdk-async-hooks")
    receiver = LoopbackServer()

    async def flow() -> None:
        async with AsyncRunhook(org.key, base_url=local_cloud.api_url) as client:
            endpoint = await client.webhooks.endpoints.create(receiver.url, description="a")
            assert endpoint.secret and endpoint.secret.startswith("whsec_")
            assert [e.id for e in await client.webhooks.endpoints.list()] == [endpoint.id]
            renamed = await client.webhooks.endpoints.update(endpoint.id, description="b")
            assert renamed.description == "b"
            sent = await client.webhooks.endpoints.test(endpoint.id)
            listed = [d.id async for d in client.webhooks.deliveries(endpoint.id, page_size=1)]
            assert sent.id in listed
            assert (await client.webhooks.delivery(sent.id)).id == sent.id
            key = await client.api_keys.create("async key", scopes=["runs"])
            assert key.id in [k.id for k in await client.api_keys.list()]
            await client.api_keys.revoke(key.id)
            await client.webhooks.endpoints.delete(endpoint.id)
            assert await client.webhooks.endpoints.list() == []

    try:
        asyncio.run(flow())
    finally:
        receiver.stop()
