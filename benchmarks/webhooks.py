"""Benchmark 3: webhook deliveries to a local receiver, retry path off.

The receiver (`benchmarks.receiver`) is its own process and answers every POST with 204,
so no delivery is ever retried (the table shows it).

- Send function throughput: N deliveries are created the way dispatch creates them (a
  delivery item per event and endpoint), then the deployed WebhookSendFunction is invoked
  through the local Lambda registry with SQS batches of 10, one batch after another (one
  function instance). Each delivery: endpoint and bodies read (once per batch),
  conditional claim, signed POST (Komos + Standard Webhooks signatures), the result's
  update (a success carries its attempt), health only when it changes.
  Baseline: the same bodies POSTed to the same receiver by an httpx client with the same
  parallelism (10 threads per batch of 10), no signing, no DynamoDB.
- Write units per successful first-attempt delivery (table 3c): counted from the
  ConsumedCapacity DynamoDB Local reports (ReturnConsumedCapacity=INDEXES, a
  `benchmarks.calls.CallRecorder`) over the send-throughput row: the dispatch-side writes
  of each delivery (`DeliveryRepository.create`) plus everything the send function wrote.
  Baseline, in the same run and table: the write sequence of the layout before issue 16
  (head with its payload in gsi1 and gsi3, claim, an indexed attempt item, finish, one
  endpoint health update per batch) replayed against the same table.
- Pipeline throughput: N run events put on the bus at once, until all N are received
  (rule → dispatch → deliveries queue → send).
- Event → receipt latency: one `task-run.updated` event at a time, from PutEvents to the
  receiver's clock (same machine). Baseline: the emulators' own EventBridge → SQS hop (a
  rule on the same bus targeting a queue, long-polled), measured the same way.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from benchmarks import stats
from benchmarks.calls import CallRecorder, Recording
from benchmarks.localcloud import BenchCloud, Receiver, compute_task
from benchmarks.table import Table, ms, per_second, times

if TYPE_CHECKING:
    from runhook.webhook_models import Delivery

BATCH = 10
WRU_SENDS = 50  # deliveries whose write units are counted (table 3c)
WRU_GOAL = 5.0  # issue 16's goal per successful first-attempt delivery


def _sample_run(bench: BenchCloud) -> dict[str, Any]:
    """A real run resource (the usual webhook body) from a finished run."""
    task_id = bench.create_task(compute_task(1))
    run_id = bench.start_run(task_id)
    bench.wait_for(run_id, {"COMPLETED", "FAILED"}, timeout=120)
    answer = bench.client().get(f"/task-runs/{run_id}")
    answer.raise_for_status()
    run: dict[str, Any] = answer.json()["run"]
    return run


def _wait_receipts(receiver: Receiver, runs: set[str], timeout: float) -> dict[str, float]:
    """Receipt times of deliveries for these run ids (first receipt of each)."""
    got: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(got) < len(runs):
        for receipt in receiver.receipts():
            run = receipt.get("run")
            if run in runs and run not in got:
                got[run] = float(receipt["t"])
        if len(got) >= len(runs):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(got)} of {len(runs)} webhooks arrived in {timeout:.0f} s")
        time.sleep(0.005)
    return got


def _write_units(recording: Recording) -> tuple[float, dict[str, float]]:
    """DynamoDB write units of a recording: the total and per operation."""
    per_operation: dict[str, float] = {}
    for call in recording.calls:
        if call.service == "dynamodb" and call.write_units:
            per_operation[call.operation] = per_operation.get(call.operation, 0.0) + (
                call.write_units
            )
    return sum(per_operation.values()), per_operation


# Long on purpose: the deliveries are built, created (recorded or not) and sent in one pass, so the write units and the rate describe the same deliveries.
def _send_throughput(
    bench: BenchCloud,
    receiver: Receiver,
    endpoint_id: str,
    body: dict[str, Any],
    count: int,
    recorder: CallRecorder | None = None,
) -> tuple[float, int, int, Recording | None]:
    """Deliveries/s of the send function; (rate, retries reported, receipts, the
    recording of the deliveries' creation and sending when `recorder` is given)."""
    from runhook import clock
    from runhook.adapters.deliveries import QueueMessage

    store = bench.container.webhooks.deliveries

    function = bench.cloud.registry.get("WebhookSendFunction")
    if function is None:
        raise RuntimeError("WebhookSendFunction is not deployed")
    now = clock.now_iso()
    records = []
    created: list[Delivery] = []
    runs = set()
    for i in range(count):
        run_id = str(uuid.uuid4())
        runs.add(run_id)
        did = str(uuid.uuid4())
        delivery = _completed_delivery(
            bench,
            endpoint_id,
            did,
            {**body, "id": run_id},
            now,
            run_id=run_id,
            task_id=str(body.get("taskId") or ""),
            sequence=3,
        )
        created.append(delivery)
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": f"bench-{i}",
                "body": QueueMessage.of(delivery).body(),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "awsRegion": "us-east-1",
            }
        )
    retries = 0
    with contextlib.ExitStack() as stack:
        recording = stack.enter_context(recorder.recording()) if recorder else None
        for delivery in created:
            store.create(delivery)
        started = time.perf_counter()
        for start in range(0, count, BATCH):
            batch = {"Records": records[start : start + BATCH]}
            result = bench.cloud.registry.invoke(function, batch)
            if result.error:
                raise RuntimeError(f"send function failed: {result.payload}")
            retries += len(result.payload.get("batchItemFailures") or [])
        elapsed = time.perf_counter() - started
    received = _wait_receipts(receiver, runs, timeout=30)
    return stats.rate(count, elapsed), retries, len(received), recording


# Long on purpose: the old layout's item shapes and writes, spelled out once as the baseline replays them.
def _old_layout_writes(
    bench: BenchCloud, recorder: CallRecorder, body: dict[str, Any], count: int
) -> Recording:
    """The writes the layout before issue 16 made for `count` successful first attempts,
    replayed against the same table (the baseline of table 3c): the head with its payload
    (gsi1 and gsi3 keys), the claim, an attempt item in gsi1, the finish, and one health
    update of the endpoint per batch of BATCH."""
    from runhook import clock, keys
    from runhook.dal.expressions import Update, key

    table = bench.container.table
    endpoint_id = str(uuid.uuid4())
    # An organization of its own: this half-made endpoint must never receive the
    # pipeline's events (the send function could not read it and would retry forever).
    endpoint_key = key(
        keys.org_pk(f"bench-old-layout-{endpoint_id}"), keys.endpoint_sk(endpoint_id)
    )
    table.put({**endpoint_key, "id": endpoint_id, "url": "https://example.com/"})
    with recorder.recording() as recording:
        for i in range(count):
            did, now = str(uuid.uuid4()), clock.now_iso()
            head = key(keys.delivery_pk(did), keys.DELIVERY_SK)
            payload = json.dumps({**body, "id": str(uuid.uuid4())}, separators=(",", ":"))
            table.put(
                {
                    **head,
                    "type": "delivery",
                    "gsi1pk": keys.endpoint_deliveries_gsi1(endpoint_id),
                    "gsi1sk": keys.created_sort(now, did),
                    "gsi3pk": keys.due_deliveries_gsi3(keys.sweep_shard(did)),
                    "gsi3sk": keys.created_sort(now, did),
                    "expiresAt": clock.epoch() + 30 * 86400,
                    "id": did,
                    "orgId": bench.org_id,
                    "endpointId": endpoint_id,
                    "eventType": "task-run.completed",
                    "webhookId": did,
                    "payload": payload,
                    "createdAt": now,
                    "updatedAt": now,
                    "status": "pending",
                    "runId": str(uuid.uuid4()),
                    "taskId": str(body.get("taskId") or ""),
                    "sequence": 3,
                    "attempts": 0,
                    "gen": 0,
                    "replays": 0,
                    "test": False,
                },
                condition="attribute_not_exists(pk)",
            )
            claim = Update().increment("attempts").set("leaseUntil", int(time.time() * 1000))
            table.update(head, claim.set("updatedAt", now))
            table.batch_put(
                [
                    {
                        **key(keys.delivery_pk(did), keys.attempt_sk(1)),
                        "type": "attempt",
                        "gsi1pk": keys.endpoint_attempts_gsi1(endpoint_id),
                        "gsi1sk": keys.attempt_sort(now, did, 1),
                        "expiresAt": clock.epoch() + 30 * 86400,
                        "deliveryId": did,
                        "endpointId": endpoint_id,
                        "number": 1,
                        "at": now,
                        "ok": True,
                        "statusCode": 204,
                        "latencyMs": 3,
                    }
                ]
            )
            finish = Update().set("status", "succeeded").set("lastAttemptAt", now)
            finish.set("updatedAt", now).set("lastStatusCode", 204)
            finish.remove("leaseUntil").remove("gsi3pk").remove("gsi3sk")
            table.update(head, finish, return_new=False)
            if i % BATCH == 0:
                health = Update().set("lastSuccessAt", now).set("consecutiveFailures", 0)
                table.update(endpoint_key, health.set("updatedAt", now))
    return recording


def _completed_delivery(
    bench: BenchCloud,
    endpoint_id: str,
    delivery_id: str,
    body: dict[str, Any],
    now: str,
    **extra: Any,
) -> Delivery:
    """A `task-run.completed` delivery of `body` to the benchmark org's endpoint."""
    from runhook.webhook_models import Delivery

    return Delivery(
        id=delivery_id,
        org_id=bench.org_id,
        endpoint_id=endpoint_id,
        event_type="task-run.completed",
        webhook_id=delivery_id,
        payload=json.dumps(body, separators=(",", ":")),
        created_at=now,
        updated_at=now,
        **extra,
    )


def _writes_ceiling(bench: BenchCloud, endpoint_id: str, body: dict[str, Any], count: int) -> float:
    """Deliveries/s DynamoDB Local allows the send path: only its two writes per delivery
    (the conditional claim, then the result's update), through the same repository and
    local endpoint, 10 threads per batch of 10, no reads and no POST."""
    from runhook import clock
    from runhook.webhook_models import Attempt

    store = bench.container.webhooks.deliveries
    now = clock.now_iso()
    created = []
    for _ in range(count):
        did = str(uuid.uuid4())
        delivery = _completed_delivery(bench, endpoint_id, did, {**body, "id": did}, now)
        store.create(delivery)
        created.append(delivery)

    def claim(delivery: Delivery) -> None:
        store.claim(delivery.id, 0, now=time.time(), lease_seconds=60)

    def finish(delivery: Delivery) -> None:
        at = clock.now_iso()
        success = Attempt(
            delivery_id=delivery.id,
            endpoint_id=endpoint_id,
            number=1,
            at=at,
            ok=True,
            status_code=204,
            latency_ms=1,
        )
        store.finish_attempt(
            delivery.id,
            0,
            status="succeeded",
            at=at,
            status_code=204,
            error=None,
            next_attempt_at=None,
            success=success,
        )

    with ThreadPoolExecutor(max_workers=BATCH) as pool:
        started = time.perf_counter()
        for start in range(0, count, BATCH):
            batch = created[start : start + BATCH]
            list(pool.map(claim, batch))
            list(pool.map(finish, batch))
        elapsed = time.perf_counter() - started
    return stats.rate(count, elapsed)


def _raw_throughput(receiver: Receiver, body: dict[str, Any], count: int) -> float:
    import httpx

    payloads = [
        json.dumps({**body, "id": str(uuid.uuid4())}, separators=(",", ":")).encode()
        for _ in range(count)
    ]
    headers = {"content-type": "application/json"}
    with (
        httpx.Client(trust_env=False, follow_redirects=False) as http,
        ThreadPoolExecutor(max_workers=BATCH) as pool,
    ):

        def post(data: bytes) -> int:
            return http.post(receiver.url, content=data, headers=headers, timeout=15).status_code

        post(payloads[0])  # connect once, like the sender's warm client
        started = time.perf_counter()
        for start in range(0, count, BATCH):
            codes = list(pool.map(post, payloads[start : start + BATCH]))
            if any(code >= 300 for code in codes):
                raise RuntimeError(f"receiver answered {codes}")
        elapsed = time.perf_counter() - started
    receiver.receipts()  # drop these from the receipt log
    return stats.rate(count, elapsed)


def _event(bench: BenchCloud, body: dict[str, Any], run_id: str) -> tuple[str, dict[str, Any]]:
    from runhook import clock

    detail = {
        "orgId": bench.org_id,
        "runId": run_id,
        "taskId": body.get("taskId"),
        "sequence": 2,
        "occurredAt": clock.now_iso(),
        "run": {**body, "id": run_id, "status": "RUNNING"},
    }
    return "task-run.updated", detail


def _pipeline(bench: BenchCloud, receiver: Receiver, body: dict[str, Any], count: int) -> float:
    events = bench.container.bus
    runs = [str(uuid.uuid4()) for _ in range(count)]
    started = time.time()
    events.publish([_event(bench, body, run_id) for run_id in runs])
    received = _wait_receipts(receiver, set(runs), timeout=120)
    return stats.rate(count, max(received.values()) - started)


def _latency(
    bench: BenchCloud, receiver: Receiver, body: dict[str, Any], count: int
) -> list[float]:
    events = bench.container.bus
    out = []
    for _ in range(count):
        run_id = str(uuid.uuid4())
        event = _event(bench, body, run_id)
        sent = time.time()
        events.publish([event])
        received = _wait_receipts(receiver, {run_id}, timeout=30)
        out.append((received[run_id] - sent) * 1000)
        time.sleep(0.05)
    return out


def _hop_latency(bench: BenchCloud, count: int) -> list[float]:
    """PutEvents → rule → SQS queue → ReceiveMessage: the emulators' own floor."""
    cloud = bench.cloud
    sqs, bus = cloud.client("sqs"), cloud.client("events")
    name = f"runhook-bench-hop-{uuid.uuid4().hex[:6]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    bus.put_rule(
        Name=name, EventBusName=cloud.bus_name, EventPattern=json.dumps({"source": ["bench.hop"]})
    )
    bus.put_targets(Rule=name, EventBusName=cloud.bus_name, Targets=[{"Id": "q", "Arn": arn}])
    out = []
    for _ in range(count):
        marker = uuid.uuid4().hex
        sent = time.time()
        bus.put_events(
            Entries=[
                {
                    "Source": "bench.hop",
                    "DetailType": "hop",
                    "Detail": json.dumps({"marker": marker}),
                    "EventBusName": cloud.bus_name,
                }
            ]
        )
        while True:
            answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1)
            messages = answer.get("Messages") or []
            if messages and marker in messages[0]["Body"]:
                out.append((time.time() - sent) * 1000)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
                break
        time.sleep(0.05)
    return out


# Long on purpose: one benchmark's steps in the order they run and print (setup, baseline, measurement, table); splitting it would scatter the table's rows.
def run(quick: bool = False) -> list[Table]:
    sends = 100 if quick else 200
    events_count = 50 if quick else 100
    samples = 10 if quick else 20
    recorder = CallRecorder()
    with BenchCloud(recorder=recorder) as bench, Receiver() as receiver:
        body = _sample_run(bench)
        endpoint_id = bench.subscribe(receiver.url)
        # Warm-up: the send function's first batch imports it and opens its connection.
        _send_throughput(bench, receiver, endpoint_id, body, BATCH)
        _raw_throughput(receiver, body, BATCH)
        send_rate, retries, received, _ = _send_throughput(
            bench, receiver, endpoint_id, body, sends
        )
        raw_rate = _raw_throughput(receiver, body, sends)
        ceiling = _writes_ceiling(bench, endpoint_id, body, sends)
        # Write units on their own pass (the recorder's hooks would slow the rate above).
        _, _, _, units_run = _send_throughput(
            bench, receiver, endpoint_id, body, WRU_SENDS, recorder
        )
        old_units = _old_layout_writes(bench, recorder, body, WRU_SENDS)
        pipeline_rate = _pipeline(bench, receiver, body, events_count)
        latencies = _latency(bench, receiver, body, samples)
        hops = _hop_latency(bench, samples)
        boot = bench.boot_seconds
        body_bytes = len(json.dumps(body, separators=(",", ":")))

    rates = Table(
        title="3a. Webhooks: deliveries per second to a local receiver (retry path off)",
        columns=["what", "deliveries", "per second", "baseline", "baseline /s", "ratio"],
    )
    rates.add(
        "send function, batches of 10, one instance",
        sends,
        per_second(send_rate),
        "httpx POST, 10 threads",
        per_second(raw_rate),
        times(stats.ratio(send_rate, raw_rate)),
    )
    rates.add(
        "  ceiling: DynamoDB Local, the send path's 2 writes only",
        sends,
        per_second(ceiling),
        "httpx POST, 10 threads",
        per_second(raw_rate),
        times(stats.ratio(ceiling, raw_rate)),
    )
    rates.add(
        f"pipeline: {events_count} events on the bus → received",
        events_count,
        per_second(pipeline_rate),
        "-",
        "-",
        "-",
    )
    rates.notes.append(
        "The ceiling row makes only the send function's two writes per delivery (claim, "
        "result) through the same local endpoint, 10 in parallel: no POST, no read. The "
        f"send function reaches {times(stats.ratio(send_rate, ceiling))} of it; while the "
        "ceiling is below half the bare client's rate, 0.5x cannot be met locally."
    )
    rates.notes.append(
        f"Body: a real run resource ({body_bytes} bytes). Retries reported by the send function: "
        f"{retries}; receipts: {received} of {sends}."
    )
    latency = stats.summarize(latencies)
    hop = stats.summarize(hops)
    lat = Table(
        title=f"3b. Webhooks: event → receipt latency, one event at a time ({samples} events)",
        columns=[
            "what",
            "p50 ms",
            "p95 ms",
            "max ms",
            "baseline",
            "p50 ms ",
            "p95 ms ",
            "ratio (p50)",
        ],
    )
    lat.add(
        "PutEvents → rule → dispatch → queue → send → receiver",
        ms(latency.p50, 0),
        ms(latency.p95, 0),
        ms(latency.high, 0),
        "PutEvents → rule → SQS → receive",
        ms(hop.p50, 0),
        ms(hop.p95, 0),
        times(stats.ratio(latency.p50, hop.p50)),
    )
    lat.notes.append(
        "Locally the rule's Lambda target is an SQS queue plus a poller (moto cannot target "
        "Lambda), so the pipeline has two queue hops where AWS has one; the pollers long-poll "
        "with 1 s waits. On AWS, the deliveries queue's event source mapping also waits up to "
        "MaximumBatchingWindowInSeconds (1 s) to fill a batch."
    )
    lat.notes.append(f"local cloud boot: {boot:.1f} s (not in any figure)")
    return [rates, lat, _units_table(units_run, old_units)]


def _units_table(run: Recording | None, old: Recording) -> Table:
    """Table 3c: write units per successful first-attempt delivery, beside the old layout."""
    new_total, new_ops = _write_units(run or Recording())
    old_total, old_ops = _write_units(old)
    units = Table(
        title=(
            "3c. Webhooks: DynamoDB write units per successful first-attempt delivery "
            f"({WRU_SENDS} deliveries, ConsumedCapacity)"
        ),
        columns=["what", "WRU per delivery", "goal", "ratio to baseline"],
    )
    new, base = new_total / WRU_SENDS, old_total / WRU_SENDS
    units.add(
        "runhook (dispatch writes + send function)",
        f"{new:.2f}",
        f"<= {WRU_GOAL:g}",
        times(stats.ratio(new, base)),
    )
    units.add("baseline: the layout before issue 16, replayed", f"{base:.2f}", "-", "-")

    def breakdown(ops: dict[str, float]) -> str:
        return ", ".join(f"{op} {u / WRU_SENDS:.2f}" for op, u in sorted(ops.items()))

    units.notes.append(f"runhook by operation: {breakdown(new_ops)}")
    units.notes.append(f"baseline by operation: {breakdown(old_ops)}")
    units.notes.append(
        "Counted from the ConsumedCapacity (INDEXES) DynamoDB Local returned for every write "
        "during the row; the baseline replays the old item shapes and writes against the "
        "same table (payload = the same run resource)."
    )
    return units
