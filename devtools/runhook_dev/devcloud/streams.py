"""DynamoDB stream event source mappings, locally: a thread per mapping that reads the
table's stream from DynamoDB Local (its Streams API) and invokes the function.

What Lambda's mapping does and this does too (docs: "Using AWS Lambda with Amazon
DynamoDB"): shards are read in order, a child only after its parent is drained;
batches of up to BatchSize records in Lambda's event shape; a failed invocation is
retried with the same records (nothing after them is read meanwhile); with
``ReportBatchItemFailures`` the batch is checkpointed before the first reported record
and the next batch starts at it; ``FilterCriteria`` (event_filters.py) is applied to each
record before the invocation: records no filter matches never reach the function and
are checkpointed as handled, and a batch that filters to nothing invokes nothing. Not
emulated: bisecting, and the MaximumRetryAttempts/on-failure destination (locally a
batch is retried until it succeeds, with backoff).

Idle, a reader waits for the dispatcher's word that a table was written (its `wake`
channel, activity.py), looking anyway after a back-off that grows to `IDLE_CAP` seconds
(writes that bypass the dispatcher, e.g. straight to DynamoDB Local's port).

Checkpoints (the last record handled per shard) are kept in a JSON file under the
state directory, so `runhook dev` restarted on the same state continues after the last
record it handled: events committed while it was down, or not yet published when it
was killed, go out after the restart. Without a state file (an in-memory cloud), a new
mapping starts at TRIM_HORIZON.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from runhook_dev.devcloud.activity import Channel
from runhook_dev.devcloud.cfn import REGION
from runhook_dev.devcloud.event_filters import RecordFilter
from runhook_dev.devcloud.registry import FunctionRegistry, LocalFunction

log = logging.getLogger("devcloud.streams")

ClientFactory = Callable[[str], Any]

# Seconds between reads while records keep coming: Lambda polls a stream's shard about four
# times a second ("Using AWS Lambda with Amazon DynamoDB"), and so does this reader. Read
# more often (it was 50 ms), each read brought fewer records, so more publisher invocations,
# each with its own endpoint Query: more CPU for the same events (issue 16,
# docs/performance.md). A write after a quiet spell is still read at once (the wake-up).
BUSY_INTERVAL = 0.25
QUIET_BASE = 0.05  # the first wait once the stream goes quiet, growing x1.5 per empty read
IDLE_INTERVAL = 0.5  # ... growing to this while the stream is quiet (without a wake channel)
IDLE_CAP = 10.0  # ... or to this when the dispatcher wakes the reader on every table write
RETRY_BACKOFF = (0.2, 0.5, 1.0, 2.0, 5.0)  # after a failed batch
SHARD_REFRESH = 5.0  # seconds between DescribeStream calls (new shards appear rarely)


@dataclass(frozen=True)
class StreamSourceSpec:
    """A DynamoDB event source mapping of a function (from the template)."""

    function: str
    event_name: str
    table_name: str
    batch_size: int
    report_batch_item_failures: bool
    record_filter: RecordFilter = field(default_factory=RecordFilter)  # FilterCriteria


class Checkpoints:
    """The last sequence number handled per shard, saved after every batch."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, str]] = {}
        if path is not None and path.is_file():
            try:
                self._data = json.loads(path.read_text())
            except ValueError:
                log.warning("stream checkpoints in %s unreadable: starting over", path)

    def get(self, stream_arn: str, shard_id: str) -> str | None:
        return self._data.get(stream_arn, {}).get(shard_id)

    def set(self, stream_arn: str, shard_id: str, sequence_number: str) -> None:
        with self._lock:
            # Only the current stream's shards are kept (a recreated table has a new ARN).
            shards = self._data.get(stream_arn, {})
            self._data = {stream_arn: {**shards, shard_id: sequence_number}}
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(self._data))
                tmp.replace(self.path)  # atomic: a kill never leaves half a file


RAW_RECORDS_HANDLER = "runhook-devcloud-raw-records"


def keep_records_raw(streams: Any) -> None:
    """Make `streams`' GetRecords answer its records as the wire's JSON, unparsed.

    botocore's parsing of a GetRecords answer (every attribute value of every image,
    shape by shape) was the largest part of the stream reader's CPU in a py-spy profile
    of the local cloud under load (issue 16), and its result was turned straight back
    into the wire's form for Lambda's event (`lambda_record`). botocore's
    ``before-parse`` event lets a handler answer part of the response itself: a
    successful answer's records are decoded with `json.loads` and the parser is handed
    an empty body; errors (an expired iterator) are parsed as before.
    """

    def raw(
        response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
    ) -> None:
        if response_dict.get("status_code") != 200:
            return
        body = json.loads(response_dict["body"] or b"{}")
        customized_response_dict["Records"] = body.get("Records") or []
        if "NextShardIterator" in body:
            customized_response_dict["NextShardIterator"] = body["NextShardIterator"]
        response_dict["body"] = b"{}"

    streams.meta.events.register(
        "before-parse.dynamodb-streams.GetRecords", raw, unique_id=RAW_RECORDS_HANDLER
    )


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """One record of Lambda's DynamoDB event, from a GetRecords record (parsed by
    botocore, or as the wire's JSON: `keep_records_raw`)."""
    stream = dict(record.get("dynamodb") or {})
    created = stream.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        stream["ApproximateCreationDateTime"] = int(created.timestamp())
    elif isinstance(created, int | float):
        stream["ApproximateCreationDateTime"] = int(created)
    return {
        "eventID": record.get("eventID", ""),
        "eventName": record.get("eventName", ""),
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": _json_safe(stream),
        "eventSourceARN": stream_arn,
    }


def _json_safe(value: Any) -> Any:
    """Binary attributes as base64 text, as Lambda's JSON event carries them."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    iterator: str | None = None
    closed: bool = False  # read to its end: children may start


@dataclass
class StreamEventSource:
    """Reads one table's stream and feeds it to one function (see the module docstring)."""

    client: ClientFactory
    registry: FunctionRegistry
    function: LocalFunction
    spec: StreamSourceSpec
    checkpoints: Checkpoints
    name: str = ""
    wake: Channel | None = None  # the dispatcher's word that a table was written
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"stream-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self.wake is not None:
            self.wake.notify()

    def join(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        streams, ddb = self.client("dynamodbstreams"), self.client("dynamodb")
        keep_records_raw(streams)
        reader = _StreamReader(self, streams, ddb, IDLE_CAP if self.wake else IDLE_INTERVAL)
        while not self._stop.is_set():
            generation = self.wake.generation() if self.wake is not None else 0
            try:
                busy = reader.poll()
            except Exception as exc:
                if self._stop.is_set():
                    return
                log.warning("%s: reading the stream failed: %s", self.name, exc)
                reader.reset()
                self._stop.wait(RETRY_BACKOFF[-1])
                continue
            if busy:
                self._stop.wait(BUSY_INTERVAL)
            elif self.wake is None or reader.failing:  # a failed batch keeps its backoff
                self._stop.wait(reader.idle_interval())
            elif self.wake.wait(generation, reader.idle_interval()):
                reader.woken()

    def invoke(self, records: list[dict[str, Any]], stream_arn: str) -> str | bool:
        """Hand a batch to the function: True when all succeeded, False when the whole
        batch failed, else the sequence number to continue from (a reported failure).

        Records the mapping's FilterCriteria drops are not sent (and count as handled,
        like Lambda); when none is left the function is not invoked at all."""
        shaped = ((r, lambda_record(r, stream_arn)) for r in records)
        kept = [(r, s) for r, s in shaped if self.spec.record_filter.passes(s)]
        if not kept:
            return True
        records = [r for r, _ in kept]
        result = self.registry.invoke(self.function, {"Records": [s for _, s in kept]})
        if result.error:
            log.info("%s: batch of %d failed (%s)", self.name, len(records), result.error_type)
            return False
        if not self.spec.report_batch_item_failures or not isinstance(result.payload, dict):
            return True
        failures = result.payload.get("batchItemFailures") or []
        numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
        reported = [f.get("itemIdentifier") for f in failures if isinstance(f, dict)]
        if not reported:
            return True
        if any(item not in numbers for item in reported):
            log.warning("%s: invalid batchItemFailures %r: batch failed", self.name, failures)
            return False
        return str(min(reported, key=numbers.index))


class _StreamReader:
    """The state of one mapping's reading: the stream, its shards and their iterators."""

    def __init__(self, source: StreamEventSource, streams: Any, ddb: Any, idle_cap: float) -> None:
        self.source = source
        self.idle_cap = idle_cap
        self.streams = streams
        self.ddb = ddb
        self.stream_arn: str | None = None
        self.shards: dict[str, _Shard] = {}
        self._refreshed = 0.0
        self._quiet_polls = 0
        self._failures = 0

    def reset(self) -> None:
        """Forget iterators (expired, or the stream changed): re-read from checkpoints."""
        self.stream_arn = None
        self.shards = {}

    def idle_interval(self) -> float:
        if self._failures:
            return RETRY_BACKOFF[min(self._failures, len(RETRY_BACKOFF)) - 1]
        return min(self.idle_cap, QUIET_BASE * (1.5 ** min(self._quiet_polls, 30)))

    @property
    def failing(self) -> bool:
        return self._failures > 0

    def woken(self) -> None:
        """A table was written: read at once, and back off from the start again."""
        self._quiet_polls = 0

    def poll(self) -> bool:
        """Read each ready shard once; True when records were handled."""
        self._refresh_shards()
        busy = False
        for shard in list(self.shards.values()):
            if shard.closed or not self._ready(shard):
                continue
            busy = self._read(shard) or busy
        self._quiet_polls = 0 if busy else self._quiet_polls + 1
        return busy

    def _refresh_shards(self) -> None:
        if self.stream_arn is not None and time.monotonic() - self._refreshed < SHARD_REFRESH:
            return
        table = self.ddb.describe_table(TableName=self.source.spec.table_name)["Table"]
        arn = table.get("LatestStreamArn")
        if not arn:
            raise RuntimeError(f"table {self.source.spec.table_name} has no stream")
        if arn != self.stream_arn:
            self.stream_arn, self.shards = arn, {}
        for shard in self._describe_shards(arn):
            if shard["ShardId"] not in self.shards:
                self.shards[shard["ShardId"]] = _Shard(shard["ShardId"], shard.get("ParentShardId"))
        self._refreshed = time.monotonic()

    def _describe_shards(self, arn: str) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        start: dict[str, Any] = {}
        while True:
            description = self.streams.describe_stream(StreamArn=arn, **start)["StreamDescription"]
            shards.extend(description.get("Shards") or [])
            last = description.get("LastEvaluatedShardId")
            if not last:
                return shards
            start = {"ExclusiveStartShardId": last}

    def _ready(self, shard: _Shard) -> bool:
        parent = self.shards.get(shard.parent_id or "")
        return parent is None or parent.closed

    def _iterator(self, shard: _Shard) -> str:
        assert self.stream_arn is not None
        after = self.source.checkpoints.get(self.stream_arn, shard.shard_id)
        position: dict[str, Any] = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
            if after
            else {"ShardIteratorType": "TRIM_HORIZON"}
        )
        answer = self.streams.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard.shard_id, **position
        )
        return str(answer["ShardIterator"])

    def _read(self, shard: _Shard) -> bool:
        if shard.iterator is None:
            shard.iterator = self._iterator(shard)
        try:
            answer = self.streams.get_records(
                ShardIterator=shard.iterator, Limit=self.source.spec.batch_size
            )
        except self.streams.exceptions.ExpiredIteratorException:
            shard.iterator = None
            return False
        records = list(answer.get("Records") or [])
        if records and not self._deliver(shard, records):
            return False
        shard.iterator = answer.get("NextShardIterator")
        if shard.iterator is None:
            shard.closed = True
        return bool(records)

    def _deliver(self, shard: _Shard, records: list[dict[str, Any]]) -> bool:
        """Invoke; checkpoint what succeeded. False: retry from the checkpoint later."""
        assert self.stream_arn is not None
        outcome = self.source.invoke(records, self.stream_arn)
        numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
        if outcome is True:
            self.source.checkpoints.set(self.stream_arn, shard.shard_id, numbers[-1])
            self._failures = 0
            return True
        if isinstance(outcome, str) and numbers.index(outcome) > 0:
            done = numbers[numbers.index(outcome) - 1]
            self.source.checkpoints.set(self.stream_arn, shard.shard_id, done)
        self._failures += 1
        shard.iterator = None  # re-read from the checkpoint, after a backoff
        return False
