"""One daemon thread that runs a loop until it is stopped.

The local cloud's background workers (the status-change emitter, the task-schedule firer,
the schedule rounds) each own one thread with the same life: start a daemon thread on
`_run`, and on `stop` set the stop flag, wake the thread if it waits on its activity
channel (so it notices at once instead of after its longest sleep) and join it. This base
is that life; a worker subclasses it and writes only `_run`, which loops until
`self._stop` is set (waiting with `self._stop.wait(...)` or `self.wake.wait(...)`).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from runhook_dev.devcloud.activity import Channel


class BackgroundLoop:
    """Start and stop of one worker thread; subclasses write `_run`."""

    thread_name: ClassVar[str] = "background"
    stop_timeout: ClassVar[float] = 10.0  # how long `stop()` waits for the thread to end

    def __init__(self, wake: Channel | None = None) -> None:
        self.wake = wake  # the activity channel the loop may wait on (None: none)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the loop to end and wait for it (`stop_timeout` seconds unless given)."""
        self._stop.set()
        if self.wake is not None:
            self.wake.notify()
        if self._thread is not None:
            self._thread.join(self.stop_timeout if timeout is None else timeout)
            self._thread = None

    def _run(self) -> None:
        raise NotImplementedError
