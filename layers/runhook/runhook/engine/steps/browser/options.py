"""How a browser session launches Chromium and what it may do (pure: no Playwright here).

Chromium is the distribution's (Debian's `chromium` package): Playwright's own browser
download is not used. The real binary is /usr/lib/chromium/chromium (/usr/bin/chromium
is a shell wrapper that adds flags and prints errors). On AWS Lambda (detected by the
runtime API variable the Lambda runtime sets) Chromium runs as a single process without
a zygote, with HOME and the profile under /tmp, the only writable place.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_EXECUTABLE = "/usr/lib/chromium/chromium"
BASE_FLAGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-gpu",
)
LAMBDA_FLAGS = ("--single-process", "--no-zygote", "--disable-dev-shm-usage")

MB = 1024 * 1024


def human_size(n: int) -> str:
    """`n` bytes for a message: 512 B, 3.0 KB, 10.0 MB."""
    return (
        f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB" if n < 1048576 else f"{n / 1048576:.1f} MB"
    )


def on_lambda(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return bool(env.get("AWS_LAMBDA_RUNTIME_API"))


@dataclass(frozen=True)
class BrowserOptions:
    """Limits and launch settings of one browser step execution."""

    executable_path: str = DEFAULT_EXECUTABLE
    lambda_mode: bool = False
    allow_private_targets: bool = False
    tmp_dir: str | None = None  # where the per-session profile goes (None: the system's)
    default_action_timeout: float = 10.0
    launch_timeout: float = 30.0
    click_retries: int = 1  # a click that timed out is tried this many more times (a warning)
    max_pages: int = 5  # pages (tabs, popups) a session may have open
    max_response_bytes: int = 10 * MB  # a response declaring more fails the step
    max_transfer_bytes: int = 50 * MB  # all a session's pages may load (the guard proxy counts)
    max_screenshot_bytes: int = 5 * MB
    max_extract_chars: int = 100_000  # per extracted value (longer is cut, with a warning)
    viewport: tuple[int, int] = (1280, 800)
    kill_grace: float = 5.0  # past the step deadline, the watchdog ends the browser
    cancel_poll_interval: float = 1.0
    # Once the watchdog has ended Chromium, the Playwright call in flight gets this long
    # to fail by itself (an action does at once); then the driver is ended too (a launch
    # does not notice a browser that died once its first page was attached).
    driver_grace: float = 1.0
    extra_flags: tuple[str, ...] = field(default_factory=tuple)
    # Keep Playwright's driver for the next session of a warm container (launch.py).
    keep_driver: bool = True

    @classmethod
    def from_environment(
        cls, *, allow_private_targets: bool, environ: Mapping[str, str] | None = None
    ) -> BrowserOptions:
        env = os.environ if environ is None else environ
        lam = on_lambda(env)
        return cls(
            executable_path=env.get("RUNHOOK_CHROMIUM", DEFAULT_EXECUTABLE),
            lambda_mode=lam,
            allow_private_targets=allow_private_targets,
            tmp_dir="/tmp" if lam else None,
        )

    def flags(self) -> list[str]:
        """Chromium's command-line switches (Playwright adds --headless, --no-sandbox, ...)."""
        out = list(BASE_FLAGS)
        if self.lambda_mode:
            out.extend(LAMBDA_FLAGS)
        out.extend(self.extra_flags)
        return out

    def environment(
        self, environ: Mapping[str, str] | None = None
    ) -> dict[str, str | float | bool]:
        """The browser's environment: ours, with HOME and caches under /tmp on Lambda."""
        env: dict[str, str | float | bool] = dict(os.environ if environ is None else environ)
        if self.lambda_mode:
            env.update(HOME="/tmp", XDG_CONFIG_HOME="/tmp/.config", XDG_CACHE_HOME="/tmp/.cache")
        return env
