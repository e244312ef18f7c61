"""The table gateway (runhook.dal.table.Table) against DynamoDB Local, plus injected fake
clients for what DynamoDB Local will not do on demand (throttling, unprocessed items)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from runhook.dal.expressions import Delete, Put, Update, UpdateItem, index_query, key, prefix_query
from runhook.dal.table import Table, TransactionCancelled
from runhook.errors import InvalidRequest, ServiceUnavailable

pytestmark = pytest.mark.localcloud


@pytest.fixture()
def table(local_cloud: Any, aws: Any) -> Table:
    return Table(local_cloud.table_name, boto3_client=aws.client("dynamodb"))


@pytest.fixture()
def pk() -> str:
    """A partition of this test's own."""
    return f"TEST#{uuid.uuid4()}"


def _client_error(code: str, operation: str = "UpdateItem") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class FakeClient:
    """Answers (or raises) what a test scripts, call by call; records the calls."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _answer(self, operation: str, kwargs: dict[str, Any]) -> Any:
        self.calls.append((operation, kwargs))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer(kwargs) if callable(answer) else answer

    def __getattr__(self, operation: str) -> Any:
        return lambda **kwargs: self._answer(operation, kwargs)


def test_conditional_writes_answer_not_changed(table: Table, pk: str) -> None:
    item_key = key(pk, "A")
    assert table.put({**item_key, "n": 1}, condition="attribute_not_exists(pk)") is True
    assert table.put({**item_key, "n": 2}, condition="attribute_not_exists(pk)") is False
    assert table.get(item_key, consistent=True) == {**item_key, "n": 1}

    refused = Update().add("n", 1).set("note", "bumped")
    expected = refused.value("expected", 5)
    assert table.update(item_key, refused, condition=f"n = {expected}") is None
    assert table.get(item_key, consistent=True) == {**item_key, "n": 1}  # unchanged

    bump = Update().add("n", 1).set("note", "bumped")
    one = bump.value("one", 1)
    assert table.update(item_key, bump, condition=f"n = {one}") == {
        **item_key,
        "n": 2,
        "note": "bumped",
    }
    assert table.update(item_key, Update().set("note", None), return_new=False) == {}
    assert "note" not in (table.get(item_key, consistent=True) or {})


def test_delete_with_a_failed_condition_changes_nothing(table: Table, pk: str) -> None:
    item_key = key(pk, "A")
    table.put({**item_key, "n": 1})
    assert table.delete(key(pk, "missing"), condition="attribute_exists(pk)") is False
    assert table.delete(item_key, condition="attribute_exists(pk)") is True
    assert table.get(item_key, consistent=True) is None


def test_values_round_trip_as_plain_python(table: Table, pk: str) -> None:
    item = {**key(pk, "V"), "i": 7, "f": 2.5, "b": True, "raw": b"\x00\x01", "l": [1, "x"]}
    table.put({**item, "gone": None})
    assert table.get(key(pk, "V"), consistent=True) == item


def test_transactions_report_the_failed_action(table: Table, pk: str) -> None:
    table.put({**key(pk, "taken"), "n": 1})
    with pytest.raises(TransactionCancelled) as info:
        table.transact_write(
            [
                Put({**key(pk, "new"), "n": 1}, "attribute_not_exists(pk)"),
                Put({**key(pk, "taken"), "n": 2}, "attribute_not_exists(pk)"),
            ]
        )
    assert info.value.failed(1) and not info.value.failed(0)
    assert table.get(key(pk, "new"), consistent=True) is None  # all or nothing
    table.transact_write(
        [
            Delete(key(pk, "taken"), "attribute_exists(pk)"),
            UpdateItem(key(pk, "counter"), Update().add("n", 5)),
        ]
    )
    assert table.get(key(pk, "taken"), consistent=True) is None
    assert table.get(key(pk, "counter"), consistent=True) == {**key(pk, "counter"), "n": 5}


def test_batch_put_writes_more_than_25_items(table: Table, pk: str) -> None:
    items = [{**key(pk, f"I#{i:03d}"), "i": i} for i in range(60)]
    table.batch_put(items)
    assert table.query_all(prefix_query(pk, "I#", consistent=True)) == items


def test_unprocessed_items_are_retried_with_backoff() -> None:
    def unprocessed_first(kwargs: dict[str, Any]) -> dict[str, Any]:
        (requests,) = kwargs["RequestItems"].values()
        return {"UnprocessedItems": {"t": requests[:2]}}

    done: dict[str, Any] = {"UnprocessedItems": {}}
    client = FakeClient(done, unprocessed_first, done)
    slept: list[float] = []
    table = Table("t", boto3_client=client, sleep=slept.append)
    table.batch_put([key(f"P#{i}", "S") for i in range(30)])
    sizes = [len(next(iter(kw["RequestItems"].values()))) for _, kw in client.calls]
    assert sizes == [25, 5, 2]  # chunks of 25; the unprocessed 2 sent again
    assert len(slept) == 1 and 0 < slept[0] <= 0.05

    stuck = FakeClient(*[unprocessed_first] * 8)
    with pytest.raises(ServiceUnavailable):
        Table("t", boto3_client=stuck, sleep=slept.append).batch_put([key("P", "S")])
    assert len(stuck.calls) == 8
    assert slept[1:] == sorted(slept[1:])  # backing off


def _page_items(pk: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            **key(f"{pk}#{i}", "X"),
            "gsi1pk": pk,
            "gsi1sk": f"2025-01-01T00:00:{i:02d}.000Z#{i}",
            "odd": i % 2 == 1,
        }
        for i in range(count)
    ]


def test_pages_follow_each_other_newest_first(table: Table, pk: str) -> None:
    items = _page_items(pk, 11)
    table.batch_put(items)
    query = index_query("gsi1", pk, newest_first=True)
    seen: list[str] = []
    token = None
    for _ in range(10):
        page = table.page(query, page_size=4, token=token)
        assert len(page.items) <= 4
        seen += [str(i["gsi1sk"]) for i in page.items]
        token = page.next_token
        if token is None:
            break
    assert seen == sorted((str(i["gsi1sk"]) for i in items), reverse=True)


def test_a_filtered_page_reads_on_until_it_is_full(table: Table, pk: str) -> None:
    table.batch_put(_page_items(pk, 12))
    query = index_query("gsi1", pk, newest_first=True).with_filter("odd = :yes", {":yes": True})
    first = table.page(query, page_size=4)
    assert [i["gsi1sk"][17:19] for i in first.items] == ["11", "09", "07", "05"]
    rest = table.page(query, page_size=4, token=first.next_token)
    assert [i["gsi1sk"][17:19] for i in rest.items] == ["03", "01"]
    assert rest.next_token is None
    budget = table.page(query, page_size=4, max_reads=1)  # a short budget still pages on
    assert budget.next_token is not None


def test_time_bounds_are_after_inclusive_before_exclusive(table: Table, pk: str) -> None:
    table.batch_put(_page_items(pk, 5))
    query = index_query(
        "gsi1", pk, after="2025-01-01T00:00:01.000Z", before="2025-01-01T00:00:03.000Z"
    )
    assert [i["gsi1sk"][17:19] for i in table.query_all(query)] == ["01", "02"]


def test_page_tokens_are_checked(table: Table, pk: str) -> None:
    table.batch_put(_page_items(pk, 3))
    mine = table.page(index_query("gsi1", pk), page_size=1).next_token
    assert mine is not None
    other = index_query("gsi1", f"{pk}-other")
    for bad in (mine, "garbage", mine[:-4]):
        with pytest.raises(InvalidRequest) as info:
            table.page(other, page_size=1, token=bad)
        assert info.value.code == "invalid_page_token"


@pytest.mark.parametrize(
    "failure",
    [
        _client_error("ProvisionedThroughputExceededException"),
        _client_error("ThrottlingException"),
        _client_error("InternalServerError"),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
    ],
)
def test_transient_failures_become_service_unavailable(failure: Exception) -> None:
    table = Table("t", boto3_client=FakeClient(failure))
    with pytest.raises(ServiceUnavailable) as info:
        table.update(key("P", "S"), Update().set("a", 1))
    assert info.value.retry_after >= 1


def test_a_bad_request_is_not_unavailability() -> None:
    table = Table("t", boto3_client=FakeClient(_client_error("ValidationException")))
    with pytest.raises(ClientError):
        table.get(key("P", "S"))


def test_a_missing_table_is_unavailability(local_cloud: Any, aws: Any) -> None:
    missing = Table(f"no-such-table-{uuid.uuid4().hex[:6]}", boto3_client=aws.client("dynamodb"))
    with pytest.raises(ServiceUnavailable):
        missing.get(key("P", "S"))


def test_the_client_is_made_on_first_use() -> None:
    class Session:
        made = 0

        def client(self, service: str, **_: Any) -> Any:
            Session.made += 1
            return FakeClient({}, {})

    table = Table("t", boto3_session=Session())  # type: ignore[arg-type]
    assert Session.made == 0
    assert table.get(key("P", "S")) is None
    assert table.get(key("P", "S2")) is None
    assert Session.made == 1


def test_a_lease_is_stored_in_milliseconds_and_read_in_seconds(container: Any) -> None:
    """`leaseMs` (`leaseUntil` before issue 16) is epoch milliseconds in the table;
    `Delivery.lease_until` is seconds, the unit of `time.time()` the sender compares it with."""
    from runhook import clock, keys
    from runhook.webhook_models import Delivery

    deliveries = container.webhooks.deliveries
    delivery_id = str(uuid.uuid4())
    now = clock.now_iso()
    deliveries.create(
        Delivery(
            id=delivery_id,
            org_id="org",
            endpoint_id=str(uuid.uuid4()),
            event_type="task-run.started",
            webhook_id=delivery_id,
            payload="{}",
            created_at=now,
        )
    )
    started = time.time()
    claimed = deliveries.claim(delivery_id, 0, now=started, lease_seconds=60)
    assert claimed is not None and claimed.attempts == 1
    raw = container.table.get(key(keys.delivery_pk(delivery_id), keys.DELIVERY_SK))
    assert raw["leaseMs"] == int((started + 60) * 1000)
    read = deliveries.get(delivery_id)
    assert read is not None and read.lease_until is not None
    assert abs(read.lease_until - (started + 60)) < 0.01
    # Held: a second claim within the lease fails; after it, it succeeds.
    assert deliveries.claim(delivery_id, 0, now=started + 30, lease_seconds=60) is None
    again = deliveries.claim(delivery_id, 0, now=started + 61, lease_seconds=60)
    assert again is not None and again.attempts == 2


# -- batch_get (issue 14: runs by tag, bulk cancel by ids) ------------------------------------
def test_batch_get_reads_more_than_100_keys_and_skips_missing_ones(table: Table, pk: str) -> None:
    items = [{**key(f"{pk}#{i}", "S"), "i": i} for i in range(130)]
    table.batch_put(items)
    keys = [key(f"{pk}#{i}", "S") for i in range(130)] + [key(f"{pk}#missing", "S")]
    found = table.batch_get(keys, consistent=True)
    assert sorted(found, key=lambda i: int(i["i"])) == items


def test_unprocessed_keys_are_retried_with_backoff() -> None:
    def unprocessed_first(kwargs: dict[str, Any]) -> dict[str, Any]:
        (request,) = kwargs["RequestItems"].values()
        rest = {"t": {**request, "Keys": request["Keys"][1:]}}
        return {"Responses": {"t": [request["Keys"][0]]}, "UnprocessedKeys": rest}

    def all_of_them(kwargs: dict[str, Any]) -> dict[str, Any]:
        (request,) = kwargs["RequestItems"].values()
        return {"Responses": {"t": request["Keys"]}, "UnprocessedKeys": {}}

    client = FakeClient(unprocessed_first, all_of_them)
    slept: list[float] = []
    got = Table("t", boto3_client=client, sleep=slept.append).batch_get(
        [key(f"P#{i}", "S") for i in range(3)], consistent=True
    )
    assert sorted(i["pk"] for i in got) == ["P#0", "P#1", "P#2"]
    sent = [len(next(iter(kw["RequestItems"].values()))["Keys"]) for _, kw in client.calls]
    assert sent == [3, 2] and len(slept) == 1
    assert all(next(iter(kw["RequestItems"].values()))["ConsistentRead"] for _, kw in client.calls)

    def none_of_them(kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"Responses": {"t": []}, "UnprocessedKeys": kwargs["RequestItems"]}

    stuck = FakeClient(*[none_of_them] * 8)
    with pytest.raises(ServiceUnavailable):
        Table("t", boto3_client=stuck, sleep=slept.append).batch_get([key("P", "S")])
    assert len(stuck.calls) == 8
