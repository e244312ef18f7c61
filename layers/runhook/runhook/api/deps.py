"""Request dependencies: who is calling, from where, and what they may do."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from runhook import clock
from runhook.dal import auth as auth_dal
from runhook.errors import Forbidden, Unauthorized
from runhook.models import Principal, Scope
from runhook.services import ratelimit
from runhook.settings import get_settings

bearer_scheme = HTTPBearer(auto_error=False, description="`Authorization: Bearer sk_live_…`")
api_key_scheme = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The same key, Kapso style"
)

MAX_KEY_LENGTH = 200
TOUCH_EVERY = timedelta(minutes=1)


def source_ip(request: Request) -> str:
    """The caller's address: API Gateway's request context on AWS, the socket locally."""
    event: dict[str, Any] | None = request.scope.get("aws.event")
    if event:
        ip = event.get("requestContext", {}).get("http", {}).get("sourceIp")
        if ip:
            return str(ip)
    hops = get_settings().trusted_proxy_hops
    forwarded = request.headers.get("x-forwarded-for")
    if hops and forwarded:
        chain = [part.strip() for part in forwarded.split(",") if part.strip()]
        if len(chain) >= hops:
            return chain[-hops]
    return request.client.host if request.client else ""


def ip_allowed(ip: str, allowlist: list[str]) -> bool:
    if not allowlist:
        return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for cidr in allowlist:
        network = ipaddress.ip_network(cidr, strict=False)
        if address.version == network.version and address in network:
            return True
    return False


def _presented_key(bearer: HTTPAuthorizationCredentials | None, header_key: str | None) -> str:
    secret = bearer.credentials if bearer else header_key
    if (
        not secret
        or len(secret) > MAX_KEY_LENGTH
        or not secret.startswith(("sk_live_", "sk_test_"))
    ):
        raise Unauthorized()
    return secret


def principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    header_key: Annotated[str | None, Security(api_key_scheme)],
) -> Principal:
    """Authenticate the key, then apply the organization's IP allowlist."""
    found = auth_dal.lookup_key(_presented_key(bearer, header_key))
    if found is None:
        raise Unauthorized()
    key, item = found
    org = auth_dal.get_org(key.org_id)
    if org is None:
        raise Unauthorized()
    allowlist = (org.get("settings") or {}).get("ipAllowlist") or []
    if not ip_allowed(source_ip(request), allowlist):
        raise Forbidden("ip_not_allowed")
    ratelimit.check(key.id, org.get("settings") or {})
    now = clock.now()
    stale = clock.iso(now - TOUCH_EVERY)
    if not item.get("lastUsedAt") or str(item["lastUsedAt"]) < stale:
        auth_dal.touch_key(key.org_id, key.id, str(item["hash"]), clock.iso(now), stale)
    request.state.org = org
    return Principal(
        org_id=key.org_id,
        key_id=key.id,
        scopes=list(key.scopes),
        org_settings=org.get("settings") or {},
    )


def require(scope: Scope) -> Callable[[Principal], Principal]:
    def _check(caller: Annotated[Principal, Depends(principal)]) -> Principal:
        if not caller.can(scope):
            raise Forbidden("forbidden")
        return caller

    return _check


Caller = Annotated[Principal, Depends(require("runs"))]
Admin = Annotated[Principal, Depends(require("admin"))]
