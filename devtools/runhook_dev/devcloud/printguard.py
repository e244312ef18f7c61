"""A `print()` that holds on to its stream: the local cloud runs handlers on threads.

CPython 3.11's built-in `print()` looks `sys.stdout` up as a *borrowed* reference and then
writes to it in several calls (the text, then the line end). If another thread replaces
`sys.stdout` in between and that drops the last reference to the old stream, `print()` writes
to freed memory and the interpreter dies with a segmentation fault (fixed in later CPython
releases, not in 3.11). The local cloud runs every handler on a thread of one process, and
Powertools' Metrics `print()` their EMF lines; a test runner swaps `sys.stdout` at each
output-capture boundary (pytest: before and after every test phase and every subtest). One
CI run of the suite died this way in the middle of the schemathesis test.

`install()` puts a `print()` in `builtins` that reads `sys.stdout`/`file` once into a local
(a strong reference for the whole call) and hands it to the original: behaviour is the same,
only the crash is gone. It is installed once per process, when a function registry is made,
and never taken out (taking it out while handler threads print would reopen the race).
"""

from __future__ import annotations

import builtins
import sys
import threading
from typing import Any

_lock = threading.Lock()
_original_print = builtins.print


def _print_holding_stream(
    *values: object,
    sep: str | None = " ",
    end: str | None = "\n",
    file: Any = None,
    flush: bool = False,
) -> None:
    """`print()` with `file` resolved to a strong reference before any write happens."""
    stream = sys.stdout if file is None else file
    _original_print(*values, sep=sep, end=end, file=stream, flush=flush)


def install() -> None:
    """Make `builtins.print` hold its stream (idempotent)."""
    with _lock:
        if builtins.print is not _print_holding_stream:
            builtins.print = _print_holding_stream


def installed() -> bool:
    return builtins.print is _print_holding_stream
