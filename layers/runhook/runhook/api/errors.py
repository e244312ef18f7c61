"""The one place where domain errors become HTTP answers."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from runhook.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    QuotaExceeded,
    RateLimited,
    RunhookError,
    ServiceUnavailable,
    Unauthorized,
)

logger = Logger(child=True)

# Domain error → HTTP status; any other RunhookError is bad input (400).
STATUS_OF: dict[type[RunhookError], int] = {
    InvalidRequest: 400,
    Unauthorized: 401,
    QuotaExceeded: 402,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    RateLimited: 429,
    ServiceUnavailable: 503,
}

_STATUS_CODES = {
    400: "invalid_body",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def status_of(exc: RunhookError) -> int:
    for kind in type(exc).__mro__:
        if kind in STATUS_OF:
            return STATUS_OF[kind]
    return 400


def error_response(
    status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=headers)


def _validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, str]]]:
    errors = []
    where = "body"
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in {"query", "path", "header"}:
            where = loc[0]
        errors.append({"path": ".".join(loc[1:]), "message": str(err.get("msg", ""))})
    code = {"query": "invalid_query", "path": "invalid_path", "header": "invalid_header"}.get(
        where, "invalid_body"
    )
    return code, errors[:50]


def install(app: FastAPI) -> None:
    @app.exception_handler(RunhookError)
    async def _domain(_: Request, exc: RunhookError) -> JSONResponse:
        headers = None
        if isinstance(exc, RateLimited | ServiceUnavailable):
            headers = {"Retry-After": str(exc.retry_after)}
        if isinstance(exc, ServiceUnavailable):
            logger.warning("dependency unavailable", extra={"reason": str(exc)})
        return error_response(status_of(exc), exc.code, headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        code, errors = _validation_detail(exc)
        return error_response(400, code, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail.islower() else None
        code = detail or _STATUS_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, dict(exc.headers) if exc.headers else None)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        request_id = request.headers.get("x-request-id") or _aws_request_id(request)
        logger.exception(
            "unhandled error", extra={"requestId": request_id, "path": request.url.path}
        )
        return error_response(500, "internal_error", requestId=request_id)


def _aws_request_id(request: Request) -> str | None:
    context = request.scope.get("aws.context")
    return getattr(context, "aws_request_id", None)
