"""The SDK without a server: retries, errors, pagination and settings, on httpx's MockTransport."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from runhook_client import AsyncRunhook, NotFound, RateLimited, Runhook, ServiceUnavailable
from runhook_client._transport import RetryPolicy, parse_retry_after

RUN = {
    "id": "9c77d908-7bf4-4e7f-9a20-2c5e7fdf2e94",
    "taskId": "79c6b1aa-24d1-45b3-8c94-9a2e2a2f55bc",
    "status": "COMPLETED",
    "triggerType": "api",
    "timestamps": {"createdAt": "2025-10-14T18:21:52.123Z", "startedAt": None, "finishedAt": None},
    "progress": {"currentStep": 2, "stepsTotal": 2},
    "inputs": {},
    "outputs": {"total": 3},
    "logsUrl": "http://x/public/v1/task-runs/9c77/logs",
    "error": None,
    "cancelReason": None,
    "someFutureField": {"kept": True},
}


def client_answering(*answers: httpx.Response, sleeps: list[float]) -> tuple[Runhook, list]:
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0)

    client = Runhook(
        "sk_test_x",
        base_url="http://api",
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
    )
    return client, seen


def test_a_429_is_retried_after_the_retry_after_the_server_asked_for() -> None:
    sleeps: list[float] = []
    client, seen = client_answering(
        httpx.Response(429, json={"detail": "rate_limited"}, headers={"Retry-After": "2"}),
        httpx.Response(503, json={"detail": "service_unavailable"}, headers={"Retry-After": "1"}),
        httpx.Response(200, json={"run": RUN}),
        sleeps=sleeps,
    )
    run = client.runs.get(RUN["id"])
    assert run.outputs == {"total": 3}
    assert sleeps == [2.0, 1.0]
    assert len(seen) == 3
    assert seen[0].headers["Authorization"] == "Bearer sk_test_x"
    assert seen[0].url.path == f"/public/v1/task-runs/{RUN['id']}"


def test_retries_are_bounded_and_then_the_error_carries_the_code() -> None:
    sleeps: list[float] = []
    limited = httpx.Response(429, json={"detail": "rate_limited"}, headers={"Retry-After": "999"})
    client, seen = client_answering(*[limited] * 4, sleeps=sleeps)
    with pytest.raises(RateLimited) as caught:
        client.runs.get(RUN["id"])
    assert len(seen) == 4  # the first try and 3 retries
    assert sleeps == [30.0, 30.0, 30.0]  # Retry-After capped by RetryPolicy.max_delay
    assert (caught.value.status, caught.value.detail, caught.value.retry_after) == (
        429,
        "rate_limited",
        999.0,
    )


def test_an_error_answer_is_its_exception_with_detail_status_and_body() -> None:
    client, _ = client_answering(httpx.Response(404, json={"detail": "run_not_found"}), sleeps=[])
    with pytest.raises(NotFound) as caught:
        client.runs.get("nope")
    assert caught.value.detail == "run_not_found"
    assert caught.value.status == 404
    assert caught.value.body == {"detail": "run_not_found"}


def test_list_follows_next_page_tokens_to_the_end() -> None:
    pages = [
        httpx.Response(200, json={"runs": [RUN, RUN], "nextPageToken": "p2"}),
        httpx.Response(200, json={"runs": [RUN], "nextPageToken": None}),
    ]
    client, seen = client_answering(*pages, sleeps=[])
    runs = list(client.runs.list(status="COMPLETED", page_size=2))
    assert len(runs) == 3
    assert "pageToken" not in seen[0].url.params
    assert seen[1].url.params["pageToken"] == "p2"
    assert seen[1].url.params["status"] == "COMPLETED"


def test_models_keep_unknown_fields_and_parse_timestamps() -> None:
    client, _ = client_answering(httpx.Response(200, json={"run": RUN}), sleeps=[])
    run = client.runs.get(RUN["id"])
    assert run.timestamps.created_at == datetime(2025, 10, 14, 18, 21, 52, 123000, tzinfo=UTC)
    assert run.model_extra == {"someFutureField": {"kept": True}}
    assert run.model_dump(by_alias=True, mode="json")["someFutureField"] == {"kept": True}


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNHOOK_API_KEY", "sk_test_env")
    monkeypatch.setenv("RUNHOOK_API_URL", "https://runhook.example/public/v1/")
    settings = Runhook().settings
    assert (settings.api_key, settings.base_url) == ("sk_test_env", "https://runhook.example")
    monkeypatch.delenv("RUNHOOK_API_URL")
    assert Runhook("sk_arg").settings.base_url == "http://127.0.0.1:3000"
    assert Runhook("sk_arg").settings.api_key == "sk_arg"


def test_retry_after_as_an_http_date_and_the_backoff_without_one() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True), now) == 7
    assert parse_retry_after("soon") is None
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)
    assert 0.5 <= policy.delay(1, None) <= 1.0
    assert 2.5 <= policy.delay(10, None) <= 5.0


def test_the_async_client_retries_and_paginates_the_same_way() -> None:
    answers = [
        httpx.Response(503, json={"detail": "service_unavailable"}),
        httpx.Response(503, json={"detail": "service_unavailable"}, headers={"Retry-After": "0"}),
        httpx.Response(200, json={"runs": [RUN], "nextPageToken": "p2"}),
        httpx.Response(200, json={"runs": [RUN], "nextPageToken": None}),
    ]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def main() -> int:
        transport = httpx.MockTransport(lambda request: answers.pop(0))
        async with AsyncRunhook(
            "k",
            base_url="http://api",
            transport=transport,
            sleep=sleep,
            retry=RetryPolicy(max_retries=0),
        ) as client:
            with pytest.raises(ServiceUnavailable):
                await client.runs.get("x")  # max_retries=0: the 503 is raised at once
            client.retry = RetryPolicy()
            return len([r async for r in client.runs.list()])

    assert asyncio.run(main()) == 2
    assert sleeps == [0.0]
    assert answers == []


def test_the_sdk_imports_nothing_of_the_service_or_the_dev_tools() -> None:
    """Callers install the SDK alone: it may not need runhook (the service) or runhook_dev."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "clients" / "runhook_client"
    offending = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offending += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in {"runhook", "runhook_dev"}
            ]
    assert offending == []
    assert len(list(root.rglob("*.py"))) >= 6  # the walk saw the package
