"""Organization secrets inside a step: `{{ secrets.NAME }}` resolved, the values masked.

The kinds that may use secrets (http, browser) run an attempt through `StepSecrets`:
its `call` is the step's call with `secrets` in the template data and a log that
masks every value resolved so far; `guarded()` masks a failure's message and turns a
missing secret into `secret_not_found`; `mask` masks the result and artifact text. A
step that references no secret pays nothing: values (and the run's organization) are
looked up only when a template asks for one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from runhook import clock
from runhook.engine.redact import SecretMask
from runhook.engine.steps.base import StepCall, StepFailure
from runhook.models import LogLevel
from runhook.tasks.templating import SECRET_NAME, SecretNotFound, SecretValues, TemplateError

if TYPE_CHECKING:
    from runhook.adapters.kms import Cipher
    from runhook.dal.secrets import SecretRepository
    from runhook.settings import Settings


class SecretSource(Protocol):
    """A run's organization, and the value of its secret `name` (None: no such secret)."""

    def organization(self, run_id: str) -> str | None: ...

    def resolve(self, run_id: str, name: str) -> str | None: ...


LAST_USED_INTERVAL = timedelta(hours=1)


class SecretResolver:
    """Secret values for the engine: decrypted on use, each use recorded (`lastUsedAt`,
    at most once per `LAST_USED_INTERVAL` per secret)."""

    def __init__(self, repository: SecretRepository, cipher: Cipher) -> None:
        self.repository = repository
        self.cipher = cipher

    def resolve(self, org_id: str, name: str) -> str | None:
        from runhook.adapters.kms import encryption_context

        record = self.repository.get(org_id, name) if SECRET_NAME.match(name) else None
        if record is None:
            return None
        plaintext = self.cipher.decrypt(record.ciphertext, encryption_context(org_id, name))
        now = clock.now()
        self.repository.touch(org_id, name, clock.iso(now), clock.iso(now - LAST_USED_INTERVAL))
        return plaintext.decode("utf-8")


class TableSecrets:
    """`SecretSource` on the table and KMS (runhook.services.secrets.SecretResolver):
    the run's organization from its item, the value from the organization's secret."""

    def __init__(self, settings: Settings) -> None:
        from runhook.adapters.kms import KmsCipher
        from runhook.dal.runs import RunRepository
        from runhook.dal.secrets import SecretRepository
        from runhook.dal.table import Table

        table = Table(settings.table_name)
        self._runs = RunRepository(table)
        self._resolver = SecretResolver(SecretRepository(table), KmsCipher(settings.secrets_key_id))
        self._orgs: dict[str, str] = {}

    def organization(self, run_id: str) -> str | None:
        org_id = self._orgs.get(run_id)
        if org_id is None:
            run = self._runs.get(run_id)
            if run is None:
                return None
            org_id = self._orgs[run_id] = run.org_id
        return org_id

    def resolve(self, run_id: str, name: str) -> str | None:
        org_id = self.organization(run_id)
        return None if org_id is None else self._resolver.resolve(org_id, name)


_sources: dict[tuple[str, str], TableSecrets] = {}
_sources_lock = threading.Lock()


def table_secrets(settings: Settings) -> TableSecrets:
    """One `TableSecrets` per table and key in this process (its clients are reused)."""
    token = (settings.table_name, settings.secrets_key_id)
    with _sources_lock:
        if token not in _sources:
            _sources[token] = TableSecrets(settings)
        return _sources[token]


class StepSecrets:
    """One attempt's secrets: the masked call, the mask, the failure guard."""

    def __init__(self, call: StepCall, source: SecretSource | None) -> None:
        self.mask = SecretMask()
        run_id = str(call.data.get("run", {}).get("id") or "")
        self._source = source
        self._run_id = run_id
        original_log = call.log

        def log(level: LogLevel, message: str) -> None:
            original_log(level, self.mask.text(message))

        values = SecretValues(self._resolve, self.mask)
        self.call = replace(call, data={**call.data, "secrets": values}, log=log)
        self._settings = call.settings

    @property
    def source(self) -> SecretSource:
        return self._source or table_secrets(self._settings)

    @property
    def run_id(self) -> str:
        return self._run_id

    def _resolve(self, name: str) -> str | None:
        return self.source.resolve(self._run_id, name)

    @contextmanager
    def guarded(self) -> Iterator[None]:
        """Failures leave with every resolved value masked; a missing secret is
        `secret_not_found` (not retried: it will not come back by itself)."""
        try:
            yield
        except SecretNotFound as exc:
            raise StepFailure("secret_not_found", str(exc)) from None
        except StepFailure as failure:
            failure.message = self.mask.text(failure.message)
            raise
        except TemplateError as exc:
            raise TemplateError(message=self.mask.text(str(exc))) from None
        except Exception as exc:  # a bug: the engine logs and records its message
            if self.mask:
                raise StepFailure(
                    "step_error", self.mask.text(f"{type(exc).__name__}: {exc}")
                ) from None
            raise
