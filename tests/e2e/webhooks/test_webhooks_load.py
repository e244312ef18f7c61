"""Load: 1,000 events to 3 endpoints, all delivered, no duplicates (counted by webhook-id)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.webhooks.webhook_helpers import Org, Receiver, event
from tests.support.polling import eventually

EVENTS = 1000


@pytest.mark.slow
@pytest.mark.timeout(1080)
def test_thousand_events_to_three_endpoints(org: Org, receivers: Any) -> None:
    targets: list[Receiver] = [receivers() for _ in range(3)]
    for receiver in targets:
        org.endpoint(receiver.url, events=["task-run.updated"])
    batch = [event(org.id, "task-run.updated", run_id=str(uuid.uuid4())) for _ in range(EVENTS)]
    run_ids = {detail["runId"] for _, detail in batch}
    started = time.time()
    chunks = [batch[i : i + 50] for i in range(0, EVENTS, 50)]
    with ThreadPoolExecutor(max_workers=8) as pool:  # PutEvents from several producers
        list(pool.map(org.bus.publish, chunks))
    published = time.time()
    # A liveness bound, not a speed check (throughput is measured by `make bench`, table 3a):
    # 3,000 deliveries take ~300 s on a quiet 2-core machine, bound by DynamoDB Local's writes.
    for receiver in targets:  # every run's event, not just EVENTS requests (retries count too)
        receiver.wait_for(EVENTS, timeout=900)
        eventually(
            lambda r=receiver: {q.json["id"] for q in r.received()} >= run_ids,
            timeout=900,
            interval=0.5,
            message=lambda _: f"{len(run_ids)} runs published, not all delivered",
        )
    finished = max(r.at for receiver in targets for r in receiver.received())
    rate = 3 * EVENTS / (finished - started)
    print(
        f"\n{3 * EVENTS} deliveries in {finished - started:.1f} s "
        f"({rate:.0f}/s; publishing took {published - started:.1f} s)"
    )
    time.sleep(2)  # late duplicates would show up now
    for receiver in targets:
        received = receiver.received()
        ids = Counter(r.webhook_id for r in received)
        retried = {r.webhook_id for r in received if r.headers["x-komos-attempt"] != "1"}
        duplicates = {i for i, n in ids.items() if n > 1} - retried
        assert not duplicates, f"{len(duplicates)} duplicate deliveries"
        assert {r.json["id"] for r in received} == run_ids
        assert len(ids) == EVENTS
