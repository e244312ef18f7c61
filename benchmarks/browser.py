"""Benchmark 7: a browser step's launch and whole run, beside bare Playwright on the same binary.

Four subjects per round, in a shuffled order, against the tests' local order-lookup page
(tests/browser_site) on 127.0.0.1, with the same Chromium (RUNHOOK_CHROMIUM or Debian's
/usr/lib/chromium/chromium), each starting its own Playwright driver except the last:

- bare Playwright: `chromium.launch(executable_path=...)`, a new page, the 5 actions with
  plain Playwright calls (goto, fill, click, wait_for_selector, inner_text), close;
- Playwright with runhook's launch: `launch_persistent_context` on a fresh profile with
  runhook's flags (BrowserOptions.flags()), no proxy and no guards: what the flags and the
  profile cost, apart from runhook's own machinery;
- runhook: one browser step exactly as the browser function runs it
  (runhook.engine.steps.browser.session.BrowserSession: the guard proxy, route
  interception, the watchdog, console capture), as the first step of a cold container;
- runhook, warm: the same step in a warm container, whose driver an earlier step kept
  (issue 16 §5, runhook.engine.steps.browser.launch): an unmeasured step runs first, the
  measured one uses its driver, then the driver is stopped (the other subjects start
  their own in this thread).

"launch" is from starting the driver to a page ready for the first action; "driver" is the
part spent starting Playwright's Node.js driver. Wall times only (Chromium's processes are
not this process's children in a way CPU time can follow), so on a loaded machine the
ratios are the figure to read.

The flow, the local site and the step session are also what scripts/bench_browser.py
(launch, flow and memory of one step) measures: it takes them from here.
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks import stats
from benchmarks.table import Table, ms, times

if TYPE_CHECKING:
    from runhook.engine.steps.browser.session import BrowserSession

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "tests" / "browser_site" / "server.py"

FLOW: list[dict[str, str]] = [
    {"action": "goto", "url": "{site}/order-lookup.html"},
    {"action": "fill", "selector": "#order", "value": "48219"},
    {"action": "click", "selector": "#find"},
    {"action": "wait_for", "selector": "#total"},
    {"action": "extract", "name": "total", "selector": "#total"},
]
EXPECTED_TOTAL = "129.90 EUR"

Sample = dict[str, float]


def executable() -> str:
    """The Chromium every subject launches (RUNHOOK_CHROMIUM, else Debian's)."""
    from runhook.engine.steps.browser.options import DEFAULT_EXECUTABLE

    return os.environ.get("RUNHOOK_CHROMIUM", DEFAULT_EXECUTABLE)


def _bare_flow(page: Any, site: str) -> None:
    page.goto(f"{site}/order-lookup.html")
    page.fill("#order", "48219")
    page.click("#find")
    page.wait_for_selector("#total")
    if page.inner_text("#total") != EXPECTED_TOTAL:
        raise RuntimeError("bare flow: unexpected total")


def bare(site: str, executable: str) -> Sample:
    """Plain Playwright: driver, launch, page, the 5 actions, close."""
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    manager = sync_playwright()
    playwright = manager.start()
    driver = time.monotonic()
    browser = playwright.chromium.launch(executable_path=executable, headless=True)
    try:
        page = browser.new_page()
        launched = time.monotonic()
        _bare_flow(page, site)
        flowed = time.monotonic()
    finally:
        browser.close()
        playwright.stop()
    return _sample(started, driver, launched, flowed)


def runhook_flags(site: str, executable: str) -> Sample:
    """Playwright's persistent-profile launch with runhook's flags (no proxy, no guards)."""
    from playwright.sync_api import sync_playwright

    from runhook.engine.steps.browser.options import BrowserOptions

    options = BrowserOptions(executable_path=executable)
    profile = tempfile.mkdtemp(prefix="runhook-bench-")
    started = time.monotonic()
    playwright = sync_playwright().start()
    driver = time.monotonic()
    try:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=executable,
            headless=True,
            chromium_sandbox=False,
            args=options.flags(),
            env=options.environment(),
            service_workers="block",
            accept_downloads=False,
            viewport={"width": options.viewport[0], "height": options.viewport[1]},
        )
        page = context.pages[0] if context.pages else context.new_page()
        launched = time.monotonic()
        _bare_flow(page, site)
        flowed = time.monotonic()
        context.close()
    finally:
        playwright.stop()
        shutil.rmtree(profile, ignore_errors=True)
    return _sample(started, driver, launched, flowed)


class _Store:
    """Screenshots kept nowhere (S3 is not part of what is measured)."""

    def put(self, run_id: str, name: str, data: bytes, content_type: str) -> dict[str, Any]:
        return {"name": name, "size": len(data)}


def flow_session(site: str, executable: str, keep_driver: bool = False) -> BrowserSession:
    """A browser step running FLOW against `site`, built as the browser function builds it
    (`keep_driver`: hand Playwright's driver on to the next step, as a warm container does)."""
    from runhook.engine.steps.browser.options import BrowserOptions
    from runhook.engine.steps.browser.session import BrowserSession
    from runhook.tasks.definition import parse_step

    actions = [dict(a, url=a["url"].format(site=site)) if "url" in a else a for a in FLOW]
    step = parse_step({"id": "bench", "type": "browser", "actions": actions})
    return BrowserSession(
        list(step.actions),  # type: ignore[attr-defined]
        run_id="bench",
        render=lambda source: source,
        log=lambda level, message: None,
        timeout=120,
        options=BrowserOptions(
            executable_path=executable, allow_private_targets=True, keep_driver=keep_driver
        ),
        store=_Store(),
    )


def runhook(site: str, executable: str) -> Sample:
    """One browser step as the browser function runs it, its container cold."""
    return _runhook_step(flow_session(site, executable))


def runhook_warm(site: str, executable: str) -> Sample:
    """One browser step in a warm container: the driver an earlier step kept."""
    from runhook.engine.steps.browser import launch

    try:
        _runhook_step(flow_session(site, executable, keep_driver=True))  # keeps the driver
        session = flow_session(site, executable, keep_driver=True)
        sample = _runhook_step(session)
        if not session.driver_reused:
            raise RuntimeError("runhook warm step: the driver was not kept")
        return sample
    finally:
        launch.release_kept_driver()


def _runhook_step(session: BrowserSession) -> Sample:
    started = time.monotonic()
    result = session.run()
    step_ms = (time.monotonic() - started) * 1000
    if result["extracted"].get("total") != EXPECTED_TOTAL:
        raise RuntimeError(f"runhook step: unexpected result {result}")
    return {
        "driver_ms": session.metrics["driver_ms"],
        "launch_ms": session.metrics["launch_ms"],
        "flow_ms": session.metrics["actions_ms"],
        "step_ms": step_ms,
    }


def _sample(started: float, driver: float, launched: float, flowed: float) -> Sample:
    return {
        "driver_ms": (driver - started) * 1000,
        "launch_ms": (launched - started) * 1000,
        "flow_ms": (flowed - launched) * 1000,
        "step_ms": (time.monotonic() - started) * 1000,
    }


def start_site() -> Any:
    """The tests' local order-lookup site on 127.0.0.1 (stop it with `.stop()`)."""
    spec = importlib.util.spec_from_file_location("runhook_bench_site", SITE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SiteServer().start()


SUBJECTS: dict[str, Callable[[str, str], Sample]] = {
    "baseline: bare Playwright launch + flow": bare,
    "Playwright + runhook's flags and profile": runhook_flags,
    "runhook browser step (BrowserSession)": runhook,
    "runhook browser step, warm container (driver kept)": runhook_warm,
}


def measure(rounds: int, seed: int = 7) -> dict[str, list[Sample]]:
    chromium = executable()
    if not Path(chromium).is_file():
        raise RuntimeError(f"{chromium} is missing (apt-get install chromium)")
    site = start_site()
    samples: dict[str, list[Sample]] = {name: [] for name in SUBJECTS}
    order = list(SUBJECTS)
    rng = random.Random(seed)
    try:
        for round_no in range(rounds + 1):  # round 0 warms the page cache and is not kept
            rng.shuffle(order)
            for name in order:
                sample = SUBJECTS[name](site.url, chromium)
                if round_no:
                    samples[name].append(sample)
    finally:
        site.stop()
    return samples


def run(quick: bool = False) -> list[Table]:
    rounds = 3 if quick else 7
    samples = measure(rounds)
    base = samples["baseline: bare Playwright launch + flow"]
    table = Table(
        title=f"7. Browser step: launch and whole step beside bare Playwright (median of {rounds})",
        columns=[
            "subject",
            "driver ms",
            "launch ms",
            "launch vs bare",
            "flow ms",
            "step ms",
            "step vs bare",
        ],
    )

    def median(rows: list[Sample], key: str) -> float:
        return stats.median([r[key] for r in rows])

    for name, rows in samples.items():
        table.add(
            name,
            ms(median(rows, "driver_ms"), 0),
            ms(median(rows, "launch_ms"), 0),
            times(stats.ratio(median(rows, "launch_ms"), median(base, "launch_ms"))),
            ms(median(rows, "flow_ms"), 0),
            ms(median(rows, "step_ms"), 0),
            times(stats.ratio(median(rows, "step_ms"), median(base, "step_ms"))),
        )
    table.notes.append(
        f"Chromium: {executable()}; every subject starts its own Chromium, and its own "
        "Playwright driver (node) except the warm step, which uses the one an earlier step "
        "kept. launch: driver start + Chromium + a page ready; driver: the driver's part; "
        "flow: goto, fill, click, wait_for, extract on the local order-lookup page."
    )
    table.notes.append(
        "runhook's step adds to Playwright's launch a fresh persistent profile, the guard "
        "proxy (every request checked), route interception, the watchdog and console capture."
    )
    return [table]
