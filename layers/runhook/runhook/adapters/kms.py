"""Organization secrets encrypted by KMS (docs/secrets.md): the `Cipher` port and its adapter.

Values are at most 8 KB; KMS encrypts at most 4,096 bytes per call, so a value is cut
into chunks of at most 4,096 bytes, each encrypted by KMS directly (no data key is ever
handled here, so the code needs no crypto library and holds no key material). The
encryption context binds each chunk to its organization, secret name and position: a
ciphertext copied to another item, organization or position does not decrypt.

Least privilege: the API only encrypts (`kms:Encrypt`), the step functions only decrypt
(`kms:Decrypt`), both on the one key (template.yaml `SecretsKey`, or `SecretsKeyArn`).
"""

from __future__ import annotations

from typing import Any, Protocol, Unpack

from botocore.exceptions import BotoCoreError, ClientError

from runhook.aws import ClientOptions, LazyClient, unavailable
from runhook.errors import ServiceUnavailable

KMS_MAX_PLAINTEXT = 4096


class Cipher(Protocol):
    """Encrypts a secret value into ciphertext chunks and back, under a context."""

    def encrypt(self, plaintext: bytes, context: dict[str, str]) -> list[bytes]: ...

    def decrypt(self, chunks: list[bytes], context: dict[str, str]) -> bytes: ...


def encryption_context(org_id: str, name: str) -> dict[str, str]:
    """What a secret's ciphertext is bound to: its organization and name."""
    return {"runhook:org": org_id, "runhook:secret": name}


def chunk_context(context: dict[str, str], index: int) -> dict[str, str]:
    return {**context, "chunk": str(index)}


class KmsCipher:
    """A `Cipher` on one KMS key (`key_id`: an id, alias or ARN)."""

    def __init__(self, key_id: str, **client: Unpack[ClientOptions]) -> None:
        self.key_id = key_id
        self._client = LazyClient("kms", **client)

    @property
    def kms(self) -> Any:
        return self._client.get()

    def _require_key(self) -> None:
        if not self.key_id:
            raise ServiceUnavailable(message="no secrets key configured (SECRETS_KEY_ID)")

    def encrypt(self, plaintext: bytes, context: dict[str, str]) -> list[bytes]:
        self._require_key()
        parts = [
            plaintext[i : i + KMS_MAX_PLAINTEXT]
            for i in range(0, max(len(plaintext), 1), KMS_MAX_PLAINTEXT)
        ]
        try:
            return [
                bytes(
                    self.kms.encrypt(
                        KeyId=self.key_id,
                        Plaintext=part,
                        EncryptionContext=chunk_context(context, i),
                    )["CiphertextBlob"]
                )
                for i, part in enumerate(parts)
            ]
        except (ClientError, BotoCoreError) as exc:
            raise unavailable("kms", exc) from exc

    def decrypt(self, chunks: list[bytes], context: dict[str, str]) -> bytes:
        self._require_key()
        try:
            return b"".join(
                bytes(
                    self.kms.decrypt(
                        CiphertextBlob=chunk,
                        KeyId=self.key_id,
                        EncryptionContext=chunk_context(context, i),
                    )["Plaintext"]
                )
                for i, chunk in enumerate(chunks)
            )
        except (ClientError, BotoCoreError) as exc:
            raise unavailable("kms", exc) from exc
