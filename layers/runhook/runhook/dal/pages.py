"""Page tokens: the base64 JSON of the keys a listing resumes after.

A token is checked on the way in: exactly the key attributes of the listing's query,
short strings only, and the index partition must be the one being listed (the caller's
organization, task or endpoint), so a forged token cannot read someone else's items; a
bad token is `400 invalid_page_token`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Mapping
from typing import Any

from runhook.dal.codec import dumps
from runhook.errors import InvalidRequest

MAX_TOKEN_VALUE = 512


def encode_token(key: Mapping[str, Any]) -> str:
    raw = dumps({k: str(v) for k, v in key.items()}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(
    token: str, *, expected: Mapping[str, str], fields: Collection[str]
) -> dict[str, str]:
    """The keys in `token`, checked against the listing (else 400 invalid_page_token)."""
    try:
        padded = token + "=" * (-len(token) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequest("invalid_page_token") from exc
    if (
        not isinstance(key, dict)
        or set(key) != set(fields)
        or not all(isinstance(v, str) and len(v) < MAX_TOKEN_VALUE for v in key.values())
        or any(key.get(k) != v for k, v in expected.items())
    ):
        raise InvalidRequest("invalid_page_token")
    return key
