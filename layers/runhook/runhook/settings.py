"""Configuration read from the environment once per container.

Every deployed function gets these variables from template.yaml; the local cloud
sets the same variables from the same template, so there is one source of truth.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, Field


class Settings(BaseModel):
    """Environment of a runhook function (names are the env var names)."""

    stage: str = Field(default="dev", alias="STAGE")
    table_name: str = Field(default="runhook-dev", alias="TABLE_NAME")
    state_machine_arn: str = Field(default="", alias="STATE_MACHINE_ARN")
    event_bus_name: str = Field(default="runhook-dev", alias="EVENT_BUS_NAME")
    deliveries_queue_url: str = Field(default="", alias="DELIVERIES_QUEUE_URL")
    deliveries_dlq_url: str = Field(default="", alias="DELIVERIES_DLQ_URL")
    public_base_url: str = Field(default="", alias="PUBLIC_BASE_URL")
    webhook_pepper: str = Field(default="komos-webhook-pepper", alias="WEBHOOK_PEPPER")
    # Seconds to wait before each retry after the first attempt (DESIGN §5).
    webhook_retry_schedule: str = Field(
        default="5,300,1800,7200,18000,36000,36000", alias="WEBHOOK_RETRY_SCHEDULE"
    )
    webhook_timeout_seconds: float = Field(default=15.0, alias="WEBHOOK_TIMEOUT_SECONDS")
    # Loopback/private targets are refused unless this is set (the local cloud sets it).
    allow_private_targets: bool = Field(default=False, alias="ALLOW_PRIVATE_TARGETS")
    # How many reverse proxies in front of the local API may set X-Forwarded-For (0: trust none).
    trusted_proxy_hops: int = Field(default=0, alias="TRUSTED_PROXY_HOPS")
    # Browser-step screenshots (runs/<runId>/<name>.png); served by presigned URLs.
    artifacts_bucket: str = Field(default="", alias="ARTIFACTS_BUCKET")
    log_retention_days: int = Field(default=30, alias="LOG_RETENTION_DAYS")
    delivery_retention_days: int = Field(default=30, alias="DELIVERY_RETENTION_DAYS")
    # An endpoint failing continuously this long is disabled (DESIGN §5: 5 days).
    webhook_disable_after_seconds: int = Field(
        default=5 * 24 * 3600, alias="WEBHOOK_DISABLE_AFTER_SECONDS"
    )

    model_config = {"populate_by_name": True, "frozen": True}

    @property
    def retry_schedule(self) -> list[float]:
        return [float(part) for part in self.webhook_retry_schedule.split(",") if part.strip()]

    @property
    def deployed(self) -> bool:
        """True on AWS stages, where targets must be public https URLs."""
        return not self.allow_private_targets


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.model_validate(dict(os.environ))


def reset_settings() -> None:
    """Forget the cached settings (tests and the local cloud change the environment)."""
    get_settings.cache_clear()
