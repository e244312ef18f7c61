"""Templates render data only: the sandbox refuses code."""

from __future__ import annotations

import pytest

from runhook.tasks.templating import TemplateError, render, render_value, search

CONTEXT = {
    "inputs": {"orderId": "48219", "n": 2},
    "steps": {"fetch": {"json": {"total": 12.5}}},
    "run": {"id": "r"},
}


def test_render_and_search() -> None:
    assert (
        render("https://shop/orders/{{ inputs.orderId }}", CONTEXT) == "https://shop/orders/48219"
    )
    assert render_value({"a": ["{{ inputs.n * 2 }}", 3]}, CONTEXT) == {"a": ["4", 3]}
    assert search("steps.fetch.json.total", CONTEXT) == 12.5


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ inputs.__class__ }}",
        "{{ missing.value }}",
        "{% import 'os' as os %}",
    ],
)
def test_sandbox_refuses(source: str) -> None:
    with pytest.raises(TemplateError):
        render(source, CONTEXT)
