"""Domain errors. The API maps them to HTTP in one place (runhook.api.errors)."""

from __future__ import annotations

from typing import Any


class RunhookError(Exception):
    """Base: `code` is the public snake_case `detail`, `status` the HTTP status."""

    status = 400
    code = "bad_request"

    def __init__(self, code: str | None = None, message: str = "", **extra: Any) -> None:
        super().__init__(message or code or self.code)
        if code:
            self.code = code
        self.extra = extra


class InvalidRequest(RunhookError):
    status = 400
    code = "invalid_body"


class Unauthorized(RunhookError):
    status = 401
    code = "unauthorized"


class QuotaExceeded(RunhookError):
    status = 402
    code = "usage_limit_exceeded"


class Forbidden(RunhookError):
    status = 403
    code = "forbidden"


class NotFound(RunhookError):
    status = 404
    code = "not_found"


class Conflict(RunhookError):
    status = 409
    code = "conflict"


class PayloadTooLarge(RunhookError):
    status = 413
    code = "payload_too_large"


class RateLimited(RunhookError):
    status = 429
    code = "rate_limited"

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__()
        self.retry_after = retry_after


class ServiceUnavailable(RunhookError):
    """A dependency failed transiently; the caller should retry."""

    status = 503
    code = "service_unavailable"

    def __init__(self, message: str = "", retry_after: int = 2) -> None:
        super().__init__(message=message)
        self.retry_after = retry_after
