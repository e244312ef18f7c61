"""Organization settings (IP allowlist, quota, rate limits) and API keys."""

from __future__ import annotations

import ipaddress
from typing import Any

from runhook import clock
from runhook.dal.auth import AuthRepository
from runhook.errors import InvalidRequest, NotFound
from runhook.models import ApiKey, OrganizationSettings, Principal, Scope
from runhook.services.authentication import ip_allowed
from runhook.services.credentials import CredentialCache
from runhook.services.quota import Quota

SCOPES: frozenset[str] = frozenset({"admin", "runs"})


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


class OrganizationService:
    def __init__(
        self, auth: AuthRepository, quota: Quota, credentials: CredentialCache | None = None
    ) -> None:
        self.auth = auth
        self.quota = quota
        # The authenticator's memory of this container: forgotten here on every change of
        # the organization's settings or keys, so they apply at once in this container.
        self.credentials = credentials

    def describe(self, principal: Principal) -> dict[str, Any]:
        org = self.auth.get_org(principal.org_id)
        if org is None:
            raise NotFound("organization_not_found")
        return {
            "id": principal.org_id,
            "name": org.name,
            "createdAt": org.created_at,
            "ipAllowlist": org.ip_allowlist,
            "rateLimit": {
                "perSecond": org.settings.rateLimitPerSecond,
                "burst": org.settings.rateLimitBurst,
            },
            "usage": self.quota.usage(principal.org_id, clock.now()),
        }

    def update(
        self, principal: Principal, changes: OrganizationSettings, caller_ip: str, force: bool
    ) -> dict[str, Any]:
        """Apply a PATCH (bounded by OrganizationSettings: the API refused anything out of
        range); refuses an allowlist that would lock the caller out (unless `force`).

        The whole document is written back as read, so a value stored out of bounds
        before (clamped when read) is stored within them from now on.
        """
        org = self.auth.get_org(principal.org_id)
        if org is None:
            raise NotFound("organization_not_found")
        update = {
            name: getattr(changes, name)
            for name in OrganizationSettings.model_fields
            if getattr(changes, name) is not None
        }
        if changes.ipAllowlist is not None:
            allowlist = normalise_allowlist(changes.ipAllowlist)
            if allowlist and not force and not ip_allowed(caller_ip, allowlist):
                raise InvalidRequest("allowlist_excludes_caller", callerIp=caller_ip)
            update["ipAllowlist"] = allowlist
        settings = org.settings.model_copy(update=update)
        if not self.auth.update_org_settings(principal.org_id, settings):
            raise NotFound("organization_not_found")
        self._forget(principal.org_id)
        return self.describe(principal)

    def create_key(self, principal: Principal, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
        unknown = sorted(set(scopes) - SCOPES)
        if unknown:
            raise InvalidRequest(
                "invalid_scopes", errors=[{"path": "scopes", "message": f"unknown: {unknown}"}]
            )
        typed: list[Scope] = [s for s in ("admin", "runs") if s in scopes]  # type: ignore[misc]
        return self.auth.create_key(principal.org_id, name, typed)

    def list_keys(self, principal: Principal) -> list[ApiKey]:
        return self.auth.list_keys(principal.org_id)

    def revoke_key(self, principal: Principal, key_id: str) -> None:
        if not clock.is_uuid(key_id):
            raise InvalidRequest("invalid_key_id")
        revoked = self.auth.revoke_key(principal.org_id, key_id)
        self._forget(principal.org_id)
        if not revoked:
            raise NotFound("api_key_not_found")

    def _forget(self, org_id: str) -> None:
        if self.credentials is not None:
            self.credentials.forget_org(org_id)
