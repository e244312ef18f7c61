"""Saved browser sessions (storage state: cookies, local storage) in the artifacts bucket.

``sessions/<orgId>/<name>.json``, encrypted at rest with the secrets key (SSE-KMS;
SSE-S3 when no key is configured), scoped to the organization by the key prefix, with
an expiry (`expires-at` metadata, checked when loaded; the bucket's lifecycle rule
deletes what nobody reuses). The browser function loads and saves; the API deletes.
"""

from __future__ import annotations

import json
from typing import Any, Protocol, Unpack

from botocore.exceptions import BotoCoreError, ClientError

from runhook import clock
from runhook.adapters.s3 import S3Bucket
from runhook.aws import ClientOptions, unavailable

MAX_STATE_BYTES = 5 * 1024 * 1024


def session_key(org_id: str, name: str) -> str:
    return f"sessions/{org_id}/{name}.json"


class SessionStore(Protocol):
    """Where a browser step's named session lives between runs."""

    def load(self, org_id: str, name: str) -> dict[str, Any] | None: ...

    def save(self, org_id: str, name: str, state: dict[str, Any], expires_at: str) -> None: ...


class S3BrowserSessions(S3Bucket):
    def __init__(self, bucket: str, key_id: str = "", **client: Unpack[ClientOptions]) -> None:
        super().__init__(bucket, **client)
        self.key_id = key_id

    def load(self, org_id: str, name: str) -> dict[str, Any] | None:
        """The saved state, or None when there is none or it expired."""
        self._require_bucket()
        found = self._get_object(session_key(org_id, name), MAX_STATE_BYTES + 1)
        if found is None:
            return None
        body, metadata = found
        expires_at = metadata.get("expires-at", "")
        if not expires_at or expires_at <= clock.now_iso() or len(body) > MAX_STATE_BYTES:
            return None
        try:
            state = json.loads(body)
        except ValueError:
            return None
        return state if isinstance(state, dict) else None

    def save(self, org_id: str, name: str, state: dict[str, Any], expires_at: str) -> None:
        self._require_bucket()
        body = json.dumps(state, separators=(",", ":")).encode()
        if len(body) > MAX_STATE_BYTES:
            raise ValueError(f"the session's state is over {MAX_STATE_BYTES} bytes")
        encryption: dict[str, str] = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.key_id}
            if self.key_id
            else {"ServerSideEncryption": "AES256"}
        )
        self._put_object(
            session_key(org_id, name),
            body,
            "application/json",
            Metadata={"expires-at": expires_at},
            **encryption,
        )

    def delete(self, org_id: str, name: str) -> bool:
        """Forget the session; False when there was none."""
        self._require_bucket()
        key = session_key(org_id, name)
        if self._head_object(key) is None:
            return False
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise unavailable("s3", exc) from exc
        return True
