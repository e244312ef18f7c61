"""Organizations and API keys.

Keys are stored only as SHA-256 hashes (lookup item `KEY#<hash>`) plus a listing record
under the organization that shows the key's visible prefix.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from runhook import clock, keys
from runhook.dal.dynamo import (
    ddb,
    decode_json_item,
    dumps,
    get,
    query_all,
    table_name,
    to_item,
    to_values,
    translate_errors,
)
from runhook.models import ApiKey, Scope

KEY_PREFIX_LEN = 12


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_key(live: bool) -> str:
    return ("sk_live_" if live else "sk_test_") + secrets.token_urlsafe(32)


def get_org(org_id: str) -> dict[str, Any] | None:
    item = get(keys.org_pk(org_id), keys.ORG_SK, consistent=True)
    if item and "settings" in item:
        item["settings"] = decode_json_item(item["settings"])
    return item


def put_org(org_id: str, name: str, settings: dict[str, Any] | None = None) -> bool:
    """Create the organization if it does not exist; True when created."""
    from botocore.exceptions import ClientError

    try:
        with translate_errors():
            ddb().put_item(
                TableName=table_name(),
                Item=to_item(
                    {
                        "pk": keys.org_pk(org_id),
                        "sk": keys.ORG_SK,
                        "type": "org",
                        "id": org_id,
                        "name": name,
                        "createdAt": clock.now_iso(),
                        "settings": dumps(settings or {}),
                    }
                ),
                ConditionExpression="attribute_not_exists(pk)",
            )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def update_org_settings(org_id: str, settings: dict[str, Any]) -> None:
    with translate_errors():
        ddb().update_item(
            TableName=table_name(),
            Key=to_item({"pk": keys.org_pk(org_id), "sk": keys.ORG_SK}),
            UpdateExpression="SET settings = :s",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=to_values({":s": dumps(settings)}),
        )


def create_key(
    org_id: str, name: str, scopes: list[Scope], *, secret: str | None = None, live: bool = True
) -> tuple[ApiKey, str]:
    """Store a new key; returns it with its secret (shown to the caller once)."""
    secret = secret or generate_key(live)
    key = ApiKey(
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
        "id": key.id,
        "orgId": org_id,
        "name": name,
        "prefix": key.prefix,
        "scopes": dumps(scopes),
        "createdAt": key.created_at,
        "hash": digest,
    }
    with translate_errors():
        ddb().transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table_name(),
                        "Item": to_item(
                            {"pk": keys.key_lookup_pk(digest), "sk": keys.KEY_SK, **record}
                        ),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": table_name(),
                        "Item": to_item(
                            {"pk": keys.org_pk(org_id), "sk": keys.apikey_sk(key.id), **record}
                        ),
                    }
                },
            ]
        )
    return key, secret


def _key(item: dict[str, Any]) -> ApiKey:
    return ApiKey(
        id=item["id"],
        org_id=item["orgId"],
        name=item.get("name", ""),
        prefix=item["prefix"],
        scopes=decode_json_item(item["scopes"]),
        created_at=item["createdAt"],
        last_used_at=item.get("lastUsedAt"),
        revoked=bool(item.get("revoked")),
    )


def lookup_key(secret: str) -> tuple[ApiKey, dict[str, Any]] | None:
    """The key for a presented secret (None if unknown or revoked), compared in constant time."""
    digest = hash_key(secret)
    item = get(keys.key_lookup_pk(digest), keys.KEY_SK, consistent=True)
    if (
        not item
        or item.get("revoked")
        or not hmac.compare_digest(str(item.get("hash", "")), digest)
    ):
        return None
    return _key(item), item


def list_keys(org_id: str) -> list[ApiKey]:
    items = query_all(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues=to_values({":pk": keys.org_pk(org_id), ":p": keys.APIKEY_PREFIX}),
    )
    return [_key(i) for i in items if not i.get("revoked")]


def revoke_key(org_id: str, key_id: str) -> bool:
    item = get(keys.org_pk(org_id), keys.apikey_sk(key_id), consistent=True)
    if not item or item.get("revoked"):
        return False
    with translate_errors():
        ddb().transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": table_name(),
                        "Key": to_item({"pk": keys.key_lookup_pk(item["hash"]), "sk": keys.KEY_SK}),
                    }
                },
                {
                    "Update": {
                        "TableName": table_name(),
                        "Key": to_item({"pk": keys.org_pk(org_id), "sk": keys.apikey_sk(key_id)}),
                        "UpdateExpression": "SET revoked = :t, revokedAt = :now",
                        "ExpressionAttributeValues": to_values(
                            {":t": True, ":now": clock.now_iso()}
                        ),
                    }
                },
            ]
        )
    return True


def touch_key(org_id: str, key_id: str, key_hash: str, now_iso: str, stale_before: str) -> None:
    """Record lastUsedAt at most once a minute (the condition skips fresher values)."""
    from botocore.exceptions import ClientError

    for pk, sk in (
        (keys.key_lookup_pk(key_hash), keys.KEY_SK),
        (keys.org_pk(org_id), keys.apikey_sk(key_id)),
    ):
        try:
            ddb().update_item(
                TableName=table_name(),
                Key=to_item({"pk": pk, "sk": sk}),
                UpdateExpression="SET lastUsedAt = :now",
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(lastUsedAt) OR lastUsedAt < :stale)",
                ExpressionAttributeValues=to_values({":now": now_iso, ":stale": stale_before}),
            )
        except ClientError:
            return
