"""One S3 bucket behind the adapters that keep objects in it (artifacts, browser sessions).

Both stores share the same client handling (a lazily created client, Powertools'
`boto3_client | boto3_session | boto_config` options), the same "no bucket configured"
answer, the same put, get and head with S3's errors turned into `ServiceUnavailable`,
and the same reading of a 404. They differ only in their keys and what they put.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, Unpack

from botocore.exceptions import BotoCoreError, ClientError

from runhook.aws import ClientOptions, LazyClient, unavailable
from runhook.errors import ServiceUnavailable

T = TypeVar("T")


def is_missing(exc: ClientError) -> bool:
    """True when S3 answered that the object is not there (GET or HEAD)."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = exc.response.get("Error", {}).get("Code")
    return status == 404 or code in ("404", "NoSuchKey", "NotFound")


class S3Bucket:
    """The bucket (settings.artifacts_bucket) and its client; subclasses add the keys."""

    def __init__(self, bucket: str, **client: Unpack[ClientOptions]) -> None:
        self.bucket = bucket
        self._client = LazyClient("s3", **client)

    @property
    def s3(self) -> Any:
        return self._client.get()

    def _require_bucket(self) -> None:
        if not self.bucket:
            raise ServiceUnavailable(message="no artifacts bucket configured (ARTIFACTS_BUCKET)")

    def _put_object(self, key: str, body: bytes, content_type: str, **extra: Any) -> None:
        """PutObject (`extra`: metadata, encryption); S3 failing is `ServiceUnavailable`."""
        try:
            self.s3.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, **extra
            )
        except (ClientError, BotoCoreError) as exc:
            raise unavailable("s3", exc) from exc

    def _head_object(self, key: str) -> dict[str, Any] | None:
        """HeadObject's answer, None when there is no such object."""
        return _unless_missing(lambda: self.s3.head_object(Bucket=self.bucket, Key=key))

    def _get_object(self, key: str, max_bytes: int) -> tuple[bytes, dict[str, str]] | None:
        """The object's first `max_bytes` bytes and its user metadata, None when there is
        no such object."""

        def read() -> tuple[bytes, dict[str, str]]:
            answer = self.s3.get_object(Bucket=self.bucket, Key=key)
            return answer["Body"].read(max_bytes), answer.get("Metadata") or {}

        return _unless_missing(read)


def _unless_missing(call: Callable[[], T]) -> T | None:
    """`call()`; None when S3 answers that the object is not there; S3 failing otherwise
    is `ServiceUnavailable`."""
    try:
        return call()
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise unavailable("s3", exc) from exc
    except BotoCoreError as exc:
        raise unavailable("s3", exc) from exc
