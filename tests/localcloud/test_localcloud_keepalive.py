"""The local AWS endpoint keeps HTTP/1.1 connections alive (devcloud/keepalive.py).

werkzeug's own handler closes every connection, so each boto3 call used to open a new
one (421 connections for 420 calls in the deliveries benchmark). These tests serve a small
WSGI app with `WsgiServer` and talk to it over one `http.client` connection, then check
boto3 against the whole local cloud.
"""

from __future__ import annotations

import http.client
import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from runhook_dev.devcloud.dispatcher import _Upstream
from runhook_dev.devcloud.servers import WsgiServer, listen


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Answers with the client's port; `/ignore` never reads the body, `/chunked` gives no
    length, `/boom` raises."""
    path = environ["PATH_INFO"]
    port = str(environ["REMOTE_PORT"]).encode()
    if path == "/boom":
        raise RuntimeError("boom")
    if path == "/nodelay":
        sock = environ["werkzeug.socket"]
        flag = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        start_response("200 OK", [("Content-Length", "1")])
        return [b"1" if flag else b"0"]
    if path == "/chunked":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"port=", port]
    if path != "/ignore":
        body = environ["wsgi.input"].read()
        port += b" " + body
    start_response("200 OK", [("Content-Length", str(len(port)))])
    return [port]


@pytest.fixture()
def server() -> Iterator[int]:
    sock = listen(0, "test endpoint", "--none")
    served = WsgiServer(_app, sock)
    served.start()
    try:
        yield served.port
    finally:
        served.stop()


def _ask(conn: http.client.HTTPConnection, method: str, path: str, body: bytes = b"") -> Any:
    conn.request(method, path, body=body or None)
    answer = conn.getresponse()
    return answer, answer.read()


def test_one_connection_serves_many_requests_whatever_the_app_reads(server: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
    answer, first = _ask(conn, "POST", "/echo", b"hello")
    assert answer.status == 200
    assert answer.getheader("Connection") is None
    port = first.split()[0]
    assert first == port + b" hello"
    # A body the app never read is drained: the next request line is parsed correctly.
    answer, data = _ask(conn, "POST", "/ignore", b"x" * 100_000)
    assert (answer.status, data) == (200, port)
    # No Content-Length from the app: the answer is chunked, the connection stays.
    answer, data = _ask(conn, "GET", "/chunked")
    assert answer.getheader("Transfer-Encoding") == "chunked"
    assert data == b"port=" + port
    answer, data = _ask(conn, "HEAD", "/echo")
    assert (answer.status, data) == (200, b"")
    answer, data = _ask(conn, "POST", "/echo", b"again")
    assert data == port + b" again"  # still the first connection
    conn.close()


def test_a_failing_app_answers_500_and_closes(server: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
    answer, _ = _ask(conn, "GET", "/boom")
    assert answer.status == 500
    assert answer.getheader("Connection") == "close"
    conn.close()


def test_http_1_0_clients_get_their_connection_closed(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=5) as raw:
        raw.sendall(b"GET /chunked HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := raw.recv(65536):  # the server closes: recv returns b""
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Connection: close" in head
    assert b"chunked" not in head
    assert body.startswith(b"port=")


def test_answers_are_not_held_back_by_nagle(server: int) -> None:
    """Head and body are two writes; with Nagle on, the body waited for a delayed ACK
    (~40 ms a call)."""
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
    _, flag = _ask(conn, "GET", "/nodelay")
    assert flag == b"1"
    conn.close()


def test_the_dynamodb_upstream_connection_sends_without_delay(server: int) -> None:
    """The dispatcher's connection to DynamoDB Local: http.client writes the head and
    the body separately, so it must not wait for the server's delayed ACK either."""
    upstream = _Upstream("127.0.0.1", lambda: server)
    status, _, data = upstream.request("POST", "/echo", b"{}", {"Content-Type": "x"})
    assert status == 200
    assert data.endswith(b" {}")
    sock = upstream._local.conn.sock
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_boto3_reuses_its_connection_to_the_local_endpoint(
    local_cloud: Any, caplog: pytest.LogCaptureFixture
) -> None:
    dynamodb = local_cloud.client("dynamodb")
    dynamodb.list_tables()  # the client's first connection
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        for _ in range(20):
            dynamodb.describe_table(TableName=local_cloud.table_name)
    opened = [
        r.getMessage()
        for r in caplog.records
        if r.name == "urllib3.connectionpool"
        and ("Starting new" in r.getMessage() or "Resetting dropped" in r.getMessage())
    ]
    assert opened == []
