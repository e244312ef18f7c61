"""A short-lived, per-container memory of verified API keys and their organizations.

Why: every API request authenticated with two consistent reads (the key's lookup item, then
its organization) before the rate limiter's write. A busy key asks the same two questions
many times a second; remembering the answers for a few seconds takes two of a request's
DynamoDB calls off the hot path (on the local cloud: about a fifth of a POST run's CPU, see
docs/performance.md). API Gateway's Lambda authorizers cache their answers the same way
(300 s by default); runhook keeps the window short.

What it costs, and how it is bounded (docs/operations.md, "Rotate API keys and webhook
secrets"):

- A key revoked, or an organization's settings changed, through another container takes
  effect there within `ttl` seconds. The container that made the change forgets at once
  (`forget_org`), so every later request it serves sees the change; a read that was under
  way while it forgot is not remembered (`reading` / `put(..., since=)`).
- Only verified keys are remembered: an unknown key is asked for every time, so a key
  created a moment ago on another container works at once, and guessing keys fills nothing.
- At most `max_entries` keys (the oldest goes first); `ttl = 0` turns the memory off.

Pure: no AWS, no clock but the injected monotonic one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from runhook.dal.auth import FoundKey
from runhook.models import Organization

DEFAULT_TTL_SECONDS = 5.0
MAX_TTL_SECONDS = 300.0
DEFAULT_MAX_ENTRIES = 1024


@dataclass(frozen=True)
class Credentials:
    """A verified key and its organization, as read together."""

    found: FoundKey
    org: Organization


class CredentialCache:
    """Verified keys by their hash, each for `ttl` seconds from when it was read."""

    def __init__(
        self,
        ttl: float = DEFAULT_TTL_SECONDS,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = min(max(ttl, 0.0), MAX_TTL_SECONDS)
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._entries: dict[str, tuple[float, Credentials]] = {}
        # Bumped by every forget: a read that began before it must not be remembered.
        self._forgets = 0
        # The API serves sync routes from a thread pool: one container, several threads.
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def get(self, key_hash: str) -> Credentials | None:
        """The remembered credentials of `key_hash`, if read less than `ttl` seconds ago."""
        if not self.enabled:
            return None
        with self._lock:
            entry = self._entries.get(key_hash)
            if entry is None:
                return None
            if self._monotonic() >= entry[0]:
                del self._entries[key_hash]
                return None
            return entry[1]

    def reading(self) -> int:
        """A mark to pass to `put` for credentials about to be read from the table."""
        with self._lock:
            return self._forgets

    def put(self, credentials: Credentials, *, since: int | None = None) -> None:
        """Remember `credentials` for `ttl` seconds from now; not when this container forgot
        anything after the mark `since` (`reading`): the read may predate that change."""
        if not self.enabled:
            return
        with self._lock:
            if since is not None and since != self._forgets:
                return
            key_hash = credentials.found.hash
            self._entries.pop(key_hash, None)  # re-inserted last: the newest
            while len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[key_hash] = (self._monotonic() + self.ttl, credentials)

    def refresh(self, credentials: Credentials) -> None:
        """Replace what is remembered of a key without extending its time (e.g. lastUsedAt
        after a touch): a changed key is still read again when its window ends."""
        with self._lock:
            entry = self._entries.get(credentials.found.hash)
            if entry is not None:
                self._entries[credentials.found.hash] = (entry[0], credentials)

    def forget_org(self, org_id: str) -> None:
        """Forget every key of `org_id` (its settings or keys changed in this container)."""
        with self._lock:
            self._forgets += 1
            stale = [h for h, (_, c) in self._entries.items() if c.found.key.org_id == org_id]
            for key_hash in stale:
                del self._entries[key_hash]

    @property
    def size(self) -> int:
        """How many keys are remembered (a property, not __len__: an empty cache is not false)."""
        return len(self._entries)
