"""`Runhook`: the synchronous client (`AsyncRunhook` in aio.py is its twin).

Each method builds its request in `_ops` (shared with the async client) and sends it through
`Runhook.send`, the one place that retries 429/503 and turns error answers into exceptions.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
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


class Runhook:
    """A client of one runhook service with one API key.

    `api_key` defaults to RUNHOOK_API_KEY, `base_url` (the service root, with or without
    /public/v1) to RUNHOOK_API_URL, then http://127.0.0.1:3000 (`runhook dev`).
    `transport` is httpx's (tests pass a MockTransport); `sleep` is what waits between retries.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Any = time.sleep,
    ) -> None:
        self.settings = Settings.resolve(api_key, base_url, timeout)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.settings.base_url + API_PREFIX,
            headers=self.settings.headers(),
            timeout=self.settings.timeout,
            transport=transport,
        )
        self.tasks = Tasks(self)
        self.runs = Runs(self)
        self.webhooks = Webhooks(self)
        self.api_keys = ApiKeys(self)
        self.secrets = Secrets(self)

    def send(self, call: _ops.Call[T]) -> T:
        """Send `call`, retrying 429/503 per `self.retry`; its parsed answer or a RunhookError."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(
                    call.method, call.path, params=dict(call.params), json=call.json
                )
            except httpx.HTTPError as exc:
                raise transport_error(exc, self.settings.base_url) from exc
            if should_retry(response, attempt, self.retry):
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                self._sleep(self.retry.delay(attempt, retry_after))
                continue
            return call.parse(decode(response))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Runhook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Tasks:
    def __init__(self, client: Runhook) -> None:
        self._c = client

    def create(self, definition: Mapping[str, Any]) -> Task:
        return self._c.send(_ops.create_task(definition))

    def get(self, task_id: str) -> Task:
        return self._c.send(_ops.get_task(task_id))

    def list(self, *, page_size: int | None = None) -> Iterator[Task]:
        """Every task of the organization, newest first, fetching pages as it goes."""
        token: str | None = None
        while True:
            items, token = self._c.send(_ops.list_tasks(page_size, token))
            yield from items
            if not token:
                return

    def update(self, task_id: str, definition: Mapping[str, Any]) -> Task:
        """Save a new version (runs keep the version they started with)."""
        return self._c.send(_ops.update_task(task_id, definition))

    def delete(self, task_id: str) -> None:
        self._c.send(_ops.delete_task(task_id))

    def pause_schedule(self, task_id: str) -> Task:
        """Pause the task's schedule (a new version; already paused: unchanged)."""
        return self._c.send(_ops.pause_task_schedule(task_id))

    def resume_schedule(self, task_id: str) -> Task:
        """Resume the task's schedule (a new version; already running: unchanged)."""
        return self._c.send(_ops.resume_task_schedule(task_id))


class Runs:
    def __init__(self, client: Runhook) -> None:
        self._c = client

    def create(
        self,
        task_id: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        client_request_id: str | None = None,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Run:
        """Queue a run. The same `client_request_id` for the same task returns the run it
        started the first time (safe to retry after a lost answer). `tags` (at most 10)
        are merged with the task's default tags; `metadata` is a JSON object (≤ 4 KB)."""
        call = _ops.create_run(task_id, inputs, client_request_id, tags, metadata)
        return self._c.send(call)

    def get(self, run_id: str) -> Run:
        return self._c.send(_ops.get_run(run_id))

    def list(
        self,
        *,
        status: str | None = None,
        task_id: str | None = None,
        trigger_type: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        page_size: int | None = None,
        tag: str | None = None,
    ) -> Iterator[Run]:
        """The organization's runs, newest first, across every page (nextPageToken)."""
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
            items, token = self._c.send(_ops.list_runs(filters, token))
            yield from items
            if not token:
                return

    def cancel(self, run_id: str, *, reason: str | None = None) -> Run:
        return self._c.send(_ops.cancel_run(run_id, reason))

    def retry(
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
        return self._c.send(call)

    def cancel_many(
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
        return self._c.send(_ops.cancel_runs(body))

    def bulk_cancel_job(self, job_id: str) -> BulkCancelJob:
        return self._c.send(_ops.get_bulk_cancel(job_id))

    def resume(
        self,
        run_id: str,
        *,
        approve: bool,
        data: Mapping[str, Any] | None = None,
        comment: str | None = None,
    ) -> Run:
        """Answer a run waiting for a human: approve continues, reject fails it."""
        return self._c.send(_ops.resume_run(run_id, approve, data, comment))

    def logs(self, run_id: str, *, after: str | None = None, limit: int | None = None) -> LogPage:
        """One page of log entries after the entry `after` (ascending time)."""
        return self._c.send(_ops.run_logs(run_id, after, limit))

    def tail(
        self, run_id: str, *, poll: float = 1.0, after: str | None = None
    ) -> Iterator[LogEntry]:
        """Every log entry after `after` as it arrives, until the run is finished and read.

        The run's status is read before its logs: once a terminal status is seen, the
        entries read afterwards are all there will be.
        """
        while True:
            finished = self.get(run_id).is_terminal
            while True:
                page = self.logs(run_id, after=after)
                yield from page.log_entries
                if page.log_entries:
                    after = page.log_entries[-1].id
                if not page.next_cursor:
                    break
            if finished:
                return
            time.sleep(poll)

    def wait(
        self, run_id: str, *, timeout: float = 600.0, poll: float = 0.5, max_poll: float = 5.0
    ) -> Run:
        """Poll until the run is COMPLETED, FAILED or CANCELLED and return it.

        Polls start every `poll` seconds and slow down (x1.5 each time) to `max_poll`; after `timeout`
        seconds WaitTimeout is raised with the last run seen. A failed run is returned,
        not raised: look at `run.status` and `run.error`.
        """
        deadline = time.monotonic() + timeout
        interval = poll
        while True:
            run = self.get(run_id)
            if run.is_terminal:
                return run
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(f"run {run_id} still {run.status} after {timeout:g}s", run)
            time.sleep(min(interval, left))
            interval = min(interval * 1.5, max_poll)


class Endpoints:
    def __init__(self, client: Runhook) -> None:
        self._c = client

    def create(
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
        return self._c.send(_ops.create_endpoint(body))

    def list(self) -> list[WebhookEndpoint]:
        return self._c.send(_ops.list_endpoints())

    def get(self, endpoint_id: str) -> WebhookEndpoint:
        return self._c.send(_ops.get_endpoint(endpoint_id))

    def update(self, endpoint_id: str, **changes: Any) -> WebhookEndpoint:
        """PATCH with the API's field names (url, events, taskId, description, enabled)."""
        return self._c.send(_ops.update_endpoint(endpoint_id, changes))

    def delete(self, endpoint_id: str) -> None:
        self._c.send(_ops.delete_endpoint(endpoint_id))

    def rotate_secret(
        self, endpoint_id: str, *, overlap_seconds: int | None = None
    ) -> WebhookEndpoint:
        return self._c.send(_ops.rotate_secret(endpoint_id, overlap_seconds))

    def test(self, endpoint_id: str, *, event_type: str | None = None) -> WebhookDelivery:
        return self._c.send(_ops.test_endpoint(endpoint_id, event_type))


class Webhooks:
    def __init__(self, client: Runhook) -> None:
        self._c = client
        self.endpoints = Endpoints(client)

    def deliveries(
        self, endpoint_id: str, *, status: str | None = None, page_size: int | None = None
    ) -> Iterator[WebhookDelivery]:
        """The endpoint's deliveries (with attempts), newest first, across every page."""
        token: str | None = None
        while True:
            call = _ops.list_deliveries(endpoint_id, status, page_size, token)
            items, token = self._c.send(call)
            yield from items
            if not token:
                return

    def delivery(self, delivery_id: str) -> WebhookDelivery:
        return self._c.send(_ops.get_delivery(delivery_id))

    def replay(self, delivery_id: str) -> WebhookDelivery:
        """Send a delivery again, with the same webhook-id."""
        return self._c.send(_ops.replay_delivery(delivery_id))

    def recover(
        self, endpoint_id: str, *, since: datetime, until: datetime | None = None
    ) -> RecoverResult:
        """Replay the endpoint's failed deliveries created in [since, until) from the DLQ."""
        return self._c.send(_ops.recover(endpoint_id, since, until))


class ApiKeys:
    def __init__(self, client: Runhook) -> None:
        self._c = client

    def create(self, name: str, *, scopes: list[str] | None = None) -> ApiKey:
        return self._c.send(_ops.create_key(name, scopes))

    def list(self) -> list[ApiKey]:
        return self._c.send(_ops.list_keys())

    def revoke(self, key_id: str) -> None:
        self._c.send(_ops.revoke_key(key_id))


class Secrets:
    """Organization secrets (admin keys): values go in and never come out; a browser
    step's saved session can be forgotten here too."""

    def __init__(self, client: Runhook) -> None:
        self._c = client

    def put(self, name: str, value: str, *, description: str | None = None) -> Secret:
        """Create or replace `name` (upper snake case); the answer never holds the value."""
        return self._c.send(_ops.put_secret(name, value, description))

    def list(self) -> list[Secret]:
        return self._c.send(_ops.list_secrets())

    def delete(self, name: str) -> None:
        self._c.send(_ops.delete_secret(name))

    def forget_browser_session(self, name: str) -> None:
        self._c.send(_ops.delete_browser_session(name))
