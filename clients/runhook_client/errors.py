"""Exceptions of the SDK: one class per kind of refusal, each carrying the API's `detail`.

The API answers every refusal as `{"detail": "<snake_case_code>", …}` (docs/api-contract.md);
callers branch on the class (`except NotFound`) or on `.detail` (`"run_not_waiting"`), and
`.body` keeps the extra fields (`errors`, `usage`, …) for whoever needs them.
"""

from __future__ import annotations

from typing import Any


class RunhookError(Exception):
    """Anything the SDK could not do: `.status` (None when no answer came), `.detail`, `.body`."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        detail: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        self.body = body


class InvalidRequest(RunhookError):
    """400: a malformed id, body or query (`.body["errors"]` lists the problems, if any)."""


class Unauthorized(RunhookError):
    """401: no key, or a malformed, unknown or revoked one."""


class UsageLimitExceeded(RunhookError):
    """402: the organization's run quota is used up (`.body["usage"]`)."""


class Forbidden(RunhookError):
    """403: the caller's IP is not allowed, or the key lacks the scope."""


class NotFound(RunhookError):
    """404: missing, or not visible to this key's organization."""


class Conflict(RunhookError):
    """409: the resource is not in a state that allows this (e.g. `run_not_waiting`)."""


class PayloadTooLarge(RunhookError):
    """413: the body is over the API's limit."""


class RateLimited(RunhookError):
    """429 after the SDK's retries ran out (`.retry_after` seconds, when the API said)."""

    retry_after: float | None = None


class ServiceUnavailable(RunhookError):
    """503 after the SDK's retries ran out: a transient dependency failure."""

    retry_after: float | None = None


class ServerError(RunhookError):
    """Another 5xx: a bug of the service (it should never answer one)."""


class TransportError(RunhookError):
    """No HTTP answer at all: connection refused, DNS, timeout (`.__cause__` is httpx's)."""


class WaitTimeout(RunhookError):
    """`runs.wait` gave up before the run finished; `.run` is the last state seen."""

    def __init__(self, message: str, run: Any) -> None:
        super().__init__(message)
        self.run = run


_BY_STATUS: dict[int, type[RunhookError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    402: UsageLimitExceeded,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidRequest,
    429: RateLimited,
    503: ServiceUnavailable,
}


def error_for(status: int, body: Any, retry_after: float | None = None) -> RunhookError:
    """The exception for an error answer (status ≥ 400) whose JSON body is `body`."""
    detail = body.get("detail") if isinstance(body, dict) else None
    code = detail if isinstance(detail, str) else None
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else RunhookError)
    error = cls(f"{status} {code or 'error'}", status=status, detail=code, body=body)
    if isinstance(error, RateLimited | ServiceUnavailable):
        error.retry_after = retry_after
    return error
