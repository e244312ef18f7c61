"""Domain errors. Each has a public snake_case `code` (the API's `detail`); which HTTP
status a kind of error is, is decided in one place: runhook.api.errors."""

from __future__ import annotations

from typing import Any


class RunhookError(Exception):
    """Base: bad input unless a subclass says otherwise; `extra` goes into the answer."""

    code = "bad_request"

    def __init__(self, code: str | None = None, message: str = "", **extra: Any) -> None:
        super().__init__(message or code or self.code)
        if code:
            self.code = code
        self.extra = extra


class InvalidRequest(RunhookError):
    code = "invalid_body"


class Unauthorized(RunhookError):
    code = "unauthorized"


class QuotaExceeded(RunhookError):
    code = "usage_limit_exceeded"


class Forbidden(RunhookError):
    code = "forbidden"


class NotFound(RunhookError):
    code = "not_found"


class Conflict(RunhookError):
    code = "conflict"


class RateLimited(RunhookError):
    code = "rate_limited"

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__()
        self.retry_after = retry_after


class ServiceUnavailable(RunhookError):
    """A dependency failed transiently; the caller should retry."""

    code = "service_unavailable"

    def __init__(self, message: str = "", retry_after: int = 2) -> None:
        super().__init__(message=message)
        self.retry_after = retry_after
