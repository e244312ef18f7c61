"""The SSRF guard shared by http steps and webhook deliveries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from runhook.netguard import BlockedTarget, check_url, guarded_transport, is_public_address
from tests.support.loopback import LoopbackServer
from tests.support.netfakes import PUBLIC, FakeDns, RecordingNetwork, TestCA


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.10",
        "198.18.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "::127.0.0.1",  # IPv4-compatible
        "2001:db8::1",
        "not-an-ip",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "::ffff:1.1.1.1"]
)
def test_public_addresses_pass(address: str) -> None:
    assert is_public_address(address)


def _resolver(mapping: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in mapping:
            raise OSError("Name or service not known")
        return mapping[host]

    return resolve


def test_deployed_stage_requires_https() -> None:
    with pytest.raises(BlockedTarget) as info:
        check_url("http://example.com/x", allow_private=False, resolver=_resolver({}))
    assert info.value.code == "scheme_not_allowed"


def test_hostname_resolving_to_private_address_is_refused() -> None:
    resolver = _resolver({"internal.example.com": ["93.184.216.34", "10.0.0.5"]})
    with pytest.raises(BlockedTarget) as info:
        check_url("https://internal.example.com/", allow_private=False, resolver=resolver)
    assert info.value.code == "target_not_allowed"
    assert "10.0.0.5" in str(info.value)


def test_metadata_literal_is_refused() -> None:
    with pytest.raises(BlockedTarget) as info:
        check_url("https://169.254.169.254/latest/meta-data/", allow_private=False)
    assert info.value.code == "target_not_allowed"


def test_ipv6_literal_loopback_is_refused() -> None:
    with pytest.raises(BlockedTarget):
        check_url("https://[::1]:8443/", allow_private=False)


def test_public_target_passes_and_returns_addresses() -> None:
    resolver = _resolver({"api.example.com": ["93.184.216.34"]})
    target = check_url("https://api.example.com/v1?a=1", allow_private=False, resolver=resolver)
    assert target.host == "api.example.com"
    assert target.port == 443
    assert target.addresses == ("93.184.216.34",)


def test_local_cloud_allows_loopback_over_http() -> None:
    target = check_url("http://127.0.0.1:8080/ok", allow_private=True)
    assert target.addresses == ("127.0.0.1",)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/", "scheme_not_allowed"),
        ("file:///etc/passwd", "scheme_not_allowed"),
        ("https:///nohost", "invalid_url"),
        ("https://user:pw@example.com/", "invalid_url"),
        ("https://example.com:99999/", "invalid_url"),
        ("https://nowhere.invalid/", "unresolvable_host"),
    ],
)
def test_bad_urls(url: str, code: str) -> None:
    with pytest.raises(BlockedTarget) as info:
        check_url(url, allow_private=False, resolver=_resolver({}))
    assert info.value.code == code


# -- the guarded transport: resolve once, vet every address, connect to a vetted one ------


def _client(**guard: Any) -> httpx.Client:
    return httpx.Client(transport=guarded_transport(**guard), trust_env=False)


def test_transport_connects_to_the_resolved_address_with_the_real_host() -> None:
    dns = FakeDns({"hooks.example.test": ["127.0.0.1"]})
    network = RecordingNetwork()
    with (
        LoopbackServer() as receiver,
        _client(allow_private=True, resolver=dns, network=network) as client,
    ):
        url = f"http://hooks.example.test:{receiver.port}/hook"
        assert client.get(url).status_code == 200
        assert client.get(url).status_code == 200  # the kept-alive connection is reused
    assert network.connects == [("127.0.0.1", receiver.port)]
    assert dns.lookups == [("hooks.example.test", receiver.port)]
    assert [r.headers["host"] for r in receiver.recorded()] == [
        f"hooks.example.test:{receiver.port}"
    ] * 2


def test_transport_vets_every_address_before_connecting() -> None:
    dns = FakeDns({"mixed.example.test": [PUBLIC, "10.0.0.5"]})
    network = RecordingNetwork()
    client = _client(allow_private=False, resolver=dns, network=network)
    with client, pytest.raises(BlockedTarget) as info:
        client.get("https://mixed.example.test/")
    assert info.value.code == "target_not_allowed" and "10.0.0.5" in str(info.value)
    assert network.connects == []


def test_transport_refuses_an_unresolvable_host() -> None:
    client = _client(allow_private=False, resolver=FakeDns({}), network=RecordingNetwork())
    with client, pytest.raises(BlockedTarget) as info:
        client.get("https://nowhere.example.test/")
    assert info.value.code == "unresolvable_host"


def test_transport_tries_the_next_vetted_address() -> None:
    dns = FakeDns({"two.example.test": ["198.51.100.7", "127.0.0.1"]})
    network = RecordingNetwork()  # 198.51.100.7 is unreachable from tests
    with (
        LoopbackServer() as receiver,
        _client(allow_private=True, resolver=dns, network=network) as client,
    ):
        assert client.get(f"http://two.example.test:{receiver.port}/").status_code == 200
    assert network.connects == [("198.51.100.7", receiver.port), ("127.0.0.1", receiver.port)]


def test_tls_is_verified_against_the_host_name_not_the_address(tmp_path: Path) -> None:
    ca = TestCA(tmp_path)
    dns = FakeDns({"hooks.example.test": ["127.0.0.1"]})
    guard = {"allow_private": True, "resolver": dns, "network": RecordingNetwork()}
    with LoopbackServer(tls=ca.server_context("hooks.example.test")) as receiver:
        with _client(**guard, verify=ca.client_context()) as client:
            response = client.get(f"https://hooks.example.test:{receiver.port}/hook")
            assert response.status_code == 200
            # The certificate names hooks.example.test only: the address does not verify.
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                client.get(f"https://127.0.0.1:{receiver.port}/hook")
        (request,) = receiver.recorded()
        assert request.headers["host"] == f"hooks.example.test:{receiver.port}"
        assert ca.sni[0] == "hooks.example.test"
        # Certificates are verified by default (the certifi bundle does not know this CA).
        with (
            _client(**guard) as client,
            pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
        ):
            client.get(f"https://hooks.example.test:{receiver.port}/hook")


def test_tls_refuses_a_certificate_for_another_name(tmp_path: Path) -> None:
    ca = TestCA(tmp_path)
    dns = FakeDns({"hooks.example.test": ["127.0.0.1"]})
    with LoopbackServer(tls=ca.server_context("other.example.test")) as receiver:
        guard = {"allow_private": True, "resolver": dns, "network": RecordingNetwork()}
        client = _client(**guard, verify=ca.client_context())
        with client, pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            client.get(f"https://hooks.example.test:{receiver.port}/hook")
        assert receiver.recorded() == []
