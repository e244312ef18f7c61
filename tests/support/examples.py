"""The task definitions in examples/tasks/, loaded by name (each is written once, there)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tasks"

# The task example of the public API contract (docs/api-contract.md, "Task definitions").
CONTRACT_EXAMPLE = "fetch-order-total.json"


def load_example(name: str = CONTRACT_EXAMPLE) -> dict[str, Any]:
    """A fresh copy of examples/tasks/<name> (callers may change it)."""
    data = json.loads((EXAMPLES / name).read_text())
    assert isinstance(data, dict), f"{name} is not a JSON object"
    return data
