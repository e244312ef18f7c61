"""The monthly run quota, counted inside the create-run transaction (never overshoots)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from runhook import keys
from runhook.dal import auth as auth_dal
from runhook.dal.dynamo import get, table_name, to_item, to_values
from runhook.errors import QuotaExceeded

DEFAULT_MONTHLY_RUNS = 100_000


def period(now: datetime) -> str:
    return now.strftime("%Y-%m")


def monthly_limit(org_id: str, settings: dict[str, Any] | None = None) -> int:
    """The org's quota; pass `settings` when the caller has them (no read)."""
    if settings is None:
        settings = (auth_dal.get_org(org_id) or {}).get("settings") or {}
    return int(settings.get("monthlyRunQuota", DEFAULT_MONTHLY_RUNS))


def usage(org_id: str, now: datetime) -> dict[str, Any]:
    item = get(keys.org_pk(org_id), keys.usage_sk(period(now)), consistent=True) or {}
    return {"used": int(item.get("runs", 0)), "limit": monthly_limit(org_id), "period": period(now)}


def usage_writes(
    org_id: str, now: datetime, settings: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """One Update in the create-run transaction: count the run if under the limit."""
    return [
        {
            "Update": {
                "TableName": table_name(),
                "Key": to_item({"pk": keys.org_pk(org_id), "sk": keys.usage_sk(period(now))}),
                "UpdateExpression": "ADD runs :one SET #type = :type",
                "ConditionExpression": "attribute_not_exists(runs) OR runs < :limit",
                "ExpressionAttributeNames": {"#type": "type"},
                "ExpressionAttributeValues": to_values(
                    {":one": 1, ":limit": monthly_limit(org_id, settings), ":type": "usage"}
                ),
            }
        }
    ]


def exceeded(org_id: str, now: datetime) -> QuotaExceeded:
    return QuotaExceeded(usage=usage(org_id, now))
