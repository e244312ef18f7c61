"""Run lifecycle events on the EventBridge bus (DESIGN §5 "Bus events")."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runhook import aws, clock
from runhook.errors import ServiceUnavailable
from runhook.models import LogEntry, Run
from runhook.settings import get_settings

SOURCE = "runhook"


def run_detail(run: Run) -> dict[str, Any]:
    return {
        "orgId": run.org_id,
        "runId": run.id,
        "taskId": run.task_id,
        "sequence": run.sequence,
        "occurredAt": clock.now_iso(),
        "run": run.to_resource(get_settings().public_base_url),
    }


def log_detail(run: Run, entries: list[LogEntry]) -> dict[str, Any]:
    return {
        "orgId": run.org_id,
        "runId": run.id,
        "taskId": run.task_id,
        "sequence": run.sequence,
        "occurredAt": clock.now_iso(),
        "logEntries": [e.to_resource() for e in entries],
    }


def publish(events: list[tuple[str, dict[str, Any]]]) -> None:
    """PutEvents in batches of 10; failed entries are retried once, then it raises."""
    bus = get_settings().event_bus_name
    entries = [
        {
            "Source": SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, separators=(",", ":")),
            "EventBusName": bus,
            "Resources": [],
        }
        for detail_type, detail in events
    ]
    for start in range(0, len(entries), 10):
        batch = entries[start : start + 10]
        for _attempt in range(2):
            try:
                resp = aws.client("events").put_events(Entries=batch)
            except (ClientError, BotoCoreError) as exc:
                raise ServiceUnavailable(message=f"events: {exc}") from exc
            if not resp.get("FailedEntryCount"):
                break
            batch = [e for e, r in zip(batch, resp["Entries"], strict=True) if r.get("ErrorCode")]
        else:
            raise ServiceUnavailable(message="events: PutEvents kept failing")


def publish_run(detail_type: str, run: Run) -> None:
    publish([(detail_type, run_detail(run))])
