"""The monthly run quota, counted inside the create-run transaction (never overshoots)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from runhook.dal.auth import AuthRepository
from runhook.dal.expressions import UpdateItem
from runhook.dal.limits import LimitsRepository
from runhook.errors import QuotaExceeded
from runhook.models import OrganizationSettings

DEFAULT_MONTHLY_RUNS = 100_000


def period(now: datetime) -> str:
    return now.strftime("%Y-%m")


class Quota:
    def __init__(self, limits: LimitsRepository, auth: AuthRepository) -> None:
        self.limits = limits
        self.auth = auth

    def monthly_limit(self, org_id: str, settings: OrganizationSettings | None = None) -> int:
        """The org's quota; pass `settings` when the caller has them (no read)."""
        if settings is None:
            org = self.auth.get_org(org_id)
            settings = org.settings if org else OrganizationSettings()
        quota = settings.monthlyRunQuota
        return DEFAULT_MONTHLY_RUNS if quota is None else int(quota)

    def usage(self, org_id: str, now: datetime) -> dict[str, Any]:
        return {
            "used": self.limits.runs_used(org_id, period(now)),
            "limit": self.monthly_limit(org_id),
            "period": period(now),
        }

    def count_run(
        self, org_id: str, now: datetime, settings: OrganizationSettings | None = None
    ) -> UpdateItem:
        """The create-run transaction's action: count the run if under the limit."""
        return self.limits.count_run(org_id, period(now), self.monthly_limit(org_id, settings))

    def exceeded(self, org_id: str, now: datetime) -> QuotaExceeded:
        return QuotaExceeded(usage=self.usage(org_id, now))
