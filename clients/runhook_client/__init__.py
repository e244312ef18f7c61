"""runhook_client: the Python SDK of runhook's public API (docs/sdk-and-cli.md).

    from runhook_client import Runhook

    client = Runhook()  # RUNHOOK_API_KEY, RUNHOOK_API_URL (default http://127.0.0.1:3000)
    run = client.runs.create(task_id, {"orderId": "48219"}, client_request_id="order-48219")
    run = client.runs.wait(run.id, timeout=300)
    for entry in client.runs.logs(run.id).log_entries:
        print(entry.message)

Written by hand, not generated, on purpose: the surface is small and stable (a dozen
resources), and what callers need most is what generators don't give — retries that honour
Retry-After, iterators over cursor pages, `wait` and log tailing, exceptions carrying the
API's `detail` code, models tolerant of fields added later. tests/sdk/test_contract.py holds
it against the API's OpenAPI document, so it cannot drift silently.

This package is for callers: it is never shipped to Lambda and imports nothing of `runhook`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runhook_client.client import Runhook
from runhook_client.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RunhookError,
    ServerError,
    ServiceUnavailable,
    TransportError,
    Unauthorized,
    UsageLimitExceeded,
    WaitTimeout,
)
from runhook_client.models import (
    ApiKey,
    BulkCancelJob,
    BulkCancelResult,
    DeliveryAttempt,
    EndpointHealth,
    LogEntry,
    LogPage,
    RecoverResult,
    Run,
    RunError,
    RunProgress,
    RunTimestamps,
    Secret,
    Task,
    TaskSchedule,
    Waiting,
    WebhookDelivery,
    WebhookEndpoint,
)
from runhook_client.webhooks import WebhookVerificationError, verify_webhook

if TYPE_CHECKING:
    from runhook_client.aio import AsyncRunhook

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """`AsyncRunhook` on first use: asyncio costs sync callers (the CLI) import time."""
    if name == "AsyncRunhook":
        from runhook_client.aio import AsyncRunhook

        return AsyncRunhook
    raise AttributeError(f"module 'runhook_client' has no attribute {name!r}")


__all__ = [
    "ApiKey",
    "AsyncRunhook",
    "BulkCancelJob",
    "BulkCancelResult",
    "Conflict",
    "DeliveryAttempt",
    "EndpointHealth",
    "Forbidden",
    "InvalidRequest",
    "LogEntry",
    "LogPage",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RecoverResult",
    "Run",
    "RunError",
    "RunProgress",
    "RunTimestamps",
    "Runhook",
    "RunhookError",
    "Secret",
    "ServerError",
    "ServiceUnavailable",
    "Task",
    "TaskSchedule",
    "TransportError",
    "Unauthorized",
    "UsageLimitExceeded",
    "WaitTimeout",
    "Waiting",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookVerificationError",
    "verify_webhook",
]
