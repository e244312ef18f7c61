"""Counters that enforce limits: the monthly run usage and the per-key rate windows."""

from __future__ import annotations

from runhook import keys
from runhook.dal.expressions import Update, UpdateItem, key
from runhook.dal.table import Table


class LimitsRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def runs_used(self, org_id: str, period: str) -> int:
        """Runs created by the organization in `period` (yyyy-mm)."""
        item = self.table.get(key(keys.org_pk(org_id), keys.usage_sk(period)), consistent=True)
        return int((item or {}).get("runs", 0))

    def count_run(self, org_id: str, period: str, limit: int) -> UpdateItem:
        """The create-run transaction's action that counts the run if under `limit`."""
        update = Update().add("runs", 1).set("type", "usage")
        update.value("limit", limit)
        return UpdateItem(
            key(keys.org_pk(org_id), keys.usage_sk(period)),
            update,
            condition="attribute_not_exists(runs) OR runs < :limit",
        )

    def take_rate_slot(self, key_id: str, window: int, burst: int, expires_at: int) -> bool:
        """Count a request in the key's window `window`; False when it already holds `burst`."""
        update = Update().add("n", 1).set("expiresAt", expires_at)
        update.value("burst", burst)
        done = self.table.update(
            key(keys.rate_pk(key_id), keys.rate_window_sk(window)),
            update,
            condition="attribute_not_exists(n) OR n < :burst",
            return_new=False,
        )
        return done is not None
