"""Fakes for the SSRF guard's seams (runhook.netguard): DNS, the network, certificates.

- `FakeDns` answers from a table and records every lookup; a name can answer
  differently on later lookups (`then`), which is what DNS rebinding looks like: a
  public address when the guard asks, 127.0.0.1 or 169.254.169.254 a moment later.
- `RecordingNetwork` is an httpcore network backend that records each (address, port)
  the guard connects to. Tests never reach the internet: a loopback address is
  connected for real, a `routes` entry sends a "public" address to a loopback server
  (so a deployed-stage request can complete), anything else fails as unreachable.
- `TestCA` issues certificates for names (and only names, no IP address), so a TLS
  handshake succeeds only when the client verifies against the host name.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterable, Sequence
from pathlib import Path

import httpcore
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PUBLIC = "93.184.216.34"  # a public address; RecordingNetwork never connects to it for real


class FakeDns:
    """A resolver (netguard.Resolver): `first[name]` on the first lookup of a name,
    `then[name]` (if given) on every later one; an unknown name does not resolve."""

    def __init__(
        self, first: dict[str, list[str]], then: dict[str, list[str]] | None = None
    ) -> None:
        self.first = first
        self.then = then or {}
        self.lookups: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        seen = any(name == host for name, _ in self.lookups)
        self.lookups.append((host, port))
        table = self.then if seen and host in self.then else self.first
        if host not in table:
            raise OSError(f"[fake dns] {host} not known")
        return list(table[host])


class RecordingNetwork(httpcore.NetworkBackend):
    """Records every connection the guard opens; connects only to loopback (or `routes`)."""

    def __init__(self, routes: dict[tuple[str, int], tuple[str, int]] | None = None) -> None:
        self.routes = routes or {}
        self.connects: list[tuple[str, int]] = []
        self.real = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        self.connects.append((host, port))
        # A name here would mean the guard let the socket layer resolve it: fail loudly.
        address = ipaddress.ip_address(host)
        if (host, port) in self.routes:
            host, port = self.routes[(host, port)]
        elif not address.is_loopback:
            raise httpcore.ConnectError(f"[test network] {host} is unreachable")
        return self.real.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    def sleep(self, seconds: float) -> None:
        self.real.sleep(seconds)


class TestCA:
    """A throwaway certificate authority; `server_context(name)` serves a certificate for
    `name` alone (and records the SNI name each client sends in `sni`),
    `client_context()` trusts this CA (and nothing else)."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.sni: list[str | None] = []
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "runhook test CA")])
        self.cert = (
            self._builder(subject, subject, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )

    @staticmethod
    def _builder(
        subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePublicKey
    ) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
        )

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(
            cadata=self.cert.public_bytes(serialization.Encoding.PEM).decode()
        )

    def server_context(self, name: str) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            self._builder(subject, self.cert.subject, key.public_key())
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_file = self.directory / f"{name}.pem"
        key_file = self.directory / f"{name}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        context.sni_callback = lambda _sock, server_name, _context: self.sni.append(server_name)
        return context
