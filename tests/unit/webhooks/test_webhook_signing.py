"""Signatures of both schemes, checked by independent verifiers.

- Standard Webhooks: the `standardwebhooks` reference library.
- Komos: a verifier written here from docs/webhooks.md ("Signatures"), sharing no code with runhook:
  key = HMAC-SHA256(key=pepper, msg=secret after the first "_"),
  v1 = hex HMAC-SHA256(key, "<t>.<raw body>"), header `t=<ISO 8601>,v1=<hex>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as StdError

from runhook.webhooks import generate_secret
from runhook.webhooks.signing import komos_timestamp, signature_headers
from runhook_dev.verify import WebhookVerificationError, verify

PEPPER = "komos-webhook-pepper"


def komos_verify(body: bytes, header: str, secret: str, pepper: str = PEPPER) -> bool:
    """An independent implementation of the Komos algorithm (from the docs)."""
    fields = [p.split("=", 1) for p in header.split(",")]
    t = next(v for k, v in fields if k == "t")
    signatures = [v for k, v in fields if k == "v1"]
    key = hmac.new(pepper.encode(), secret.split("_", 1)[1].encode(), hashlib.sha256).digest()
    expected = hmac.new(key, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, s) for s in signatures)


BODY = json.dumps(
    {"id": "9c77d908-7bf4-4e7f-9a20-2c5e7fdf2e94", "status": "RUNNING", "é": "ü"},
    ensure_ascii=False,
).encode()


def test_secret_format() -> None:
    secret = generate_secret()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret)
    assert len(base64.b64decode(secret[6:])) == 32
    assert generate_secret() != secret


def test_both_schemes_verify_with_independent_implementations() -> None:
    secret = generate_secret()
    now = datetime.now(UTC)
    headers = signature_headers([secret], msg_id="msg-1", body=BODY, at=now, pepper=PEPPER)
    # Standard Webhooks reference library
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)
    # Komos, independent
    assert re.fullmatch(
        r"t=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z,v1=[0-9a-f]{64}", headers["x-komos-signature"]
    )
    assert komos_verify(BODY, headers["x-komos-signature"], secret)
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["x-komos-signature"].startswith(f"t={komos_timestamp(now)},")
    # runhook's own receiver helper
    assert verify(BODY, headers, secret) == json.loads(BODY)
    assert verify(BODY, headers, secret, scheme="both") == json.loads(BODY)


def test_the_pepper_changes_only_the_komos_signature() -> None:
    secret = generate_secret()
    headers = signature_headers(
        [secret], msg_id="m", body=BODY, at=datetime.now(UTC), pepper="other"
    )
    assert not komos_verify(BODY, headers["x-komos-signature"], secret)
    assert komos_verify(BODY, headers["x-komos-signature"], secret, pepper="other")
    Webhook(secret).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        verify(BODY, headers, secret)
    assert verify(BODY, headers, secret, pepper="other")


def test_rotation_signs_with_both_secrets() -> None:
    old, new = generate_secret(), generate_secret()
    headers = signature_headers([new, old], msg_id="m", body=BODY, at=datetime.now(UTC))
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert headers["x-komos-signature"].count("v1=") == 2
    for secret in (old, new):
        Webhook(secret).verify(BODY, headers)
        assert komos_verify(BODY, headers["x-komos-signature"], secret)
        verify(BODY, headers, secret)
    stranger = generate_secret()
    with pytest.raises(StdError):
        Webhook(stranger).verify(BODY, headers)
    assert not komos_verify(BODY, headers["x-komos-signature"], stranger)


@pytest.mark.parametrize("scheme", ["any", "komos", "standard", "both"])
def test_tampering_is_refused(scheme: str) -> None:
    secret = generate_secret()
    headers = signature_headers([secret], msg_id="m", body=BODY, at=datetime.now(UTC))
    with pytest.raises(WebhookVerificationError):
        verify(BODY + b" ", headers, secret, scheme=scheme)  # type: ignore[arg-type]
    with pytest.raises(WebhookVerificationError):
        verify(BODY, headers, generate_secret(), scheme=scheme)  # type: ignore[arg-type]


def test_tolerance_is_five_minutes_either_way() -> None:
    secret = generate_secret()
    now = datetime.now(UTC)
    for offset, ok in ((-299, True), (299, True), (-301, False), (301, False)):
        headers = signature_headers(
            [secret], msg_id="m", body=BODY, at=now + timedelta(seconds=offset)
        )
        for scheme in ("komos", "standard"):
            if ok:
                verify(BODY, headers, secret, scheme=scheme)  # type: ignore[arg-type]
            else:
                with pytest.raises(WebhookVerificationError, match="timestamp"):
                    verify(BODY, headers, secret, scheme=scheme)  # type: ignore[arg-type]


def test_required_headers() -> None:
    secret = generate_secret()
    headers = signature_headers([secret], msg_id="m", body=BODY, at=datetime.now(UTC))
    komos_only = {"X-Komos-Signature": headers["x-komos-signature"]}
    standard_only = {k: v for k, v in headers.items() if k.startswith("webhook-")}
    assert verify(BODY, komos_only, secret)  # header names are case-insensitive
    assert verify(BODY, standard_only, secret)
    assert verify(BODY, list(komos_only.items()), secret)
    with pytest.raises(WebhookVerificationError, match="no webhook signature"):
        verify(BODY, {}, secret)
    with pytest.raises(WebhookVerificationError):
        verify(BODY, komos_only, secret, scheme="standard")
    with pytest.raises(WebhookVerificationError):
        verify(BODY, standard_only, secret, scheme="both")
    with pytest.raises(WebhookVerificationError, match="malformed"):
        verify(BODY, {"x-komos-signature": "garbage"}, secret)
    # One bad scheme fails the whole check even if the other one is fine.
    mixed = {**headers, "x-komos-signature": headers["x-komos-signature"][:-2] + "00"}
    with pytest.raises(WebhookVerificationError):
        verify(BODY, mixed, secret)


def test_unpadded_secret_and_list_of_secrets() -> None:
    secret = generate_secret()
    headers = signature_headers([secret], msg_id="m", body=BODY, at=datetime.now(UTC))
    assert verify(BODY, headers, secret.rstrip("="), scheme="standard")
    assert verify(BODY, headers, [generate_secret(), secret])
    assert verify(BODY.decode(), headers, secret)
