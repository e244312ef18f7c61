"""Request bodies and documented responses (the OpenAPI document is built from these)."""

# No `from __future__ import annotations`: pydantic would evaluate each field's annotation
# from its string (see runhook.api.resources).

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runhook.models import OrganizationSettings

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 1},
    }
}
# runhook.api.app turns this key into the response's schema: Error with `detail` an enum.
DETAIL_CODES = "x-detail-codes"
# The error responses name runhook.api.resources.Error by reference, not as a `model`:
# FastAPI builds a pydantic field for every (route, status) given a model (72 of the run
# routes' 107 fields, ~13 ms of the API's first request), only for the document, where
# runhook.api.app registers the schema once (`openapi_document`).
ERROR_SCHEMA = "#/components/schemas/Error"


def responses(**codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI error responses, `responses(_400="invalid_run_id, invalid_body", ...)`: each
    an `Error` whose `detail` is one of the codes listed (a `(+errors)` note after a code
    says what else the body carries), with `Retry-After` on 429 and 503."""
    out: dict[int | str, dict[str, Any]] = {}
    for key, description in codes.items():
        status = int(key.lstrip("_"))
        listed = [part.strip().split(" ")[0] for part in description.split(",")]
        response: dict[str, Any] = {
            "description": f"detail: {description}",
            DETAIL_CODES: listed,
        }
        if status in (429, 503):
            response["headers"] = _RETRY_AFTER
        # Last, where FastAPI put a model's content (the document's key order is kept).
        response["content"] = {"application/json": {"schema": {"$ref": ERROR_SCHEMA}}}
        out[status] = response
    return out


COMMON = responses(
    _401="unauthorized",
    _403="ip_not_allowed, forbidden",
    _413="payload_too_large",
    _429="rate_limited (with Retry-After)",
    _503="service_unavailable (with Retry-After)",
)


def merged(**codes: str) -> dict[int | str, dict[str, Any]]:
    """COMMON and the route's own; a status in both carries the codes of both."""
    out = dict(COMMON)
    for status, response in responses(**codes).items():
        if status in out:
            common = out[status]
            response = {
                **response,
                "description": f"{common['description']}, {response['description'][8:]}",
                DETAIL_CODES: [*common[DETAIL_CODES], *response[DETAIL_CODES]],
            }
        out[status] = response
    return out


class CreateRunBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    inputs: dict[str, Any] | None = Field(
        default=None, description="Merged over the task's defaults"
    )
    clientRequestId: str | None = Field(
        default=None, min_length=1, max_length=255, description="Idempotency key"
    )
    tags: list[str] | None = Field(  # issue 14
        default=None,
        description="At most 10 tags, each 1-64 characters of letters, digits and _ . : / = + @ -"
        " (merged with the task's default tags)",
    )
    metadata: dict[str, Any] | None = Field(
        default=None, description="A JSON object of at most 4 KB, stored with the run"
    )


class CancelRunBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reason: str | None = Field(default=None, max_length=1024)


class ResumeRunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approved: bool
    data: dict[str, Any] | None = None
    comment: str | None = Field(default=None, max_length=4096)


class CreateKeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(default_factory=lambda: ["runs"], min_length=1)


class PatchOrganizationBody(OrganizationSettings):
    """The settings to change (each within the bounds the schema states), and `force`."""

    # A request body: built at import like every body here (OrganizationSettings defers).
    model_config = ConfigDict(defer_build=False)

    force: bool = Field(
        default=False, description="Save an allowlist even if it excludes the caller"
    )


# -- run management (issue 14): retry, bulk cancel, tags and metadata ----------------------


class RetryRunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fromStart: bool = Field(
        default=False,
        strict=True,
        description="Rerun every step (default: carry over the steps that succeeded)",
    )
    inputs: dict[str, Any] | None = Field(
        default=None, description="New inputs (merged over the task's defaults); implies fromStart"
    )
    clientRequestId: str | None = Field(
        default=None, min_length=1, max_length=255, description="Idempotency key"
    )


class BulkCancelBody(BaseModel):
    """Either `runIds` or a filter (at least one of `taskId`, `status`, `createdBefore`)."""

    model_config = ConfigDict(extra="forbid")

    runIds: list[str] | None = Field(
        default=None, description="At most 100 run ids (others' runs count as not found)"
    )
    taskId: str | None = Field(default=None, max_length=36, description="Filter: the task's runs")
    status: str | None = Field(
        default=None, description="Filter: PENDING or RUNNING (default: both)"
    )
    createdBefore: str | None = Field(
        default=None, max_length=64, description="Filter: created before (ISO 8601, exclusive)"
    )
    reason: str | None = Field(default=None, max_length=1024)
    limit: int | None = Field(
        default=None, description="Filter: cancel at most this many runs (1-1000, default 1000)"
    )
