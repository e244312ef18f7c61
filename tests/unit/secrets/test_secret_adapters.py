"""The KMS cipher and the browser-session store against moto's KMS and S3 (in process)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from runhook import clock
from runhook.adapters.browser_sessions import S3BrowserSessions, session_key
from runhook.adapters.kms import KmsCipher, encryption_context
from runhook.errors import ServiceUnavailable

REGION = "us-east-1"
BUCKET = "artifacts-bucket"


@pytest.fixture()
def aws() -> Iterator[tuple[Any, Any, str]]:
    with mock_aws():
        kms = boto3.client("kms", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        key = kms.create_key(Description="secrets")["KeyMetadata"]["Arn"]
        yield kms, s3, key


def test_values_over_4_kb_are_chunked_and_bound_to_their_context(
    aws: tuple[Any, Any, str],
) -> None:
    kms, _, key = aws
    cipher = KmsCipher(key, boto3_client=kms)
    value = bytes(range(256)) * 32  # 8,192 bytes
    context = encryption_context("org-1", "BIG")
    chunks = cipher.encrypt(value, context)
    assert len(chunks) == 2 and all(value[:64] not in c for c in chunks)
    assert cipher.decrypt(chunks, context) == value
    with pytest.raises(ServiceUnavailable):  # another organization's context
        cipher.decrypt(chunks, encryption_context("org-2", "BIG"))
    with pytest.raises(ServiceUnavailable):  # chunks swapped
        cipher.decrypt(chunks[::-1], context)
    assert cipher.decrypt(cipher.encrypt(b"tiny", context), context) == b"tiny"
    with pytest.raises(ServiceUnavailable):
        KmsCipher("", boto3_client=kms).encrypt(b"x", context)


def test_a_session_is_saved_encrypted_loaded_until_it_expires_and_deleted(
    aws: tuple[Any, Any, str],
) -> None:
    _, s3, key = aws
    store = S3BrowserSessions(BUCKET, key, boto3_client=s3)
    state = {"cookies": [{"name": "sid", "value": "abc"}], "origins": []}
    later = clock.iso(clock.now() + timedelta(hours=1))
    assert store.load("org-1", "shop") is None
    store.save("org-1", "shop", state, later)
    head = s3.head_object(Bucket=BUCKET, Key=session_key("org-1", "shop"))
    assert head["ServerSideEncryption"] == "aws:kms"
    assert store.load("org-1", "shop") == state
    assert store.load("org-2", "shop") is None  # scoped to the organization
    store.save("org-1", "old", state, clock.iso(clock.now() - timedelta(seconds=1)))
    assert store.load("org-1", "old") is None  # expired
    assert store.delete("org-1", "shop") is True
    assert store.delete("org-1", "shop") is False
    assert store.load("org-1", "shop") is None
