"""Organization settings (IP allowlist, quota, rate limits) and API keys."""

from __future__ import annotations

import ipaddress
from typing import Any

from runhook import clock
from runhook.dal import auth as auth_dal
from runhook.errors import InvalidRequest, NotFound
from runhook.models import ApiKey, Principal, Scope
from runhook.services import quota

SCOPES: frozenset[str] = frozenset({"admin", "runs"})


def describe(principal: Principal) -> dict[str, Any]:
    org = auth_dal.get_org(principal.org_id)
    if org is None:
        raise NotFound("organization_not_found")
    settings = org.get("settings") or {}
    return {
        "id": principal.org_id,
        "name": org.get("name"),
        "createdAt": org.get("createdAt"),
        "ipAllowlist": settings.get("ipAllowlist", []),
        "rateLimit": {
            "perSecond": settings.get("rateLimitPerSecond"),
            "burst": settings.get("rateLimitBurst"),
        },
        "usage": quota.usage(principal.org_id, clock.now()),
    }


def normalise_allowlist(entries: list[str]) -> list[str]:
    out = []
    errors = []
    for i, entry in enumerate(entries):
        try:
            out.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
        except ValueError:
            errors.append({"path": f"ipAllowlist[{i}]", "message": f"not a CIDR: {entry!r}"})
    if errors:
        raise InvalidRequest("invalid_ip_allowlist", errors=errors)
    return out


def update(
    principal: Principal, changes: dict[str, Any], caller_ip: str, force: bool
) -> dict[str, Any]:
    from runhook.api.deps import ip_allowed  # pure function; no FastAPI import cost in workers

    org = auth_dal.get_org(principal.org_id)
    if org is None:
        raise NotFound("organization_not_found")
    settings = dict(org.get("settings") or {})
    if changes.get("ipAllowlist") is not None:
        allowlist = normalise_allowlist(changes["ipAllowlist"])
        if allowlist and not force and not ip_allowed(caller_ip, allowlist):
            raise InvalidRequest("allowlist_excludes_caller", callerIp=caller_ip)
        settings["ipAllowlist"] = allowlist
    for field in ("monthlyRunQuota", "rateLimitPerSecond", "rateLimitBurst"):
        if changes.get(field) is not None:
            settings[field] = changes[field]
    auth_dal.update_org_settings(principal.org_id, settings)
    return describe(principal)


def create_key(principal: Principal, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    unknown = sorted(set(scopes) - SCOPES)
    if unknown:
        raise InvalidRequest(
            "invalid_scopes", errors=[{"path": "scopes", "message": f"unknown: {unknown}"}]
        )
    typed: list[Scope] = [s for s in ("admin", "runs") if s in scopes]  # type: ignore[misc]
    return auth_dal.create_key(principal.org_id, name, typed)


def revoke_key(principal: Principal, key_id: str) -> None:
    if not clock.is_uuid(key_id):
        raise InvalidRequest("invalid_key_id")
    if not auth_dal.revoke_key(principal.org_id, key_id):
        raise NotFound("api_key_not_found")
