"""`runhook webhooks listen`: the local receiver verifies, answers and prints."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import httpx

from runhook.webhooks import generate_secret
from runhook.webhooks.signing import signature_headers
from runhook_dev.cli import build_parser
from runhook_dev.listen import Listener

BODY = json.dumps({"id": "r1", "status": "COMPLETED"}).encode()


def _headers(secret: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-komos-event": "task-run.completed",
        "x-komos-run-id": "r1",
        **signature_headers([secret], msg_id="m1", body=BODY, at=datetime.now(UTC)),
    }


def test_listener_verifies_and_prints() -> None:
    secret = generate_secret()
    out = io.StringIO()
    listener = Listener(port=0, secrets=[secret], out=out).start()
    try:
        ok = httpx.post(listener.url, content=BODY, headers=_headers(secret))
        assert ok.status_code == 200 and ok.json() == {"received": True}
        bad = httpx.post(listener.url, content=BODY + b" ", headers=_headers(secret))
        assert bad.status_code == 400
        stranger = httpx.post(listener.url, content=BODY, headers=_headers(generate_secret()))
        assert stranger.status_code == 400
    finally:
        listener.stop()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert "task-run.completed" in lines[0] and "[verified]" in lines[0]
    assert "status=COMPLETED" in lines[0] and "id=m1" in lines[0] and lines[0].endswith("-> 200")
    assert "INVALID" in lines[1] and lines[1].endswith("-> 400")
    assert [d.verified for d in listener.received] == [True, False, False]


def test_listener_without_secret_prints_unverified_and_forwards() -> None:
    target = Listener(port=0, out=io.StringIO()).start()
    out = io.StringIO()
    listener = Listener(port=0, out=out, forward_to=target.url, print_body=True).start()
    try:
        resp = httpx.post(listener.url, content=BODY, headers=_headers(generate_secret()))
        assert resp.status_code == 200
    finally:
        listener.stop()
        target.stop()
    assert "[unverified]" in out.getvalue() and '"status": "COMPLETED"' in out.getvalue()
    (forwarded,) = target.received
    assert forwarded.body == BODY and forwarded.headers["x-komos-run-id"] == "r1"
    assert "webhook-signature" in forwarded.headers


def test_cli_wiring() -> None:
    args = build_parser().parse_args(
        ["webhooks", "listen", "--port", "0", "--secret", "whsec_x", "--events", "a,b"]
    )
    assert args.port == 0 and args.secret == "whsec_x" and args.events == "a,b"
    assert args.func.__name__ == "run_listen"
