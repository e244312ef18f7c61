"""The run-event bus on EventBridge (event shapes: runhook.run_events).

Only the outbox publisher (`runhook.outbox`) puts run events here; the webhook sender
publishes its `webhook-endpoint.disabled` notices.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Unpack

from botocore.exceptions import BotoCoreError, ClientError

from runhook.aws import ClientOptions, LazyClient, unavailable
from runhook.errors import ServiceUnavailable
from runhook.run_events import SOURCE, Event

PUT_EVENTS_BATCH = 10


class EventBus:
    """Publishes events on `bus_name`."""

    def __init__(self, bus_name: str, **client: Unpack[ClientOptions]) -> None:
        self.bus_name = bus_name
        self._client = LazyClient("events", **client)

    @property
    def client(self) -> Any:
        return self._client.get()

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
