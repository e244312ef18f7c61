"""Organization secrets (docs/secrets.md): write-only values the engine resolves.

- `SecretService` (the API, scope `admin`): put, list, delete. A value goes in and is
  never returned nor logged; the list shows names, descriptions and timestamps.
- the step functions resolve values through runhook.engine.steps.secrets.
- `check_task_secrets`: a task may be saved only if every secret it names exists.
"""

from __future__ import annotations

from runhook import clock
from runhook.adapters.kms import Cipher, encryption_context
from runhook.dal.secrets import SecretRecord, SecretRepository
from runhook.errors import InvalidRequest, NotFound
from runhook.models import Principal
from runhook.tasks.definition import TaskDefinition
from runhook.tasks.secret_refs import secret_usage
from runhook.tasks.templating import SECRET_NAME

MAX_VALUE_BYTES = 8192
# Shorter values cannot be masked without masking every such substring of every log line.
MIN_VALUE_CHARS = 4
MAX_DESCRIPTION_CHARS = 500


def check_name(name: str) -> None:
    if not SECRET_NAME.match(name):
        raise InvalidRequest("invalid_secret_name")


class SecretService:
    def __init__(self, repository: SecretRepository, cipher: Cipher) -> None:
        self.repository = repository
        self.cipher = cipher

    def put(
        self, principal: Principal, name: str, value: str, description: str | None
    ) -> SecretRecord:
        """Create or replace; the answer is the record without the value."""
        check_name(name)
        data = value.encode("utf-8")
        if len(data) > MAX_VALUE_BYTES:
            raise InvalidRequest("secret_too_large", maxBytes=MAX_VALUE_BYTES)
        if len(value) < MIN_VALUE_CHARS:
            raise InvalidRequest("secret_too_short", minLength=MIN_VALUE_CHARS)
        if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
            raise InvalidRequest("invalid_description")
        chunks = self.cipher.encrypt(data, encryption_context(principal.org_id, name))
        return self.repository.put(principal.org_id, name, chunks, description, clock.now_iso())

    def list(self, principal: Principal) -> list[SecretRecord]:
        return sorted(self.repository.list(principal.org_id), key=lambda r: r.name)

    def delete(self, principal: Principal, name: str) -> None:
        check_name(name)
        if not self.repository.delete(principal.org_id, name):
            raise NotFound("secret_not_found")


def check_task_secrets(
    repository: SecretRepository, org_id: str, definition: TaskDefinition
) -> None:
    """400 unless every secret the task names exists and is used only where allowed."""
    used, misuse = secret_usage(definition)
    if misuse:
        raise InvalidRequest("secret_not_allowed", errors=misuse)
    missing = sorted(set(used) - repository.existing(org_id, set(used)))
    if missing:
        raise InvalidRequest("secret_not_found", missing=missing)
