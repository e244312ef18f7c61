"""Signing webhook deliveries with both schemes (docs/webhooks.md, "Signatures").

One secret `whsec_<base64 of 32 random bytes>` serves both:

- Komos: `x-komos-signature: t=<ISO 8601>,v1=<hex>` where
  key = HMAC-SHA256(key=pepper, msg=<secret part after the first "_">) and
  v1 = hex HMAC-SHA256(key, "<t>.<raw body>").
- Standard Webhooks: `webhook-id`, `webhook-timestamp` (unix seconds) and
  `webhook-signature: v1,<base64 HMAC-SHA256(base64-decoded secret, "<id>.<ts>.<body>")>`.

During a secret rotation a delivery carries one signature per active secret
(`v1=` entries in the Komos header, space-separated entries in the standard one).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _secrets
from collections.abc import Sequence
from datetime import UTC, datetime

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
DEFAULT_PEPPER = "komos-webhook-pepper"
SECRET_BYTES = 32

KOMOS_HEADER = "x-komos-signature"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


class InvalidSecret(ValueError):
    """The secret is not `whsec_<base64>`."""


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(SECRET_BYTES)).decode()


def komos_key(secret: str, pepper: str = DEFAULT_PEPPER) -> bytes:
    """HMAC-SHA256(key=pepper, msg=the secret after its first underscore)."""
    material = secret.split("_", 1)[1] if "_" in secret else secret
    return hmac.new(pepper.encode(), material.encode(), hashlib.sha256).digest()


def standard_key(secret: str) -> bytes:
    """The base64-decoded secret (Standard Webhooks)."""
    material = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(material + "=" * (-len(material) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSecret("the secret is not whsec_<base64>") from exc
    if not key:
        raise InvalidSecret("the secret is empty")
    return key


def komos_timestamp(at: datetime) -> str:
    """ISO 8601 UTC with milliseconds and Z, the format of the contract's timestamps."""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def komos_signature(secret: str, timestamp: str, body: bytes, pepper: str = DEFAULT_PEPPER) -> str:
    """The hex `v1` of the Komos scheme for one secret."""
    return hmac.new(
        komos_key(secret, pepper), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64>` of the Standard Webhooks scheme for one secret."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(
    secrets: Sequence[str],
    *,
    msg_id: str,
    body: bytes,
    at: datetime,
    pepper: str = DEFAULT_PEPPER,
) -> dict[str, str]:
    """Both schemes' headers, one signature per secret (newest first)."""
    if not secrets:
        raise InvalidSecret("no secret to sign with")
    iso = komos_timestamp(at)
    unix = int(at.timestamp())
    komos = ",".join(f"v1={komos_signature(s, iso, body, pepper)}" for s in secrets)
    return {
        KOMOS_HEADER: f"t={iso},{komos}",
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(unix),
        SIGNATURE_HEADER: " ".join(standard_signature(s, msg_id, unix, body) for s in secrets),
    }
