"""Verifying a webhook runhook sent, on the receiving side (Standard Webhooks scheme).

    from runhook_client import verify_webhook, WebhookVerificationError

    event = verify_webhook(request_body, request_headers, "whsec_...")

runhook signs every delivery per https://www.standardwebhooks.com (`webhook-id`,
`webhook-timestamp`, `webhook-signature`); this delegates to that specification's reference
library, `standardwebhooks`, rather than re-implementing HMAC checks, and adds what runhook
needs: several secrets while one is rotated, and one exception type. (The Komos
`x-komos-signature` scheme is checked by `runhook_dev.verify`, a dev tool.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


class WebhookVerificationError(Exception):
    """The request is not a genuine, fresh webhook signed with one of the given secrets."""


def verify_webhook(
    payload: bytes | str, headers: Mapping[str, str] | Any, secret: str | Sequence[str]
) -> Any:
    """The decoded JSON body of a delivery whose signature matches one of `secret`.

    `payload` is the raw body as received (never re-serialized JSON), `headers` any mapping
    or list of pairs (names matched case-insensitively), `secret` the endpoint's `whsec_…`
    (or several: old and new during a rotation). The timestamp must be within 5 minutes.
    Needs the `standardwebhooks` package (`pip install standardwebhooks`).
    """
    try:
        from standardwebhooks.webhooks import Webhook
        from standardwebhooks.webhooks import WebhookVerificationError as Invalid
    except ImportError as exc:  # pragma: no cover - depends on the caller's environment
        raise WebhookVerificationError("verify_webhook needs `standardwebhooks`") from exc
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    source: Any = headers.items() if hasattr(headers, "items") else headers
    lowered = {str(k).lower(): str(v) for k, v in source}
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise WebhookVerificationError("no secret given")
    last: Exception | None = None
    for candidate in secrets:
        try:
            Webhook(candidate).verify(body, lowered)
        except (Invalid, ValueError) as exc:  # ValueError: a malformed secret
            last = exc
            continue
        try:
            return json.loads(body)
        except ValueError as exc:
            raise WebhookVerificationError("the body is not JSON") from exc
    raise WebhookVerificationError(str(last) or "no matching signature") from last
