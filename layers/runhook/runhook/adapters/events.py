"""Run lifecycle events on the EventBridge bus (docs/webhooks.md, "Events").

Each event's detail carries the run's organization, id, task and `sequence` (receivers
order and deduplicate by it) and either the run resource or a batch of log entries.
"""

from __future__ import annotations

import json
from typing import Any, Unpack

from botocore.exceptions import BotoCoreError, ClientError

from runhook import clock
from runhook.aws import ClientOptions, LazyClient, unavailable
from runhook.errors import ServiceUnavailable
from runhook.models import LogEntry, Run

SOURCE = "runhook"
LOG_EVENT = "task-run.log"
MAX_ENTRY_BYTES = 200_000  # PutEvents allows 256 KB per entry
PUT_EVENTS_BATCH = 10

Event = tuple[str, dict[str, Any]]  # (detail-type, detail)


class EventBus:
    """Publishes run events on `bus_name`; run resources link to `public_base_url`."""

    def __init__(
        self, bus_name: str, public_base_url: str, **client: Unpack[ClientOptions]
    ) -> None:
        self.bus_name = bus_name
        self.public_base_url = public_base_url
        self._client = LazyClient("events", **client)

    @property
    def client(self) -> Any:
        return self._client.get()

    def run_detail(self, run: Run) -> dict[str, Any]:
        return {
            "orgId": run.org_id,
            "runId": run.id,
            "taskId": run.task_id,
            "sequence": run.sequence,
            "occurredAt": clock.now_iso(),
            "run": run.to_resource(self.public_base_url),
        }

    @staticmethod
    def log_detail(run: Run, entries: list[LogEntry]) -> dict[str, Any]:
        return {
            "orgId": run.org_id,
            "runId": run.id,
            "taskId": run.task_id,
            "sequence": run.sequence,
            "occurredAt": clock.now_iso(),
            "logEntries": [e.to_resource() for e in entries],
        }

    def log_events(self, run: Run, entries: list[LogEntry]) -> list[Event]:
        """`task-run.log` events for `entries`, split so each stays under the entry size."""
        batches: list[list[LogEntry]] = []
        size = 0
        for entry in entries:
            entry_size = len(entry.message.encode()) + 200
            if not batches or (batches[-1] and size + entry_size > MAX_ENTRY_BYTES):
                batches.append([])
                size = 0
            batches[-1].append(entry)
            size += entry_size
        return [(LOG_EVENT, self.log_detail(run, batch)) for batch in batches]

    def publish(self, events: list[Event]) -> None:
        """PutEvents in batches of 10; failed entries are retried once, then it raises."""
        entries = [
            {
                "Source": SOURCE,
                "DetailType": detail_type,
                "Detail": json.dumps(detail, separators=(",", ":")),
                "EventBusName": self.bus_name,
                "Resources": [],
            }
            for detail_type, detail in events
        ]
        for start in range(0, len(entries), PUT_EVENTS_BATCH):
            batch = entries[start : start + PUT_EVENTS_BATCH]
            for _attempt in range(2):
                try:
                    resp = self.client.put_events(Entries=batch)
                except (ClientError, BotoCoreError) as exc:
                    raise unavailable("events", exc) from exc
                if not resp.get("FailedEntryCount"):
                    break
                batch = [
                    e for e, r in zip(batch, resp["Entries"], strict=True) if r.get("ErrorCode")
                ]
            else:
                raise ServiceUnavailable(message="events: PutEvents kept failing")

    def publish_run(self, detail_type: str, run: Run) -> None:
        self.publish([(detail_type, self.run_detail(run))])
