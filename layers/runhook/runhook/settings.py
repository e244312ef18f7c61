"""Configuration of one function, read from its environment by the composition root.

Every deployed function gets these variables from template.yaml; the local cloud reads
the same variables from the same template, so there is one source of truth. Settings
are passed in (runhook.bootstrap.Container), never read from a global.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, Field


class Settings(BaseModel):
    """Environment of a runhook function (names are the env var names)."""

    stage: str = Field(default="dev", alias="STAGE")
    table_name: str = Field(default="runhook-dev", alias="TABLE_NAME")
    state_machine_arn: str = Field(default="", alias="STATE_MACHINE_ARN")
    # Issue 16: the Express machine for short runs ("": every run goes to Standard).
    express_state_machine_arn: str = Field(default="", alias="EXPRESS_STATE_MACHINE_ARN")
    event_bus_name: str = Field(default="runhook-dev", alias="EVENT_BUS_NAME")
    # Issue 16: which run events the outbox puts on the bus: those an endpoint routes
    # ("subscribed", the template's default) or every one ("all", also when unset).
    run_events_on_bus: Literal["subscribed", "all"] = Field(
        default="all", alias="RUN_EVENTS_ON_BUS"
    )
    deliveries_queue_url: str = Field(default="", alias="DELIVERIES_QUEUE_URL")
    deliveries_dlq_url: str = Field(default="", alias="DELIVERIES_DLQ_URL")
    public_base_url: str = Field(default="", alias="PUBLIC_BASE_URL")
    webhook_pepper: str = Field(default="komos-webhook-pepper", alias="WEBHOOK_PEPPER")
    # Seconds to wait before each retry after the first attempt (docs/webhooks.md).
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
    # Organization secrets (docs/secrets.md): the KMS key their values are encrypted with,
    # and how long a browser session's saved state stays usable.
    secrets_key_id: str = Field(default="", alias="SECRETS_KEY_ID")
    browser_session_ttl_hours: int = Field(default=168, ge=1, alias="BROWSER_SESSION_TTL_HOURS")
    log_retention_days: int = Field(default=30, alias="LOG_RETENTION_DAYS")
    # Issue 16: seconds the API remembers a verified key and its organization
    # (runhook.services.credentials; template.yaml's AuthCacheSeconds); 0 reads both on
    # every request. A revocation or settings change through another container waits this long.
    auth_cache_seconds: float = Field(default=5.0, ge=0, le=300, alias="AUTH_CACHE_SECONDS")
    # Issue 16: a checkpoint's small step records share one item, and so do a write's log
    # lines (runhook.dal.run_store, run_logs); off writes one item per record and per line,
    # the layouts releases before packing read (template.yaml's StepRecordPacks: deploy with
    # off before upgrading from, or rolling back to, one).
    step_record_packs: bool = Field(default=True, alias="STEP_RECORD_PACKS")
    delivery_retention_days: int = Field(default=30, alias="DELIVERY_RETENTION_DAYS")
    # An endpoint failing continuously this long is disabled (docs/webhooks.md: 5 days).
    webhook_disable_after_seconds: int = Field(
        default=5 * 24 * 3600, alias="WEBHOOK_DISABLE_AFTER_SECONDS"
    )
    # The sweeper's waiting periods, seconds (runhook.services.sweeper.SweepPolicy).
    sweep_pending_after_seconds: float = Field(
        default=120.0, ge=0, alias="SWEEP_PENDING_AFTER_SECONDS"
    )
    sweep_deadline_grace_seconds: float = Field(
        default=300.0, ge=0, alias="SWEEP_DEADLINE_GRACE_SECONDS"
    )
    sweep_delivery_grace_seconds: float = Field(
        default=600.0, ge=0, alias="SWEEP_DELIVERY_GRACE_SECONDS"
    )

    # Issue 14: the function that works through filter-based bulk cancels (the API function
    # itself, invoked asynchronously; template.yaml names it).
    bulk_cancel_function: str = Field(default="", alias="BULK_CANCEL_FUNCTION")

    # Task schedules (docs/schedules.md): EventBridge Scheduler's group, the target it
    # invokes and the role it invokes it with. No group: schedules are checked, not fired.
    schedule_group_name: str = Field(default="", alias="SCHEDULE_GROUP_NAME")
    scheduled_run_function_arn: str = Field(default="", alias="SCHEDULED_RUN_FUNCTION_ARN")
    scheduler_role_arn: str = Field(default="", alias="SCHEDULER_ROLE_ARN")
    # The shortest time allowed between two fire times of one schedule.
    schedule_min_interval_seconds: float = Field(
        default=60.0, ge=60, alias="SCHEDULE_MIN_INTERVAL_SECONDS"
    )

    model_config = {"populate_by_name": True, "frozen": True}

    @property
    def retry_schedule(self) -> list[float]:
        return [float(part) for part in self.webhook_retry_schedule.split(",") if part.strip()]

    @property
    def deployed(self) -> bool:
        """True on AWS stages, where targets must be public https URLs."""
        return not self.allow_private_targets

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings in `environ` (default: this process's environment)."""
        return cls.model_validate(dict(os.environ if environ is None else environ))
