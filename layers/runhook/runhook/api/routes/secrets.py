"""Organization secrets and saved browser sessions (scope `admin`; docs/secrets.md).

A secret's value goes in with `PUT` and never comes out: no answer carries it, and the
API never logs a request body. Names are upper snake case (`SHOP_PASSWORD`, at most 64
characters), values 4 characters to 8 KB. Another organization's secret or session is
not found (404), never forbidden.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from runhook.api.deps import Admin, BrowserSessions, Secrets
from runhook.api.resources.admin import SecretList, SecretResponse
from runhook.api.routes import api_router
from runhook.api.schemas import merged

router = api_router("secrets")


class PutSecretBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(
        description="The value (4 characters to 8 KB of UTF-8); write-only: never returned"
    )
    description: str | None = Field(default=None, max_length=500, description="Kept when omitted")

    @field_validator("value", "description")
    @classmethod
    def _utf8(cls, text: str | None) -> str | None:
        """JSON may escape a lone surrogate (a `\\ud800` escape): text UTF-8 cannot hold."""
        if text is not None:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("not valid Unicode text") from None
        return text


@router.put(
    "/secrets/{name}",
    response_model=SecretResponse,
    summary="Create or replace a secret (its value is never returned)",
    responses=merged(
        _400="invalid_body (+errors), invalid_secret_name, secret_too_large (+maxBytes), "
        "secret_too_short (+minLength)"
    ),
)
def put_secret(name: str, body: PutSecretBody, caller: Admin, secrets: Secrets) -> dict[str, Any]:
    record = secrets.put(caller, name, body.value, body.description)
    return {"secret": record.to_resource()}


@router.get(
    "/secrets",
    response_model=SecretList,
    summary="The organization's secrets: names, descriptions and dates, never values",
    responses=merged(),
)
def list_secrets(caller: Admin, secrets: Secrets) -> dict[str, Any]:
    return {"secrets": [record.to_resource() for record in secrets.list(caller)]}


@router.delete(
    "/secrets/{name}",
    status_code=204,
    summary="Delete a secret (runs of tasks that use it then fail with secret_not_found)",
    responses=merged(_400="invalid_secret_name", _404="secret_not_found"),
)
def delete_secret(name: str, caller: Admin, secrets: Secrets) -> Response:
    secrets.delete(caller, name)
    return Response(status_code=204)


@router.delete(
    "/browser-sessions/{name}",
    status_code=204,
    summary="Forget a saved browser session (the next step naming it starts signed out)",
    responses=merged(_400="invalid_session_name", _404="browser_session_not_found"),
)
def delete_browser_session(name: str, caller: Admin, sessions: BrowserSessions) -> Response:
    sessions.delete(caller, name)
    return Response(status_code=204)
