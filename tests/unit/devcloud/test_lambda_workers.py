"""A Lambda worker's invoke server (`runhook_dev.devcloud.lambda_workers`) over real HTTP,
spoken to by the cloud's side of it (`invoker.RemoteInvoker`): answers, function errors and
unknown functions come back as the in-process invoker gives them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runhook_dev.devcloud.invoker import SERVICE_ERROR, RemoteInvoker
from runhook_dev.devcloud.lambda_workers import serve, worker_registry
from runhook_dev.devcloud.registry import FunctionRegistry, LocalFunction
from runhook_dev.devcloud.servers import listen

CODE = """
import os

def handler(event, context):
    return {"echo": event, "name": context.function_name, "stage": os.environ.get("STAGE")}

def fails(event, context):
    raise ValueError("bad input: " + str(event.get("n")))

def unmarshallable(event, context):
    return {"when": object()}
"""


def _spec(name: str, handler: str, code_dir: Path) -> dict[str, Any]:
    return {
        "name": name,
        "handler": handler,
        "logical_id": name.title().replace("-", ""),
        "code_dir": str(code_dir),
        "timeout_seconds": 5.0,
        "memory_mb": 128,
        "environment": {"STAGE": "unit"},
    }


@pytest.fixture()
def worker(tmp_path: Path) -> Iterator[str]:
    """A worker's invoke server on a free loopback port, serving three functions; its URL."""
    (tmp_path / "app.py").write_text(CODE)
    config = {
        "functions": [
            _spec("echo", "app.handler", tmp_path),
            _spec("boom", "app.fails", tmp_path),
            _spec("odd", "app.unmarshallable", tmp_path),
        ],
        "environments": None,  # the modules' handlers, as without a container factory
        "endpoint_url": "http://127.0.0.1:9",
    }
    server = serve(listen(0, "test", "-"), worker_registry(config))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.socket.getsockname()[:2]
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()


def _function(name: str) -> LocalFunction:
    """The cloud's record of a template function (only its logical id is sent)."""
    return LocalFunction(name=name, handler="app.handler", logical_id=name.title())


def test_an_invoke_runs_the_handler_in_the_worker_and_answers_its_result(
    worker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAGE", "unit")  # the worker's process environment (this process)
    invoker = RemoteInvoker(worker, FunctionRegistry())

    first = invoker.invoke(_function("echo"), {"n": 1})
    again = invoker.invoke(_function("echo"), {"n": 2})  # the same keep-alive connection

    assert not first.error and not again.error
    assert first.payload == {"echo": {"n": 1}, "name": "echo", "stage": "unit"}
    assert again.payload["echo"] == {"n": 2}
    assert httpx.get(f"{worker}/invocations").json() == {"Echo": 2}  # by logical id


def test_a_function_error_comes_back_as_lambda_s_error_payload(worker: str) -> None:
    result = RemoteInvoker(worker, FunctionRegistry()).invoke(_function("boom"), {"n": 7})

    assert result.error
    assert result.error_type == "ValueError"
    assert result.payload["errorMessage"] == "bad input: 7"


def test_an_answer_that_is_not_json_is_a_marshal_error(worker: str) -> None:
    result = RemoteInvoker(worker, FunctionRegistry()).invoke(_function("odd"), {})

    assert result.error and result.error_type == "Runtime.MarshalError"


def test_an_unknown_function_is_a_service_error_and_runs_nothing(worker: str) -> None:
    result = RemoteInvoker(worker, FunctionRegistry()).invoke(_function("missing"), {})

    assert result.error and result.error_type == SERVICE_ERROR
    assert "HTTP 404" in result.payload["errorMessage"]
