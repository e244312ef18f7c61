"""`AsyncRunhook`: the asyncio twin of `Runhook`, the same methods awaited.

Requests come from the same `_ops` builders, so the two clients cannot disagree on paths,
bodies or models; only the sending (httpx.AsyncClient, asyncio.sleep) differs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx

from runhook_client import _ops
from runhook_client._transport import (
    API_PREFIX,
    RetryPolicy,
    Settings,
    decode,
    parse_retry_after,
    should_retry,
    transport_error,
)
from runhook_client.errors import WaitTimeout
from runhook_client.models import (
    ApiKey,
    BulkCancelJob,
    BulkCancelResult,
    LogEntry,
    LogPage,
    RecoverResult,
    Run,
    Secret,
    Task,
    WebhookDelivery,
    WebhookEndpoint,
)

T = TypeVar("T")


class AsyncRunhook:
    """Like `Runhook` (same arguments), for asyncio code: `await client.runs.get(id)`."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Any = asyncio.sleep,
    ) -> None:
        self.settings = Settings.resolve(api_key, base_url, timeout)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=self.settings.base_url + API_PREFIX,
            headers=self.settings.headers(),
            timeout=self.settings.timeout,
            transport=transport,
        )
        self.tasks = AsyncTasks(self)
        self.runs = AsyncRuns(self)
        self.webhooks = AsyncWebhooks(self)
        self.api_keys = AsyncApiKeys(self)
        self.secrets = AsyncSecrets(self)

    async def send(self, call: _ops.Call[T]) -> T:
        """Send `call`, retrying 429/503 per `self.retry`; its parsed answer or a RunhookError."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.request(
                    call.method, call.path, params=dict(call.params), json=call.json
                )
            except httpx.HTTPError as exc:
                raise transport_error(exc, self.settings.base_url) from exc
            if should_retry(response, attempt, self.retry):
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                await self._sleep(self.retry.delay(attempt, retry_after))
                continue
            return call.parse(decode(response))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncRunhook:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class AsyncTasks:
    def __init__(self, client: AsyncRunhook) -> None:
        self._c = client

    async def create(self, definition: Mapping[str, Any]) -> Task:
        return await self._c.send(_ops.create_task(definition))

    async def get(self, task_id: str) -> Task:
        return await self._c.send(_ops.get_task(task_id))

    async def list(self, *, page_size: int | None = None) -> AsyncIterator[Task]:
        token: str | None = None
        while True:
            items, token = await self._c.send(_ops.list_tasks(page_size, token))
            for item in items:
                yield item
            if not token:
                return

    async def update(self, task_id: str, definition: Mapping[str, Any]) -> Task:
        return await self._c.send(_ops.update_task(task_id, definition))

    async def delete(self, task_id: str) -> None:
        await self._c.send(_ops.delete_task(task_id))

    async def pause_schedule(self, task_id: str) -> Task:
        return await self._c.send(_ops.pause_task_schedule(task_id))

    async def resume_schedule(self, task_id: str) -> Task:
        return await self._c.send(_ops.resume_task_schedule(task_id))


class AsyncRuns:
    def __init__(self, client: AsyncRunhook) -> None:
        self._c = client

    async def create(
        self,
        task_id: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        client_request_id: str | None = None,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Run:
        call = _ops.create_run(task_id, inputs, client_request_id, tags, metadata)
        return await self._c.send(call)

    async def get(self, run_id: str) -> Run:
        return await self._c.send(_ops.get_run(run_id))

    async def list(
        self,
        *,
        status: str | None = None,
        task_id: str | None = None,
        trigger_type: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        page_size: int | None = None,
        tag: str | None = None,
    ) -> AsyncIterator[Run]:
        filters = {
            "status": status,
            "taskId": task_id,
            "triggerType": trigger_type,
            "createdAfter": created_after,
            "createdBefore": created_before,
            "pageSize": page_size,
            "tag": tag,
        }
        token: str | None = None
        while True:
            items, token = await self._c.send(_ops.list_runs(filters, token))
            for item in items:
                yield item
            if not token:
                return

    async def cancel(self, run_id: str, *, reason: str | None = None) -> Run:
        return await self._c.send(_ops.cancel_run(run_id, reason))

    async def retry(
        self,
        run_id: str,
        *,
        from_start: bool = False,
        inputs: Mapping[str, Any] | None = None,
        client_request_id: str | None = None,
    ) -> Run:
        """A new run of a FAILED or CANCELLED run that skips the steps that succeeded
        (their results carried over); `from_start` or new `inputs` rerun every step."""
        call = _ops.retry_run(run_id, from_start, inputs, client_request_id)
        return await self._c.send(call)

    async def cancel_many(
        self,
        run_ids: Sequence[str] | None = None,
        *,
        task_id: str | None = None,
        status: str | None = None,
        created_before: datetime | None = None,
        limit: int | None = None,
        reason: str | None = None,
    ) -> BulkCancelResult:
        """Cancel up to 100 runs by id (answered at once), or every match of a filter
        (`.job` proceeds in the background: poll it with `bulk_cancel_job`)."""
        body = {
            "runIds": list(run_ids) if run_ids is not None else None,
            "taskId": task_id,
            "status": status,
            "createdBefore": created_before,
            "limit": limit,
            "reason": reason,
        }
        return await self._c.send(_ops.cancel_runs(body))

    async def bulk_cancel_job(self, job_id: str) -> BulkCancelJob:
        return await self._c.send(_ops.get_bulk_cancel(job_id))

    async def resume(
        self,
        run_id: str,
        *,
        approve: bool,
        data: Mapping[str, Any] | None = None,
        comment: str | None = None,
    ) -> Run:
        return await self._c.send(_ops.resume_run(run_id, approve, data, comment))

    async def logs(
        self, run_id: str, *, after: str | None = None, limit: int | None = None
    ) -> LogPage:
        return await self._c.send(_ops.run_logs(run_id, after, limit))

    async def tail(
        self, run_id: str, *, poll: float = 1.0, after: str | None = None
    ) -> AsyncIterator[LogEntry]:
        """As `Runhook.runs.tail`: status first, then the logs, until finished and read."""
        while True:
            finished = (await self.get(run_id)).is_terminal
            while True:
                page = await self.logs(run_id, after=after)
                for entry in page.log_entries:
                    yield entry
                if page.log_entries:
                    after = page.log_entries[-1].id
                if not page.next_cursor:
                    break
            if finished:
                return
            await asyncio.sleep(poll)

    async def wait(
        self,
        run_id: str,
        *,
        timeout: float = 600.0,  # noqa: ASYNC109 - the same signature as Runhook.runs.wait
        poll: float = 0.5,
        max_poll: float = 5.0,
    ) -> Run:
        """As `Runhook.runs.wait`: the terminal run, or WaitTimeout after `timeout` s."""
        deadline = time.monotonic() + timeout
        interval = poll
        while True:
            run = await self.get(run_id)
            if run.is_terminal:
                return run
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(f"run {run_id} still {run.status} after {timeout:g}s", run)
            await asyncio.sleep(min(interval, left))
            interval = min(interval * 1.5, max_poll)


class AsyncEndpoints:
    """`Runhook.webhooks.endpoints`, awaited."""

    def __init__(self, client: AsyncRunhook) -> None:
        self._c = client

    async def create(
        self,
        url: str,
        *,
        events: list[str] | None = None,
        task_id: str | None = None,
        description: str | None = None,
        enabled: bool = True,
    ) -> WebhookEndpoint:
        """Register an endpoint; the answer's `.secret` is the only time it is shown."""
        body: dict[str, Any] = {"url": url, "enabled": enabled}
        for name, value in (("events", events), ("taskId", task_id), ("description", description)):
            if value is not None:
                body[name] = value
        return await self._c.send(_ops.create_endpoint(body))

    async def list(self) -> list[WebhookEndpoint]:
        return await self._c.send(_ops.list_endpoints())

    async def get(self, endpoint_id: str) -> WebhookEndpoint:
        return await self._c.send(_ops.get_endpoint(endpoint_id))

    async def update(self, endpoint_id: str, **changes: Any) -> WebhookEndpoint:
        """PATCH with the API's field names (url, events, taskId, description, enabled)."""
        return await self._c.send(_ops.update_endpoint(endpoint_id, changes))

    async def delete(self, endpoint_id: str) -> None:
        await self._c.send(_ops.delete_endpoint(endpoint_id))

    async def rotate_secret(
        self, endpoint_id: str, *, overlap_seconds: int | None = None
    ) -> WebhookEndpoint:
        return await self._c.send(_ops.rotate_secret(endpoint_id, overlap_seconds))

    async def test(self, endpoint_id: str, *, event_type: str | None = None) -> WebhookDelivery:
        return await self._c.send(_ops.test_endpoint(endpoint_id, event_type))


class AsyncWebhooks:
    """`Runhook.webhooks`, awaited: endpoints, deliveries, replay and recover."""

    def __init__(self, client: AsyncRunhook) -> None:
        self._c = client
        self.endpoints = AsyncEndpoints(client)

    async def deliveries(
        self, endpoint_id: str, *, status: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[WebhookDelivery]:
        """The endpoint's deliveries (with attempts), newest first, across every page."""
        token: str | None = None
        while True:
            call = _ops.list_deliveries(endpoint_id, status, page_size, token)
            items, token = await self._c.send(call)
            for item in items:
                yield item
            if not token:
                return

    async def delivery(self, delivery_id: str) -> WebhookDelivery:
        return await self._c.send(_ops.get_delivery(delivery_id))

    async def replay(self, delivery_id: str) -> WebhookDelivery:
        """Send a delivery again, with the same webhook-id."""
        return await self._c.send(_ops.replay_delivery(delivery_id))

    async def recover(
        self, endpoint_id: str, *, since: datetime, until: datetime | None = None
    ) -> RecoverResult:
        """Replay the endpoint's failed deliveries created in [since, until) from the DLQ."""
        return await self._c.send(_ops.recover(endpoint_id, since, until))


class AsyncApiKeys:
    """`Runhook.api_keys`, awaited."""

    def __init__(self, client: AsyncRunhook) -> None:
        self._c = client

    async def create(self, name: str, *, scopes: list[str] | None = None) -> ApiKey:
        return await self._c.send(_ops.create_key(name, scopes))

    async def list(self) -> list[ApiKey]:
        return await self._c.send(_ops.list_keys())

    async def revoke(self, key_id: str) -> None:
        await self._c.send(_ops.revoke_key(key_id))


class AsyncSecrets:
    """Organization secrets (admin keys): values go in and never come out; a browser
    step's saved session can be forgotten here too."""

    def __init__(self, client: AsyncRunhook) -> None:
        self._c = client

    async def put(self, name: str, value: str, *, description: str | None = None) -> Secret:
        """Create or replace `name` (upper snake case); the answer never holds the value."""
        return await self._c.send(_ops.put_secret(name, value, description))

    async def list(self) -> list[Secret]:
        return await self._c.send(_ops.list_secrets())

    async def delete(self, name: str) -> None:
        await self._c.send(_ops.delete_secret(name))

    async def forget_browser_session(self, name: str) -> None:
        await self._c.send(_ops.delete_browser_session(name))
