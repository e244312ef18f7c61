"""Who is calling: an API key, the organization's IP allowlist and the key's rate limit.

HTTP-free: the API passes the presented secret and the caller's address in and maps
the errors raised here to 401 / 403 / 429 (runhook.api.errors). A verified key and its
organization are remembered for a few seconds (runhook.services.credentials); the rate limit
is counted in the table on every request.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from datetime import timedelta

from runhook import clock
from runhook.dal.auth import AuthRepository, hash_key
from runhook.errors import Forbidden, Unauthorized
from runhook.models import Principal
from runhook.services.credentials import CredentialCache, Credentials
from runhook.services.ratelimit import RateLimiter

MAX_KEY_LENGTH = 200
KEY_PREFIXES = ("sk_live_", "sk_test_")
TOUCH_EVERY = timedelta(minutes=1)


def ip_allowed(ip: str, allowlist: list[str]) -> bool:
    """Whether `ip` is inside one of the CIDRs of `allowlist` (an empty list allows all).

    An entry that is not a CIDR (only a hand-written item holds one: the API refuses them)
    matches no address, so an allowlist without a valid entry refuses everyone: it fails
    closed, and never raises.
    """
    if not allowlist:
        return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for cidr in allowlist:
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except (TypeError, ValueError):
            continue
        if address.version == network.version and address in network:
            return True
    return False


class Authenticator:
    def __init__(
        self,
        auth: AuthRepository,
        rate_limiter: RateLimiter,
        credentials: CredentialCache | None = None,
    ) -> None:
        self.auth = auth
        self.rate_limiter = rate_limiter
        # None: nothing remembered, every request reads the key and its organization.
        self.credentials = credentials if credentials is not None else CredentialCache(ttl=0)

    def authenticate(self, secret: str | None, source_ip: str) -> Principal:
        """The caller behind `secret`, checked against its organization's allowlist and
        counted against its key's rate limit."""
        if not secret or len(secret) > MAX_KEY_LENGTH or not secret.startswith(KEY_PREFIXES):
            raise Unauthorized()
        known = self._credentials(secret)
        key, org = known.found.key, known.org
        if not ip_allowed(source_ip, org.ip_allowlist):
            raise Forbidden("ip_not_allowed")
        self.rate_limiter.check(key.id, org.settings)
        now = clock.now()
        stale = clock.iso(now - TOUCH_EVERY)
        if not key.last_used_at or key.last_used_at < stale:
            used_at = clock.iso(now)
            self.auth.touch_key(known.found, used_at, stale)
            touched = key.model_copy(update={"last_used_at": used_at})
            self.credentials.refresh(Credentials(replace(known.found, key=touched), org))
        return Principal(
            org_id=key.org_id, key_id=key.id, scopes=list(key.scopes), org_settings=org.settings
        )

    def _credentials(self, secret: str) -> Credentials:
        """The key and its organization: remembered, or read (consistently) and remembered."""
        remembered = self.credentials.get(hash_key(secret))
        if remembered is not None:
            return remembered
        mark = self.credentials.reading()
        found = self.auth.lookup_key(secret)
        if found is None:
            raise Unauthorized()
        org = self.auth.get_org(found.key.org_id)
        if org is None:
            raise Unauthorized()
        known = Credentials(found, org)
        self.credentials.put(known, since=mark)
        return known
