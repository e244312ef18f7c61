"""A warm container keeps Playwright's driver between browser steps (issue 16 §5).

Real Chromium, a real driver: the second session of the main thread uses the first
one's driver (no driver start), each session still gets its own Chromium and profile,
and a session that was stopped, a driver that died while kept, or a session on another
thread never hands a driver on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from runhook.engine.steps.browser import launch, procs

pytestmark = pytest.mark.xdist_group("browser")

FLOW = [
    {"action": "goto", "url": "{{ inputs.site }}/order-lookup.html"},
    {"action": "extract", "name": "title", "selector": "h1"},
]


@pytest.fixture(autouse=True)
def no_kept_driver() -> Iterator[None]:
    launch.release_kept_driver()
    yield
    launch.release_kept_driver()


def _run(run_browser: Any, site: Any, **options: Any) -> Any:
    outcome = run_browser(
        FLOW,
        data={"inputs": {"site": site.url}, "steps": {}, "run": {"id": "r"}},
        keep_driver=True,
        **options,
    )
    profile = outcome.session.profile
    assert profile and procs.session_processes(profile) == set(), "Chromium outlived its step"
    return outcome


def test_the_second_session_uses_the_first_ones_driver(run_browser: Any, site: Any) -> None:
    first = _run(run_browser, site)
    assert first.error is None, first.error and first.error.message
    assert not first.session.driver_reused
    driver = first.session.driver_pid
    assert driver and procs.alive(driver), "the driver was not kept"

    second = _run(run_browser, site)
    assert second.error is None, second.error and second.error.message
    assert second.session.driver_reused
    assert second.session.driver_pid == driver
    assert second.result["extracted"]["title"] == first.result["extracted"]["title"]
    assert second.session.profile != first.session.profile  # a fresh profile per step
    assert any("driver kept from an earlier step" in m for _, m in second.logs)

    launch.release_kept_driver()
    assert not procs.alive(driver), "release_kept_driver left the driver running"


def test_a_stopped_session_ends_the_driver_it_was_handed(run_browser: Any, site: Any) -> None:
    first = _run(run_browser, site)
    driver = first.session.driver_pid
    assert driver and procs.alive(driver)

    stopped = _run(run_browser, site, should_stop=lambda: True)
    assert stopped.error is not None and stopped.error.code == "cancelled"
    assert stopped.session.driver_pid == driver
    assert not procs.alive(driver), "a stopped session's driver was kept"

    after = _run(run_browser, site)
    assert after.error is None, after.error and after.error.message
    assert not after.session.driver_reused and after.session.driver_pid != driver


def test_a_driver_that_died_while_kept_is_replaced(run_browser: Any, site: Any) -> None:
    first = _run(run_browser, site)
    driver = first.session.driver_pid
    assert driver
    procs.kill({driver})  # e.g. the container ran out of memory between two steps

    second = _run(run_browser, site)
    assert second.error is None, second.error and second.error.message
    assert not second.session.driver_reused and second.session.driver_pid != driver


def test_a_session_on_another_thread_does_not_keep_its_driver(run_browser: Any, site: Any) -> None:
    outcomes: list[Any] = []
    worker = threading.Thread(target=lambda: outcomes.append(_run(run_browser, site)))
    worker.start()
    worker.join(120)
    [outcome] = outcomes
    assert outcome.error is None, outcome.error and outcome.error.message
    driver = outcome.session.driver_pid
    assert driver and not procs.alive(driver), "a worker thread's driver outlived its session"

    main = _run(run_browser, site)
    assert not main.session.driver_reused
