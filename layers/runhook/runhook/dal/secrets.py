"""Organization secrets in the table: `ORG#<org>` / `SECRET#<NAME>`.

The item holds the name, description, timestamps and the value's KMS ciphertext chunks
(runhook.adapters.kms); the plaintext is never stored. One Query lists an organization's
secrets (without their ciphertext), one GetItem reads one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runhook import keys
from runhook.dal.expressions import Query, Update, key
from runhook.dal.table import Table

SECRET_PREFIX = "SECRET#"  # noqa: S105 (a key prefix, not a password)
MAX_SECRETS_LISTED = 1000


def secret_sk(name: str) -> str:
    return f"{SECRET_PREFIX}{name}"


@dataclass(frozen=True)
class SecretRecord:
    name: str
    description: str | None
    created_at: str
    updated_at: str
    last_used_at: str | None
    ciphertext: list[bytes]

    def to_resource(self) -> dict[str, Any]:
        """What the API shows: never the value, nor its ciphertext."""
        return {
            "name": self.name,
            "description": self.description,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "lastUsedAt": self.last_used_at,
        }


def _record(item: dict[str, Any]) -> SecretRecord:
    return SecretRecord(
        name=str(item["name"]),
        description=item.get("description"),
        created_at=str(item["createdAt"]),
        updated_at=str(item["updatedAt"]),
        last_used_at=item.get("lastUsedAt"),
        ciphertext=[bytes(c) for c in item.get("ciphertext") or []],
    )


class SecretRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def put(
        self, org_id: str, name: str, ciphertext: list[bytes], description: str | None, now: str
    ) -> SecretRecord:
        """Create or replace the value (createdAt kept, lastUsedAt kept)."""
        update = (
            Update()
            .set("type", "secret")
            .set("name", name)
            .set("ciphertext", ciphertext)
            .set("updatedAt", now)
            .set_expression("createdAt", "if_not_exists(createdAt, :now)")
        )
        update.value("now", now)
        if description is not None:
            update.set("description", description)
        item = self.table.update(key(keys.org_pk(org_id), secret_sk(name)), update)
        assert item is not None  # unconditional
        return _record(item)

    def get(self, org_id: str, name: str) -> SecretRecord | None:
        item = self.table.get(key(keys.org_pk(org_id), secret_sk(name)), consistent=True)
        return _record(item) if item else None

    def list(self, org_id: str) -> list[SecretRecord]:
        query = Query(
            key_condition="pk = :pk AND begins_with(sk, :prefix)",
            values={":pk": keys.org_pk(org_id), ":prefix": SECRET_PREFIX},
            projection="#n, #d, #c, #u, #l",
            names={
                "#n": "name",
                "#d": "description",
                "#c": "createdAt",
                "#u": "updatedAt",
                "#l": "lastUsedAt",
            },
        )
        items, _ = self.table.query(query, limit=MAX_SECRETS_LISTED)
        return [_record(item) for item in items]

    def existing(self, org_id: str, names: set[str]) -> set[str]:
        """Which of `names` the organization has (one Query, names only)."""
        if not names:
            return set()
        return {record.name for record in self.list(org_id)} & names

    def delete(self, org_id: str, name: str) -> bool:
        return self.table.delete(
            key(keys.org_pk(org_id), secret_sk(name)), condition="attribute_exists(pk)"
        )

    def touch(self, org_id: str, name: str, at: str, before: str) -> None:
        """Record a use at `at`, unless one after `before` is already recorded (at most one
        write per secret per interval, however busy the organization)."""
        update = Update().set("lastUsedAt", at)
        update.value("before", before)
        self.table.update(
            key(keys.org_pk(org_id), secret_sk(name)),
            update,
            condition="attribute_exists(pk) AND "
            "(attribute_not_exists(lastUsedAt) OR lastUsedAt < :before)",
            return_new=False,
        )
