"""Organizations and API keys.

Keys are stored only as SHA-256 hashes (lookup item `KEY#<hash>`) plus a listing record
under the organization that shows the key's visible prefix.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runhook import clock, keys
from runhook.dal.codec import dumps, from_attributes, loads, stored_value, to_attributes
from runhook.dal.expressions import Delete, Put, Update, UpdateItem, key, prefix_query
from runhook.dal.table import Table
from runhook.errors import ServiceUnavailable
from runhook.models import ApiKey, Organization, OrganizationSettings, Scope

log = logging.getLogger("runhook.dal.auth")

KEY_PREFIX_LEN = 12
KEY_JSON_FIELDS = frozenset({"scopes"})


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_key(live: bool) -> str:
    return ("sk_live_" if live else "sk_test_") + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class FoundKey:
    """A presented key that is known and active, with its hash (the lookup item's key)."""

    key: ApiKey
    hash: str


def _key(item: Mapping[str, Any]) -> ApiKey:
    return from_attributes(ApiKey, item, json_fields=KEY_JSON_FIELDS)


def _stored_settings(org_id: str, value: Any) -> OrganizationSettings:
    """The settings attribute as read on every request: whatever it holds (a value written
    before the bounds existed, or by hand) gives usable settings and a warning, never an
    error, so the organization keeps working and can PATCH the value back."""
    try:
        raw = loads(value)
    except ValueError:
        raw, problems = None, ["settings is not JSON"]
    else:
        problems = []
    settings, found = OrganizationSettings.from_stored(raw)
    problems += found
    if problems:
        log.warning(
            "stored organization settings out of bounds: read within them",
            extra={"orgId": org_id, "problems": problems[:20]},
        )
    return settings


def _org(org_id: str, item: Mapping[str, Any]) -> Organization:
    name, created_at = item.get("name"), item.get("createdAt")
    return Organization(
        id=org_id,
        name=name if isinstance(name, str) else None,
        created_at=created_at if isinstance(created_at, str) else None,
        settings=_stored_settings(org_id, item.get("settings")),
    )


class AuthRepository:
    """Organizations (with their settings) and their API keys."""

    def __init__(self, table: Table) -> None:
        self.table = table

    # -- organizations -------------------------------------------------------------------
    def get_org(self, org_id: str) -> Organization | None:
        item = self.table.get(key(keys.org_pk(org_id), keys.ORG_SK), consistent=True)
        return _org(org_id, item) if item else None

    def create_org(self, org_id: str, name: str, settings: Mapping[str, Any] | None = None) -> bool:
        """Create the organization if it does not exist; True when created.

        `settings` (operators' bootstrap) are stored within their bounds: an out-of-range
        value is clamped with a warning, as when it is read.
        """
        item = {
            **key(keys.org_pk(org_id), keys.ORG_SK),
            "type": "org",
            "id": org_id,
            "name": name,
            "createdAt": clock.now_iso(),
            "settings": dumps(_stored_settings(org_id, settings).stored()),
        }
        return self.table.put(item, condition="attribute_not_exists(pk)")

    def update_org_settings(self, org_id: str, settings: OrganizationSettings) -> bool:
        """Replace the organization's settings; False when it does not exist."""
        update = Update().set("settings", stored_value(settings.stored(), as_json=True))
        changed = self.table.update(
            key(keys.org_pk(org_id), keys.ORG_SK),
            update,
            condition="attribute_exists(pk)",
            return_new=False,
        )
        return changed is not None

    # -- keys ----------------------------------------------------------------------------
    def create_key(
        self,
        org_id: str,
        name: str,
        scopes: list[Scope],
        *,
        secret: str | None = None,
        live: bool = True,
    ) -> tuple[ApiKey, str]:
        """Store a new key; returns it with its secret (shown to the caller once)."""
        secret = secret or generate_key(live)
        api_key = ApiKey(
            id=clock.new_id(),
            org_id=org_id,
            name=name,
            prefix=secret[:KEY_PREFIX_LEN],
            scopes=scopes,
            created_at=clock.now_iso(),
        )
        digest = hash_key(secret)
        record = {
            "type": "apikey",
            **to_attributes(api_key, json_fields=KEY_JSON_FIELDS),
            "hash": digest,
        }
        record.pop("revoked", None)  # only revoked keys carry the flag
        self.table.transact_write(
            [
                Put(
                    {**key(keys.key_lookup_pk(digest), keys.KEY_SK), **record},
                    "attribute_not_exists(pk)",
                ),
                Put({**key(keys.org_pk(org_id), keys.apikey_sk(api_key.id)), **record}),
            ]
        )
        return api_key, secret

    def lookup_key(self, secret: str) -> FoundKey | None:
        """The key for a presented secret (None if unknown or revoked), compared in constant time."""
        digest = hash_key(secret)
        item = self.table.get(key(keys.key_lookup_pk(digest), keys.KEY_SK), consistent=True)
        if (
            not item
            or item.get("revoked")
            or not hmac.compare_digest(str(item.get("hash", "")), digest)
        ):
            return None
        try:
            return FoundKey(_key(item), digest)
        except ValueError:  # a key item written by hand that is not a key: refused, not a 500
            log.warning("unreadable API key item refused", extra={"keyId": item.get("id")})
            return None

    def list_keys(self, org_id: str) -> list[ApiKey]:
        items = self.table.query_all(prefix_query(keys.org_pk(org_id), keys.APIKEY_PREFIX))
        return [_key(i) for i in items if not i.get("revoked")]

    def revoke_key(self, org_id: str, key_id: str) -> bool:
        record_key = key(keys.org_pk(org_id), keys.apikey_sk(key_id))
        item = self.table.get(record_key, consistent=True)
        if not item or item.get("revoked"):
            return False
        mark = Update().set("revoked", True).set("revokedAt", clock.now_iso())
        self.table.transact_write(
            [
                Delete(key(keys.key_lookup_pk(item["hash"]), keys.KEY_SK)),
                UpdateItem(record_key, mark),
            ]
        )
        return True

    def touch_key(self, found: FoundKey, now_iso: str, stale_before: str) -> None:
        """Record lastUsedAt at most once a minute (the condition skips fresher values).

        Best effort: a request is never refused because this bookkeeping failed.
        """
        with contextlib.suppress(ServiceUnavailable):
            for pk, sk in (
                (keys.key_lookup_pk(found.hash), keys.KEY_SK),
                (keys.org_pk(found.key.org_id), keys.apikey_sk(found.key.id)),
            ):
                update = Update().set("lastUsedAt", now_iso)
                stale = update.value("stale", stale_before)
                condition = (
                    "attribute_exists(pk) AND "
                    f"(attribute_not_exists(lastUsedAt) OR lastUsedAt < {stale})"
                )
                if (
                    self.table.update(key(pk, sk), update, condition=condition, return_new=False)
                    is None
                ):
                    return
