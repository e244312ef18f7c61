"""The run-event bus on EventBridge (event shapes: runhook.run_events)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Unpack

from botocore.exceptions import BotoCoreError, ClientError

from runhook import run_events
from runhook.aws import ClientOptions, LazyClient, unavailable
from runhook.errors import ServiceUnavailable
from runhook.models import LogEntry, Run
from runhook.run_events import SOURCE, Event

PUT_EVENTS_BATCH = 10


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
        return run_events.run_detail(run, self.public_base_url)

    @staticmethod
    def log_detail(run: Run, entries: Sequence[LogEntry]) -> dict[str, Any]:
        return run_events.log_detail(run, entries)

    def publish(self, events: Sequence[Event]) -> None:
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
