"""SSRF guard for outbound HTTP (http steps and webhook deliveries).

A target URL is checked when it is about to be called: its host is resolved and every
address it resolves to must be public. Loopback, private (RFC 1918, ULA), link-local
(169.254.0.0/16 is the instance metadata service), multicast, unspecified, reserved,
shared (CGNAT) and documentation ranges are refused, for IPv4 and IPv6 (including
IPv4-mapped/-compatible IPv6 and NAT64 forms of a private v4 address). Deployed
stages also require https. The local cloud sets `ALLOW_PRIVATE_TARGETS`, which
allows loopback/private targets and plain http.

The guard returns the resolved addresses so a caller can pin the connection to one of
them; resolving again at connect time would reopen a DNS-rebinding window. The
step kind and the webhook sender both call `check_url`.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from runhook.errors import RunhookError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
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
class CheckedTarget:
    """A URL that passed the guard, with the addresses its host resolved to."""

    url: str
    scheme: str
    host: str
    port: int
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


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def check_url(
    url: str,
    *,
    allow_private: bool,
    require_https: bool | None = None,
    resolver: Resolver | None = None,
) -> CheckedTarget:
    """Validate `url` for an outbound call and resolve its host.

    `allow_private` (settings.allow_private_targets) lifts the address check;
    `require_https` defaults to `not allow_private` (deployed stages). Raises
    BlockedTarget with code `invalid_url`, `scheme_not_allowed`, `unresolvable_host`
    or `target_not_allowed`.
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
    port = port or (443 if scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: Sequence[str] = [str(literal)]
    else:
        try:
            addresses = (resolver or _system_resolver)(host, port)
        except (OSError, UnicodeError) as exc:
            raise BlockedTarget("unresolvable_host", f"cannot resolve {host!r}: {exc}") from exc
        if not addresses:
            raise BlockedTarget("unresolvable_host", f"{host!r} resolves to no address")
    if not allow_private:
        for address in addresses:
            if not is_public_address(address):
                raise BlockedTarget(
                    "target_not_allowed",
                    f"{host!r} resolves to a non-public address ({address})",
                )
    return CheckedTarget(url=url, scheme=scheme, host=host, port=port, addresses=tuple(addresses))


__all__ = ["BlockedTarget", "CheckedTarget", "check_url", "is_public_address"]
