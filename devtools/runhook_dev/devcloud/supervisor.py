"""The process side of the local cloud: DynamoDB Local's Java process and its outages.

`DynamoDBSupervisor` fetches the jar, holds the state directory's lock (two DynamoDB
Locals on one file corrupt it), spawns Java early so it boots while moto is imported,
waits for it once (the deployer calls `wait_ready` right before its first DynamoDB
request) and stops it. `outage()` makes every DynamoDB request through the AWS
endpoint answer 503 for a block (the dispatcher reads `down`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from runhook_dev.devcloud.dynamodb_local import DynamoDBLocal, DynamoDBLocalError, ensure_jar
from runhook_dev.devcloud.errors import LocalCloudError


class DynamoDBSupervisor:
    """One DynamoDB Local for one cloud: in memory, or persisted in `db_path`."""

    def __init__(self, *, db_path: Path | None, state_dir: Path, cache_dir: Path | None) -> None:
        self.db_path = db_path
        self.state_dir = state_dir
        self.cache_dir = cache_dir
        self.endpoint = ""  # set once DynamoDB Local answers
        self.down = threading.Event()  # while set, the dispatcher answers 503 for DynamoDB
        self._process: DynamoDBLocal | None = None
        self._state_lock: IO[str] | None = None
        self._ready = threading.Lock()

    @property
    def port(self) -> int:
        """DynamoDB Local's port (it may move if Java lost a race for a free port)."""
        return self._process.port if self._process is not None else 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def spawn(self) -> None:
        """Start Java (returns at once); raises LocalCloudError without a jar or a lock."""
        try:
            jar = ensure_jar(self.cache_dir)
        except DynamoDBLocalError as exc:
            raise LocalCloudError(str(exc)) from exc
        if self.db_path is not None:
            self._lock_state_dir()
        self._process = DynamoDBLocal(jar=jar, db_path=self.db_path)
        self._process.spawn()

    def wait_ready(self) -> None:
        """Block until DynamoDB Local answers (once; later calls return at once)."""
        with self._ready:
            if self.endpoint:
                return
            if self._process is None:
                raise LocalCloudError("DynamoDB Local was not started")
            try:
                self._process.wait_ready()
            except DynamoDBLocalError as exc:
                raise LocalCloudError(str(exc)) from exc
            self.endpoint = self._process.endpoint

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        """For the block, every DynamoDB request through the AWS endpoint answers 503."""
        self.down.set()
        try:
            yield
        finally:
            self.down.clear()

    def kill(self) -> None:
        """Stop Java now (a forced exit must never leave an orphan Java)."""
        if self._process is not None:
            self._process.stop(timeout=2.0)

    def stop(self) -> None:
        """Stop Java and release the state directory (idempotent)."""
        if self._process is not None:
            self._process.stop()
            self._process = None
        if self._state_lock is not None:
            self._state_lock.close()  # releases the lock
            self._state_lock = None

    def _lock_state_dir(self) -> None:
        import fcntl

        self.state_dir.mkdir(parents=True, exist_ok=True)
        handle = (self.state_dir / ".lock").open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            raise LocalCloudError(
                f"{self.state_dir} is in use by another runhook dev; stop it first, or use "
                "another --state-dir (or --in-memory)"
            ) from exc
        self._state_lock = handle
