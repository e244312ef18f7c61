"""Verifying a webhook on the receiving side, for both schemes.

    from runhook_dev.verify import verify, WebhookVerificationError

    try:
        event = verify(request_body, request_headers, "whsec_...")
    except WebhookVerificationError:
        return 400

`verify` checks every scheme whose headers are present (at least one must be), with a
timestamp tolerance of 5 minutes either way, and returns the decoded JSON body.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from runhook.webhooks.signing import (
    DEFAULT_PEPPER,
    ID_HEADER,
    KOMOS_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    InvalidSecret,
    komos_signature,
    standard_signature,
)

DEFAULT_TOLERANCE_SECONDS = 300
Scheme = Literal["any", "komos", "standard", "both"]


class WebhookVerificationError(Exception):
    """The request is not a genuine, fresh webhook for this secret."""


def _lower(headers: Mapping[str, str] | Any) -> dict[str, str]:
    """Header names lower-cased; a mapping or a list of (name, value) pairs."""
    source: Any = headers.items() if hasattr(headers, "items") else headers
    return {str(k).lower(): str(v) for k, v in source}


def _check_age(sent_at: float, now: float, tolerance: float) -> None:
    if sent_at < now - tolerance:
        raise WebhookVerificationError("message timestamp too old")
    if sent_at > now + tolerance:
        raise WebhookVerificationError("message timestamp too new")


def verify_komos(
    body: bytes,
    header: str,
    secrets: Sequence[str],
    *,
    pepper: str = DEFAULT_PEPPER,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """`t=<ISO>,v1=<hex>[,v1=<hex>…]`: one v1 must match one of `secrets`."""
    timestamp = ""
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamp = value
        elif name == "v1":
            candidates.append(value)
    if not timestamp or not candidates:
        raise WebhookVerificationError("malformed x-komos-signature header")
    try:
        sent_at = datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise WebhookVerificationError("malformed signature timestamp") from exc
    _check_age(sent_at, time.time() if now is None else now, tolerance)
    for secret in secrets:
        expected = komos_signature(secret, timestamp, body, pepper)
        if any(hmac.compare_digest(expected, c) for c in candidates):
            return
    raise WebhookVerificationError("no matching x-komos-signature")


def verify_standard(
    body: bytes,
    msg_id: str,
    timestamp: str,
    header: str,
    secrets: Sequence[str],
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Standard Webhooks: one `v1,<base64>` must match one of `secrets`."""
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise WebhookVerificationError("malformed webhook-timestamp") from exc
    _check_age(sent_at, time.time() if now is None else now, tolerance)
    candidates = [s for s in header.split(" ") if s.startswith("v1,")]
    for secret in secrets:
        try:
            expected = standard_signature(secret, msg_id, sent_at, body)
        except InvalidSecret as exc:
            raise WebhookVerificationError(str(exc)) from exc
        if any(hmac.compare_digest(expected, c) for c in candidates):
            return
    raise WebhookVerificationError("no matching webhook-signature")


def verify(
    payload: bytes | str,
    headers: Mapping[str, str] | Any,
    secret: str | Sequence[str],
    *,
    pepper: str = DEFAULT_PEPPER,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    scheme: Scheme = "any",
    now: float | None = None,
) -> Any:
    """Verify a delivery and return its decoded JSON body.

    `payload` is the raw request body (bytes as received: do not re-serialize),
    `headers` any mapping (names are matched case-insensitively), `secret` the
    endpoint's `whsec_…` secret (or several, while you roll yours). `scheme`:
    `any` (default) checks every scheme whose headers are present and needs at
    least one; `komos`, `standard` or `both` require those headers.
    Raises WebhookVerificationError.
    """
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise WebhookVerificationError("no secret given")
    h = _lower(headers)
    has_komos = KOMOS_HEADER in h
    has_standard = all(k in h for k in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER))
    want_komos = scheme in {"komos", "both"} or (scheme == "any" and has_komos)
    want_standard = scheme in {"standard", "both"} or (scheme == "any" and has_standard)
    if not want_komos and not want_standard:
        raise WebhookVerificationError("no webhook signature headers")
    if want_komos:
        if not has_komos:
            raise WebhookVerificationError("missing x-komos-signature")
        verify_komos(body, h[KOMOS_HEADER], secrets, pepper=pepper, tolerance=tolerance, now=now)
    if want_standard:
        if not has_standard:
            raise WebhookVerificationError("missing webhook-id/-timestamp/-signature")
        verify_standard(
            body,
            h[ID_HEADER],
            h[TIMESTAMP_HEADER],
            h[SIGNATURE_HEADER],
            secrets,
            tolerance=tolerance,
            now=now,
        )
    try:
        return json.loads(body)
    except ValueError as exc:
        raise WebhookVerificationError("the body is not JSON") from exc
