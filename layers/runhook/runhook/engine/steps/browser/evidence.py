"""What a browser step leaves behind to explain itself (imports Playwright).

- on any failure (but a cancel): the page at that moment — a screenshot
  (`<step>-failure.png`), its HTML (`<step>-failure.html`) and the console log
  (`<step>-console.txt`, bounded) — saved as the run's artifacts and named in the
  run's `error.artifacts`;
- on request (`record: ["har", "trace"]`): the network HAR (`<step>-network.har`,
  response bodies omitted) and a Playwright trace (`<step>-trace.zip`).

Every text artifact passes the step's secret mask (`MaskedStore`); a trace is a zip of
DOM snapshots and inputs that cannot be masked, so it is not saved when the step used a
secret (a warning says so). Capturing never hides the failure: each part is tried on
its own, briefly, and a part that fails is left out.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from playwright.sync_api import BrowserContext, ConsoleMessage, Page
from playwright.sync_api import Error as PlaywrightError

from runhook.adapters.artifacts import ArtifactStore
from runhook.engine.redact import SecretMask
from runhook.engine.steps.browser.options import human_size
from runhook.engine.steps.browser.pageguard import Log

MAX_CONSOLE_LINES = 500
MAX_CONSOLE_BYTES = 64 * 1024
MAX_LINE_CHARS = 2000
MAX_HTML_BYTES = 2 * 1024 * 1024
MAX_RECORD_BYTES = 10 * 1024 * 1024  # a HAR or a trace zip
CAPTURE_TIMEOUT_MS = 3000
_TEXT_TYPES = ("text/", "application/json")


class MaskedStore:
    """An ArtifactStore that masks the step's secrets in every text artifact it stores."""

    def __init__(self, store: ArtifactStore, mask: SecretMask) -> None:
        self.store = store
        self.mask = mask

    def put(self, run_id: str, name: str, data: bytes, content_type: str) -> dict[str, Any]:
        if content_type.startswith(_TEXT_TYPES):
            data = self.mask.data(data)
        return self.store.put(run_id, name, data, content_type)


class ConsoleLog:
    """The pages' console messages and uncaught errors, bounded (lines and bytes)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.size = 0
        self.dropped = 0

    def watch(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", self._on_error)

    def _add(self, line: str) -> None:
        line = line[:MAX_LINE_CHARS]
        if len(self.lines) >= MAX_CONSOLE_LINES or self.size + len(line) > MAX_CONSOLE_BYTES:
            self.dropped += 1
            return
        self.lines.append(line)
        self.size += len(line) + 1

    def _on_console(self, message: ConsoleMessage) -> None:
        location = message.location or {}
        where = f" ({location.get('url', '')}:{location.get('lineNumber', '')})" if location else ""
        self._add(f"[{message.type}] {message.text}{where}")

    def _on_error(self, error: Any) -> None:
        self._add(f"[pageerror] {error}")

    def text(self) -> str:
        tail = f"\n... {self.dropped} more messages not kept\n" if self.dropped else ""
        return "\n".join(self.lines) + ("\n" if self.lines else "") + tail


def capture_failure(
    page: Page,
    *,
    store: ArtifactStore,
    run_id: str,
    step_id: str,
    console: ConsoleLog,
    max_screenshot_bytes: int,
) -> list[str]:
    """Save the page as it is now; the names of the artifacts saved."""
    saved: list[str] = []

    def put(name: str, data: bytes, content_type: str) -> None:
        with contextlib.suppress(Exception):  # a failing capture never hides the failure
            store.put(run_id, name, data, content_type)
            saved.append(name)

    with contextlib.suppress(PlaywrightError):
        shot = page.screenshot(full_page=False, type="png", timeout=CAPTURE_TIMEOUT_MS)
        if len(shot) <= max_screenshot_bytes:
            put(f"{step_id}-failure.png", shot, "image/png")
    with contextlib.suppress(PlaywrightError):
        html = page.content().encode("utf-8", errors="replace")[:MAX_HTML_BYTES]
        put(f"{step_id}-failure.html", html, "text/html; charset=utf-8")
    put(f"{step_id}-console.txt", console.text().encode(), "text/plain; charset=utf-8")
    return saved


def save_record(
    path: str, *, name: str, content_type: str, store: ArtifactStore, run_id: str, log: Log
) -> str | None:
    """Store a recorded file (HAR, trace) if it exists and is within the cap."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_RECORD_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_RECORD_BYTES:
        log("warning", f"{name} not saved: over {human_size(MAX_RECORD_BYTES)}")
        return None
    try:
        store.put(run_id, name, data, content_type)
    except Exception as exc:  # a record is for debugging: it never fails the step
        log("warning", f"{name} not saved: {exc}")
        return None
    log("info", f"Saved {name} ({human_size(len(data))})")
    return name


class Records:
    """The step's `record` artifacts: the HAR and the trace, each removed from disk after."""

    def __init__(self, *, store: ArtifactStore, run_id: str, step_id: str, log: Log) -> None:
        self.store = store
        self.run_id = run_id
        self.step_id = step_id
        self.log = log

    def _save(self, path: str, name: str, content_type: str) -> None:
        try:
            save_record(
                path,
                name=name,
                content_type=content_type,
                store=self.store,
                run_id=self.run_id,
                log=self.log,
            )
        finally:
            with contextlib.suppress(OSError):
                os.remove(path)

    def save_har(self, path: str) -> None:
        """The HAR Playwright wrote when the context closed (response bodies omitted)."""
        self._save(path, f"{self.step_id}-network.har", "application/json")

    def save_trace(self, context: BrowserContext, path: str, may_keep: bool) -> None:
        """Stop the context's tracing into `path`; keep it only if `may_keep` (no secret)."""
        try:
            context.tracing.stop(path=path)
        except PlaywrightError:
            return
        name = f"{self.step_id}-trace.zip"
        if may_keep:
            self._save(path, name, "application/zip")
            return
        with contextlib.suppress(OSError):
            os.remove(path)
        self.log(
            "warning",
            f"{name} not saved: the step used secrets, and a trace holds the pages' inputs, "
            "which cannot be masked",
        )
