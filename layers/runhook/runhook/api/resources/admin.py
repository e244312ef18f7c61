"""The secrets, API keys and organization routes' resources.

Part of runhook.api.resources (its docstring states the conventions), in a module of its own
so that a request that needs none of these does not define them.
"""

# No `from __future__ import annotations`: see runhook.api.resources.
from pydantic import Field

from runhook.api.resources import Identifier, Resource, Timestamp
from runhook.models import Scope

# -- organization secrets (docs/secrets.md) ---------------------------------------------------


class Secret(Resource):
    """A secret's metadata: its value is write-only and never in any answer."""

    name: str = Field(examples=["SHOP_PASSWORD"])
    description: str | None
    createdAt: Timestamp
    updatedAt: Timestamp
    lastUsedAt: Timestamp | None = Field(
        description="When a run last resolved it (recorded at most once an hour)"
    )


class SecretResponse(Resource):
    secret: Secret


class SecretList(Resource):
    secrets: list[Secret]


# -- keys and organization ------------------------------------------------------------------


class ApiKey(Resource):
    id: Identifier
    name: str
    prefix: str = Field(description="The secret's first characters, to recognise it")
    scopes: list[Scope]
    createdAt: Timestamp
    lastUsedAt: Timestamp | None


class CreatedApiKey(ApiKey):
    secret: str = Field(description="The key itself: shown only in this answer")


class CreatedApiKeyResponse(Resource):
    apiKey: CreatedApiKey


class ApiKeyList(Resource):
    apiKeys: list[ApiKey]


class RateLimit(Resource):
    perSecond: float | None = Field(description="null: the service default (20)")
    burst: int | None = Field(description="null: the service default")


class Usage(Resource):
    used: int = Field(ge=0, description="Runs created this period")
    limit: int = Field(ge=0, description="The monthly run quota")
    period: str = Field(examples=["2026-01"], description="Calendar month (UTC)")


class Organization(Resource):
    id: Identifier
    name: str | None
    createdAt: Timestamp | None
    ipAllowlist: list[str] = Field(description="CIDRs allowed to call the API (empty: any)")
    rateLimit: RateLimit
    usage: Usage


class OrganizationResponse(Resource):
    organization: Organization
