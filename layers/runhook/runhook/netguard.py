"""SSRF guard for outbound HTTP (http steps and webhook deliveries).

A target URL is checked when it is about to be called: its host is resolved and every
address it resolves to must be public. Loopback, private (RFC 1918, ULA), link-local
(169.254.0.0/16 is the instance metadata service), multicast, unspecified, reserved,
shared (CGNAT) and documentation ranges are refused, for IPv4 and IPv6 (including
IPv4-mapped/-compatible IPv6 and NAT64 forms of a private v4 address). Deployed
stages also require https. The local cloud sets `ALLOW_PRIVATE_TARGETS`, which
allows loopback/private targets and plain http.

Checking a name and then letting the HTTP client resolve it again would reopen a
DNS-rebinding window: the second answer (127.0.0.1, 169.254.169.254) is never vetted.
So the callers that make requests (the http step kind and the webhook sender) send
through `guarded_transport`, an httpx transport whose network backend, for every new
connection, resolves the host once (`vet_host`: the injectable `Resolver`, the system
resolver by default), vets every address, and connects only to those addresses. The
URL is not rewritten: TLS SNI, certificate verification and the `Host` header keep
the real name, and the connection pool stays keyed by the real origin. Before
sending, `parse_target` checks what needs no DNS (scheme, https, credentials, an IP
literal); `check_url` (both, returning the vetted addresses) serves callers that pin
connections themselves (the browser's guard proxy).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from runhook.errors import RunhookError

if TYPE_CHECKING:
    import ssl

    import httpcore
    import httpx

    _NetworkBackend = httpcore.NetworkBackend
else:
    # httpcore/httpx are imported only when a transport is built: the API function
    # imports this module (is_public_address) and never sends, so its cold start
    # does not pay for them.
    _NetworkBackend = object

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the host's addresses, in preference order. Tests inject a fake DNS.
Resolver = Callable[[str, int], Sequence[str]]

# Ranges `is_global` misses or that we refuse explicitly, for clarity.
_BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # shared address space (CGNAT)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # TEST-NET-1
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # TEST-NET-2
        "203.0.113.0/24",  # TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, incl. broadcast
        "::/128",
        "::1/128",
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
        "2001:db8::/32",  # documentation
        "100::/64",  # discard-only
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedTarget(RunhookError):
    """The URL may not be called from here; `code` says why (a stable snake_case code)."""

    code = "target_not_allowed"


@dataclass(frozen=True)
class Target:
    """A URL whose form passed the guard (scheme, host, port); its host is not resolved yet."""

    url: str
    scheme: str
    host: str
    port: int


@dataclass(frozen=True)
class CheckedTarget(Target):
    """A URL that passed the guard, with the (vetted) addresses its host resolved to."""

    addresses: tuple[str, ...]


def _embedded_v4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in a mapped (::ffff:a.b.c.d), 6to4, NAT64 or compatible v6."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    packed = int(addr)
    if packed >> 32 == 0 and packed > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(packed)
    return None


def is_public_address(address: str | IPAddress) -> bool:
    """True when `address` is a globally routable unicast address."""
    try:
        addr = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.scope_id:
            return False
        if addr.ipv4_mapped is not None:  # ::ffff:a.b.c.d is that IPv4 address
            return is_public_address(addr.ipv4_mapped)
        inner = _embedded_v4(addr)
        if inner is not None and not is_public_address(inner):
            return False
    if any(addr in net for net in _BLOCKED_NETWORKS if net.version == addr.version):
        return False
    return not (
        addr.is_loopback
        or addr.is_private
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or not addr.is_global
    )


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses `getaddrinfo` gives for `host`, in its order (the system's preference)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


_system_resolver = system_resolver  # the name tests and older callers use


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _refuse_non_public(host: str, addresses: Iterable[str]) -> None:
    for address in addresses:
        if not is_public_address(address):
            raise BlockedTarget(
                "target_not_allowed", f"{host!r} resolves to a non-public address ({address})"
            )


def parse_target(url: str, *, allow_private: bool, require_https: bool | None = None) -> Target:
    """Check what can be checked without DNS: the form of `url`, its scheme, an IP literal.

    `allow_private` (settings.allow_private_targets) lifts the address check;
    `require_https` defaults to `not allow_private` (deployed stages). Raises
    BlockedTarget with code `invalid_url`, `scheme_not_allowed` or `target_not_allowed`
    (an IP literal that is not public). The host's addresses are vetted when a
    connection is opened (`vet_host`, through `guarded_transport`).
    """
    if require_https is None:
        require_https = not allow_private
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedTarget("invalid_url", f"invalid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise BlockedTarget(
            "scheme_not_allowed", f"only http(s) URLs can be called, not {scheme!r}"
        )
    if require_https and scheme != "https":
        raise BlockedTarget("scheme_not_allowed", "only https URLs can be called here")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise BlockedTarget("invalid_url", "the URL has no host")
    if parts.username or parts.password:
        raise BlockedTarget("invalid_url", "credentials in URLs are not allowed")
    literal = _literal(host)
    if literal is not None and not allow_private:
        _refuse_non_public(host, [str(literal)])
    return Target(
        url=url, scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80)
    )


def vet_host(
    host: str, port: int, *, allow_private: bool, resolver: Resolver | None = None
) -> tuple[str, ...]:
    """Resolve `host` once and return its addresses, every one of them vetted.

    The one place a name becomes addresses for an outbound call: a caller connects only
    to what this returns, never to a second answer. An IP literal is not resolved.
    Raises BlockedTarget `unresolvable_host` or `target_not_allowed` (any address not
    public, unless `allow_private`).
    """
    host = host.rstrip(".")
    literal = _literal(host)
    if literal is not None:
        addresses: Sequence[str] = [str(literal)]
    else:
        try:
            addresses = (resolver or system_resolver)(host, port)
        except (OSError, UnicodeError) as exc:
            raise BlockedTarget("unresolvable_host", f"cannot resolve {host!r}: {exc}") from exc
        if not addresses:
            raise BlockedTarget("unresolvable_host", f"{host!r} resolves to no address")
    if not allow_private:
        _refuse_non_public(host, addresses)
    return tuple(addresses)


def check_url(
    url: str,
    *,
    allow_private: bool,
    require_https: bool | None = None,
    resolver: Resolver | None = None,
) -> CheckedTarget:
    """Validate `url` for an outbound call and resolve its host (`parse_target` + `vet_host`).

    For callers that connect to one of the returned addresses themselves. Raises
    BlockedTarget with code `invalid_url`, `scheme_not_allowed`, `unresolvable_host`
    or `target_not_allowed`.
    """
    target = parse_target(url, allow_private=allow_private, require_https=require_https)
    addresses = vet_host(target.host, target.port, allow_private=allow_private, resolver=resolver)
    return CheckedTarget(
        url=target.url,
        scheme=target.scheme,
        host=target.host,
        port=target.port,
        addresses=addresses,
    )


class GuardedNetwork(_NetworkBackend):
    """An httpcore network backend that connects only to addresses `vet_host` vetted.

    httpcore asks it for a TCP connection to the origin's host name; it resolves that
    name once, vets every address, and opens the socket to the first vetted address
    that answers (in the resolver's order, as `socket.create_connection` would), through
    `network` (httpcore's socket backend unless a test records or fakes connections).
    TLS is started afterwards by httpcore with `server_hostname` = the real name, so SNI
    and certificate verification are those of the name, not of the address.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        resolver: Resolver | None = None,
        network: httpcore.NetworkBackend | None = None,
    ) -> None:
        import httpcore

        self.allow_private = allow_private
        self.resolver = resolver
        self.network = network or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        import httpcore

        addresses = vet_host(host, port, allow_private=self.allow_private, resolver=self.resolver)
        failure: Exception = BlockedTarget("unresolvable_host", f"{host!r} has no address")
        for address in addresses:
            try:
                return self.network.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc  # try the next vetted address
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise BlockedTarget("target_not_allowed", "unix sockets cannot be called")

    def sleep(self, seconds: float) -> None:
        self.network.sleep(seconds)


def guarded_transport(
    *,
    allow_private: bool,
    resolver: Resolver | None = None,
    network: httpcore.NetworkBackend | None = None,
    verify: ssl.SSLContext | bool = True,
    limits: httpx.Limits | None = None,
) -> httpx.HTTPTransport:
    """An httpx transport whose every connection goes through `GuardedNetwork`.

    The one send path of the http step kind and the webhook sender. No proxies from
    the environment (a proxy would resolve the name itself). A host that cannot be
    called raises BlockedTarget out of `client.send`/`client.stream` (httpx passes
    exceptions it does not know through unchanged).
    """
    import httpcore
    import httpx

    limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
    ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)
    transport = httpx.HTTPTransport(verify=ssl_context, trust_env=False, limits=limits)
    # httpx (0.28) takes no network backend; its pool is replaced by one that has ours.
    # Should httpx rename the attribute, refuse to build rather than send unguarded.
    if not isinstance(getattr(transport, "_pool", None), httpcore.ConnectionPool):
        raise RuntimeError("httpx.HTTPTransport has no _pool: cannot install the SSRF guard")
    transport._pool.close()
    transport._pool = httpcore.ConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedNetwork(
            allow_private=allow_private, resolver=resolver, network=network
        ),
    )
    return transport


__all__ = [
    "BlockedTarget",
    "CheckedTarget",
    "GuardedNetwork",
    "Resolver",
    "Target",
    "check_url",
    "guarded_transport",
    "is_public_address",
    "parse_target",
    "system_resolver",
    "vet_host",
]
