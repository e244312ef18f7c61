"""Run one benchmark in this (fresh) process and write its tables as JSON.

    python -m benchmarks.child NAME OUT_JSON [--quick]

The runner (`python -m benchmarks`) starts one of these per benchmark, with stdout and
stderr going to a log file: the local cloud's handlers log there, not into the tables.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path

from benchmarks import machine


def main(argv: list[str]) -> int:
    name, out = argv[0], Path(argv[1])
    quick = "--quick" in argv[2:]
    module = importlib.import_module(f"benchmarks.{name}")
    load_before = machine.load()
    started = time.monotonic()
    result: dict[str, object]
    try:
        tables = module.run(quick=quick)
        result = {"ok": True, "tables": [t.to_dict() for t in tables]}
    except Exception as exc:
        traceback.print_exc()
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result["seconds"] = time.monotonic() - started
    result["load_before"] = load_before
    result["load_after"] = machine.load()
    out.write_text(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
