"""Benchmark of browser steps: Chromium launch, a 5-action flow, memory (PSS) per step.

    .venv/bin/python scripts/bench_browser.py [--runs 5] [--json]

Each run is one browser step execution exactly as the browser function runs it
(runhook.engine.steps.browser.session.BrowserSession: Debian's Chromium, the guard proxy,
route interception), against the tests' local order-lookup page
(tests/browser_site/pages/order-lookup.html) served on 127.0.0.1. The 5 actions: goto,
fill, click, wait_for, extract. Memory is the peak PSS of the session's Chromium
processes (browser, zygote, renderer, GPU/utility), sampled every 50 ms, plus the
Playwright driver (node); PSS counts shared pages once across those processes.
Screenshots go to an in-memory store (S3 is not part of what is measured). The flow, the
site and the step session are benchmark 7's (benchmarks/browser.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "runhook"))
sys.path.insert(0, str(ROOT))  # benchmarks/ (the flow, the site) is not an installed package

from benchmarks.browser import EXPECTED_TOTAL, executable, flow_session, start_site  # noqa: E402
from runhook.engine.steps.browser import procs  # noqa: E402


class _PssSampler(threading.Thread):
    """Peak PSS (KiB) of the session's Chromium tree and of the Playwright driver."""

    def __init__(self, session: Any) -> None:
        super().__init__(daemon=True)
        self.session = session
        self.peak_chromium = 0
        self.peak_driver = 0
        self.stop = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self.stop.wait(0.05):
            profile = self.session.profile
            if profile:
                chromium = procs.session_processes(profile)
                self.peak_chromium = max(self.peak_chromium, procs.pss_kb(chromium))
            driver = procs.descendants([me]) - {me}
            driver = {p for p in driver if "playwright" in procs._cmdline(p)}
            self.peak_driver = max(self.peak_driver, procs.pss_kb(driver))


def _one(site_url: str, chromium: str) -> dict[str, float]:
    session = flow_session(site_url, chromium)
    sampler = _PssSampler(session)
    sampler.start()
    started = time.monotonic()
    try:
        result = session.run()
    finally:
        sampler.stop.set()
        sampler.join()
    total = (time.monotonic() - started) * 1000
    if result["extracted"].get("total") != EXPECTED_TOTAL:
        raise SystemExit(f"unexpected result: {result}")
    return {
        "launch_ms": session.metrics["launch_ms"],
        "flow_ms": session.metrics["actions_ms"],
        "step_ms": total,
        "chromium_pss_mb": sampler.peak_chromium / 1024,
        "driver_pss_mb": sampler.peak_driver / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--chromium", default=executable())
    args = parser.parse_args(argv)
    if not Path(args.chromium).is_file():
        print(
            f"bench_browser: {args.chromium} is missing (apt-get install chromium)", file=sys.stderr
        )
        return 2
    site = start_site()
    try:
        samples = [_one(site.url, args.chromium) for _ in range(args.runs)]
    finally:
        site.stop()
    rows = [
        ("browser launch (Chromium + Playwright driver)", "launch_ms", "ms"),
        ("5-action flow (goto, fill, click, wait_for, extract)", "flow_ms", "ms"),
        ("whole browser step (launch, flow, close)", "step_ms", "ms"),
        ("peak PSS, Chromium processes", "chromium_pss_mb", "MB"),
        ("peak PSS, Playwright driver (node)", "driver_pss_mb", "MB"),
    ]
    print(f"browser steps: {args.runs} runs, {os.cpu_count()} CPUs, {args.chromium}")
    print(f"{'measure':<54} {'median':>9} {'min':>9} {'max':>9}  unit")
    for label, key, unit in rows:
        values = [s[key] for s in samples]
        print(
            f"{label:<54} {statistics.median(values):>9.1f} {min(values):>9.1f} "
            f"{max(values):>9.1f}  {unit}"
        )
    if args.json:
        print(json.dumps(samples, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
