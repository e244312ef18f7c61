"""The local cloud's print guard: handler threads print while something swaps sys.stdout."""

from __future__ import annotations

import builtins
import io
import subprocess
import sys
import textwrap

from runhook_dev.devcloud import printguard
from runhook_dev.devcloud.registry import FunctionRegistry

# Four threads print while the main thread keeps replacing sys.stdout with fresh streams
# (what pytest's capture does around every test phase). On CPython 3.11 the built-in print
# dies with SIGSEGV here within a fraction of a second in most runs (4 of 5 on the
# development machine); with the guard it must survive the whole time.
STRESS = textwrap.dedent(
    """
    import io, sys, threading, time
    from runhook_dev.devcloud import printguard
    printguard.install()

    class Yielding(io.StringIO):
        def write(self, text):
            time.sleep(0)  # give the other threads the interpreter lock mid-print
            return super().write(text)

    stop = False
    def printer():
        while not stop:
            print("x" * 50)

    real = sys.stdout
    sys.stdout = Yielding()
    threads = [threading.Thread(target=printer, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    swaps, deadline = 0, time.monotonic() + 4
    while time.monotonic() < deadline:
        sys.stdout = Yielding()
        swaps += 1
    stop = True
    for thread in threads:
        thread.join()
    sys.stdout = real
    print("survived", swaps)
    """
)


def test_a_function_registry_installs_the_guard() -> None:
    FunctionRegistry()
    assert printguard.installed()
    assert builtins.print is not printguard._original_print


def test_the_guarded_print_prints_like_print() -> None:
    printguard.install()
    out = io.StringIO()
    print("a", 1, None, sep="|", end="!\n", file=out, flush=True)
    assert out.getvalue() == "a|1|None!\n"
    real, sys.stdout = sys.stdout, io.StringIO()
    try:
        print("to stdout")
        captured = sys.stdout.getvalue()
    finally:
        sys.stdout = real
    assert captured == "to stdout\n"


def test_threads_printing_while_stdout_is_swapped_do_not_crash_the_process() -> None:
    result = subprocess.run(
        [sys.executable, "-c", STRESS],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-2000:]}"
    assert result.stdout.startswith("survived"), result.stdout[-500:]
