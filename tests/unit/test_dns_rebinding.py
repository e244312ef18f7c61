"""DNS rebinding: both outbound callers connect only to the address the SSRF guard vetted.

The webhook sender and the http step kind send through runhook.netguard's guarded
transport. Here a fake DNS answers a public address on the first lookup and 127.0.0.1
or 169.254.169.254 on any later one, and a recording network notes every address a
connection is opened to (it connects for real only to loopback, or where `routes` says).

The URLs use `localhost` on the port of a real loopback receiver: a caller that let
httpx (or the system) resolve the name again would reach that receiver, which counts
every TCP connection it accepts, so the tests fail if re-resolution comes back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runhook.engine.steps import StepFailure
from runhook.engine.steps import http as http_kind
from runhook.engine.steps.http import HttpKind
from runhook.settings import Settings
from tests.support.loopback import Answer, LoopbackServer, Request
from tests.support.netfakes import PUBLIC, FakeDns, RecordingNetwork, TestCA
from tests.unit.engine.engine_support import make_call
from tests.unit.webhooks.test_webhook_sender import Harness

REBOUND = ["127.0.0.1", "169.254.169.254"]  # loopback, the instance metadata service


@dataclass
class Outcome:
    ok: bool
    error: str  # the attempt's error (webhook) or "code: message" (http step)


def deliver(url: str, *, allow_private: bool, dns: FakeDns, network: RecordingNetwork) -> Outcome:
    """One webhook delivery to `url` by the real Sender (fake store and queue)."""
    h = Harness(ALLOW_PRIVATE_TARGETS=allow_private, resolver=dns, network=network)
    h.run(h.delivery(h.endpoint(url)))
    (attempt,) = h.store.attempts
    return Outcome(attempt.ok, attempt.error or "")


def run_http_step(
    url: str, *, allow_private: bool, dns: FakeDns, network: RecordingNetwork
) -> Outcome:
    """One http step POSTing to `url`."""
    call, _ = make_call(
        {"id": "s", "type": "http", "method": "POST", "url": url, "json": {"a": 1}},
        settings=Settings(allow_private_targets=allow_private),
        timeout=5.0,
    )
    try:
        HttpKind(resolver=dns, network=network).run(call)
    except StepFailure as exc:
        return Outcome(False, f"{exc.code}: {exc.message}")
    return Outcome(True, "")


Caller = Callable[..., Outcome]
CALLERS = pytest.mark.parametrize("caller", [deliver, run_http_step], ids=["webhook", "http_step"])


@pytest.fixture()
def receiver() -> Iterator[LoopbackServer]:
    """The loopback server a rebinding attack would reach."""
    with LoopbackServer() as server:
        yield server


@CALLERS
@pytest.mark.parametrize("rebound", REBOUND)
def test_a_rebound_name_is_connected_only_at_its_vetted_address(
    caller: Caller, rebound: str, receiver: LoopbackServer
) -> None:
    dns = FakeDns({"localhost": [PUBLIC]}, then={"localhost": [rebound]})
    network = RecordingNetwork()
    outcome = caller(
        f"https://localhost:{receiver.port}/hook", allow_private=False, dns=dns, network=network
    )
    assert receiver.connections == 0 and receiver.recorded() == []  # loopback never reached
    # The one connection went to the public address the guard vetted (unreachable in tests).
    assert network.connects == [(PUBLIC, receiver.port)]
    assert not outcome.ok and "unreachable" in outcome.error, outcome.error
    assert dns.lookups == [("localhost", receiver.port)]  # resolved once, never again


@CALLERS
@pytest.mark.parametrize("private", REBOUND)
def test_a_name_resolving_to_a_private_address_is_refused_before_connecting(
    caller: Caller, private: str, receiver: LoopbackServer
) -> None:
    dns = FakeDns({"localhost": [private]})
    network = RecordingNetwork()
    outcome = caller(
        f"https://localhost:{receiver.port}/hook", allow_private=False, dns=dns, network=network
    )
    assert not outcome.ok
    assert "target_not_allowed" in outcome.error and private in outcome.error, outcome.error
    assert network.connects == []
    assert receiver.connections == 0


def test_a_refused_delivery_is_dead_lettered(receiver: LoopbackServer) -> None:
    h = Harness(
        ALLOW_PRIVATE_TARGETS=False,
        resolver=FakeDns({"localhost": ["169.254.169.254"]}),
        network=RecordingNetwork(),
    )
    d = h.delivery(h.endpoint(f"https://localhost:{receiver.port}/hook"))
    assert h.run(d).failed_message_ids == []
    (attempt,) = h.store.attempts
    assert (attempt.error or "").startswith("blocked: target_not_allowed")
    assert h.state(d).status == "failed" and len(h.queue.sent) == 1  # to the DLQ


@CALLERS
def test_an_allowed_name_is_called_at_its_address_with_its_host_header(
    caller: Caller, receiver: LoopbackServer
) -> None:
    # The local cloud's setting (private targets allowed), so a loopback receiver can answer.
    dns = FakeDns({"hooks.example.test": ["127.0.0.1"]})
    network = RecordingNetwork()
    url = f"http://hooks.example.test:{receiver.port}/hook"
    outcome = caller(url, allow_private=True, dns=dns, network=network)
    assert outcome.ok, outcome.error
    (request,) = receiver.recorded()
    assert request.method == "POST" and request.path == "/hook"
    assert request.headers["host"] == f"hooks.example.test:{receiver.port}"
    assert network.connects == [("127.0.0.1", receiver.port)]
    assert dns.lookups == [("hooks.example.test", receiver.port)]


@CALLERS
def test_callers_verify_the_certificate(caller: Caller, tmp_path: Path) -> None:
    """A certificate the trust store does not know is refused (verification stays on)."""
    ca = TestCA(tmp_path)
    with LoopbackServer(tls=ca.server_context("hooks.example.test")) as tls_receiver:
        outcome = caller(
            f"https://hooks.example.test:{tls_receiver.port}/hook",
            allow_private=True,
            dns=FakeDns({"hooks.example.test": ["127.0.0.1"]}),
            network=RecordingNetwork(),
        )
        assert not outcome.ok and "CERTIFICATE_VERIFY_FAILED" in outcome.error, outcome.error
        assert tls_receiver.recorded() == []


# -- an http step in a deployed stage, over TLS, following redirects -----------------------


@pytest.fixture()
def trusted_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestCA:
    """A test CA the http step trusts (its TLS context replaced for this test)."""
    ca = TestCA(tmp_path)
    monkeypatch.setattr(http_kind, "_ssl_context", ca.client_context())
    return ca


@pytest.mark.parametrize("rebound", REBOUND)
def test_http_step_vets_every_redirect_hop(
    trusted_ca: TestCA, rebound: str, receiver: LoopbackServer
) -> None:
    """Deployed stage: api.example.test (public, vetted) redirects to a same-host path and
    then to a name that resolves to a private address: the second host is refused."""
    evil = f"https://localhost:{receiver.port}/steal"

    def respond(request: Request) -> Answer:
        location = "/next" if request.path == "/start" else evil
        return Answer(302, {"Location": location}, b"")

    with LoopbackServer(respond, tls=trusted_ca.server_context("api.example.test")) as api:
        dns = FakeDns({"api.example.test": [PUBLIC], "localhost": [rebound]})
        network = RecordingNetwork(routes={(PUBLIC, 443): ("127.0.0.1", api.port)})
        outcome = run_http_step(
            "https://api.example.test/start", allow_private=False, dns=dns, network=network
        )
        assert not outcome.ok and outcome.error.startswith("target_not_allowed"), outcome.error
        # Both hops to api.example.test on one connection, to its vetted address, TLS and
        # Host for the name (its certificate names api.example.test alone).
        assert [r.path for r in api.recorded()] == ["/start", "/next"]
        assert {r.headers["host"] for r in api.recorded()} == {"api.example.test"}
        assert trusted_ca.sni == ["api.example.test"]
    assert network.connects == [(PUBLIC, 443)]
    assert dns.lookups == [("api.example.test", 443), ("localhost", receiver.port)]
    assert receiver.connections == 0


def test_http_step_rebinding_after_a_redirect_stays_on_the_vetted_address(
    trusted_ca: TestCA, receiver: LoopbackServer
) -> None:
    """A redirect to another (public) name opens a new connection: vetted, and only once."""
    with LoopbackServer(
        lambda request: Answer(302, {"Location": f"https://localhost:{receiver.port}/x"}, b""),
        tls=trusted_ca.server_context("api.example.test"),
    ) as api:
        dns = FakeDns(
            {"api.example.test": [PUBLIC], "localhost": ["93.184.216.35"]},
            then={"localhost": ["127.0.0.1"]},
        )
        network = RecordingNetwork(routes={(PUBLIC, 443): ("127.0.0.1", api.port)})
        outcome = run_http_step(
            "https://api.example.test/start", allow_private=False, dns=dns, network=network
        )
    assert not outcome.ok and "unreachable" in outcome.error, outcome.error
    assert network.connects == [(PUBLIC, 443), ("93.184.216.35", receiver.port)]
    assert receiver.connections == 0
