"""Request bodies and documented responses (the OpenAPI document is built from these)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runhook.models import OrganizationSettings


class ErrorBody(BaseModel):
    detail: str = Field(description="snake_case error code")


def responses(**codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses: `responses(_400="invalid_run_id, invalid_body", ...)`."""
    out: dict[int | str, dict[str, Any]] = {}
    for key, description in codes.items():
        out[int(key.lstrip("_"))] = {"model": ErrorBody, "description": f"detail: {description}"}
    return out


COMMON = responses(
    _401="unauthorized",
    _403="ip_not_allowed, forbidden",
    _413="payload_too_large",
    _429="rate_limited (with Retry-After)",
    _503="service_unavailable (with Retry-After)",
)


def merged(**codes: str) -> dict[int | str, dict[str, Any]]:
    return {**COMMON, **responses(**codes)}


class CreateRunBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    inputs: dict[str, Any] | None = Field(
        default=None, description="Merged over the task's defaults"
    )
    clientRequestId: str | None = Field(
        default=None, min_length=1, max_length=255, description="Idempotency key"
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

    force: bool = Field(
        default=False, description="Save an allowlist even if it excludes the caller"
    )
