"""The health check: can this function reach its table?"""

from __future__ import annotations

from runhook.dal.expressions import key
from runhook.dal.table import Table
from runhook.errors import ServiceUnavailable

HEALTH_KEY = key("HEALTH", "HEALTH")


class HealthCheck:
    def __init__(self, table: Table) -> None:
        self.table = table

    def check(self) -> None:
        """Raise ServiceUnavailable unless one read of the table succeeds."""
        try:
            self.table.get(HEALTH_KEY)
        except ServiceUnavailable:
            raise
        except Exception as exc:  # a missing table or bad credentials are unavailability too
            raise ServiceUnavailable(message=str(exc)) from exc
