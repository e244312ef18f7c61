"""API keys and the organization (scope `admin`)."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from runhook.api.deps import Admin, Organizations, source_ip
from runhook.api.resources.admin import ApiKeyList, CreatedApiKeyResponse, OrganizationResponse
from runhook.api.routes import api_router
from runhook.api.schemas import CreateKeyBody, PatchOrganizationBody, merged

router = api_router("admin")


@router.post(
    "/api-keys",
    status_code=201,
    response_model=CreatedApiKeyResponse,
    summary="Create a key (its secret is shown only now)",
    responses=merged(_400="invalid_body (+errors), invalid_scopes (+errors)"),
)
def create_api_key(caller: Admin, body: CreateKeyBody, orgs: Organizations) -> dict[str, Any]:
    key, secret = orgs.create_key(caller, body.name, body.scopes)
    return {"apiKey": {**key.to_resource(), "secret": secret}}


@router.get(
    "/api-keys",
    response_model=ApiKeyList,
    summary="The organization's active keys",
    responses=merged(),
)
def list_api_keys(caller: Admin, orgs: Organizations) -> dict[str, Any]:
    return {"apiKeys": [k.to_resource() for k in orgs.list_keys(caller)]}


@router.delete(
    "/api-keys/{keyId}",
    status_code=204,
    summary="Revoke a key (at once)",
    responses=merged(_400="invalid_key_id", _404="api_key_not_found"),
)
def revoke_api_key(keyId: str, caller: Admin, orgs: Organizations) -> Response:
    orgs.revoke_key(caller, keyId)
    return Response(status_code=204)


@router.get(
    "/organization",
    response_model=OrganizationResponse,
    summary="Settings, usage and quota",
    responses=merged(_404="organization_not_found"),
)
def get_organization(caller: Admin, orgs: Organizations) -> dict[str, Any]:
    return {"organization": orgs.describe(caller)}


@router.patch(
    "/organization",
    response_model=OrganizationResponse,
    summary="Change the IP allowlist, quota or rate limits",
    responses=merged(
        _400="invalid_body (+errors), invalid_ip_allowlist (+errors), "
        "allowlist_excludes_caller (+callerIp)",
        _404="organization_not_found",
    ),
)
def update_organization(
    caller: Admin, body: PatchOrganizationBody, request: Request, orgs: Organizations
) -> dict[str, Any]:
    return {"organization": orgs.update(caller, body, source_ip(request), body.force)}
