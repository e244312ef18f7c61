"""Generate the Express run machine's ASL from the Standard one (issue 16).

    python scripts/express_asl.py --write   # rewrite statemachines/run-express.asl.json
    python scripts/express_asl.py --check   # exit 1 when it is out of date

The Express machine is the same step function in the same shape minus what Express cannot
do: `.waitForTaskToken` (the Approval state and the Route rule that leads to it). Runs
with an approval never go to Express (runhook.engine.routing), so the rule is not needed
there. Generating the file, rather than keeping a hand-made copy, means a change to
statemachines/run.asl.json reaches both machines; tests/template/test_express_machine.py
fails when the committed file is stale.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STANDARD = ROOT / "statemachines" / "run.asl.json"
EXPRESS = ROOT / "statemachines" / "run-express.asl.json"
CALLBACK_STATES = ("Approval",)  # Task states using .waitForTaskToken (Standard only)
COMMENT = (
    "runhook, Express (short runs without approvals; generated from run.asl.json by "
    "scripts/express_asl.py, do not edit): the same loop minus the Approval state. "
    "See docs/engine.md, Express."
)


def express_definition(standard: dict[str, Any]) -> dict[str, Any]:
    """`standard` without its callback states and every Choice rule that leads to one."""
    express = copy.deepcopy(standard)
    express["Comment"] = COMMENT
    states: dict[str, Any] = express["States"]
    for name in CALLBACK_STATES:
        states.pop(name, None)
    for state in states.values():
        if state.get("Type") == "Choice":
            state["Choices"] = [c for c in state["Choices"] if c.get("Next") not in CALLBACK_STATES]
    return express


def rendered() -> str:
    standard = json.loads(STANDARD.read_text(encoding="utf-8"))
    return json.dumps(express_definition(standard), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true")
    group.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = rendered()
    if args.write:
        EXPRESS.write_text(text, encoding="utf-8")
        return 0
    if not EXPRESS.is_file() or EXPRESS.read_text(encoding="utf-8") != text:
        print(f"{EXPRESS.relative_to(ROOT)} is out of date: python scripts/express_asl.py --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
