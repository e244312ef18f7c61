"""Run artifacts (browser screenshots, failure evidence, HAR and trace records) in S3: ``runs/<runId>/<name>``, served by presigned URLs.

The bucket (template.yaml `ArtifactsBucket`) is private, encrypted and expires objects;
callers never get the bucket itself, only a short-lived presigned GET URL from the API
(`GET /task-runs/{runId}/artifacts[/{name}]`). In the local cloud moto's S3 serves the
same API (and the presigned URLs point at the local AWS endpoint).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from runhook import clock
from runhook.adapters.s3 import S3Bucket
from runhook.aws import unavailable

PRESIGN_SECONDS = 300
MAX_ARTIFACTS_LISTED = 1000
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_CONTENT_TYPES = {
    ".png": "image/png",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".har": "application/json",
    ".zip": "application/zip",
}


def artifact_key(run_id: str, name: str) -> str:
    return f"runs/{run_id}/{name}"


def content_type(name: str) -> str:
    for suffix, kind in _CONTENT_TYPES.items():
        if name.endswith(suffix):
            return kind
    return "application/octet-stream"


class ArtifactStore(Protocol):
    """Where a step puts the files it makes; returns the reference kept in its result."""

    def put(self, run_id: str, name: str, data: bytes, content_type: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Artifact:
    name: str
    key: str
    size: int
    content_type: str
    created_at: str | None

    def resource(self, url: str, expires_at: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "contentType": self.content_type,
            "size": self.size,
            "createdAt": self.created_at,
            "url": url,
            "expiresAt": expires_at,
        }


def _iso(value: Any) -> str | None:
    return clock.iso(value) if isinstance(value, datetime) else None


class S3Artifacts(S3Bucket):
    """Artifacts of runs in one bucket (settings.artifacts_bucket)."""

    def put(self, run_id: str, name: str, data: bytes, content_type: str) -> dict[str, Any]:
        self._require_bucket()
        key = artifact_key(run_id, name)
        self._put_object(key, data, content_type)
        return {"name": name, "key": key, "contentType": content_type, "size": len(data)}

    def list(self, run_id: str) -> list[Artifact]:
        self._require_bucket()
        prefix = artifact_key(run_id, "")
        out: list[Artifact] = []
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents") or []:
                    name = str(item["Key"])[len(prefix) :]
                    if not NAME.match(name):
                        continue
                    out.append(
                        Artifact(
                            name=name,
                            key=str(item["Key"]),
                            size=int(item.get("Size", 0)),
                            content_type=content_type(name),
                            created_at=_iso(item.get("LastModified")),
                        )
                    )
                    if len(out) >= MAX_ARTIFACTS_LISTED:
                        return out
        except (ClientError, BotoCoreError) as exc:
            raise unavailable("s3", exc) from exc
        return sorted(out, key=lambda a: a.name)

    def get(self, run_id: str, name: str) -> Artifact | None:
        self._require_bucket()
        if not NAME.match(name):
            return None
        key = artifact_key(run_id, name)
        head = self._head_object(key)
        if head is None:
            return None
        return Artifact(
            name=name,
            key=key,
            size=int(head.get("ContentLength", 0)),
            content_type=str(head.get("ContentType") or content_type(name)),
            created_at=_iso(head.get("LastModified")),
        )

    def presign(self, artifact: Artifact, seconds: int = PRESIGN_SECONDS) -> str:
        """A GET URL valid for `seconds` (signed locally: no call to S3)."""
        return str(
            self.s3.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": artifact.key,
                    "ResponseContentType": artifact.content_type,
                },
                ExpiresIn=seconds,
            )
        )
