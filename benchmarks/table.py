"""Plain-text tables: what every benchmark prints, and the JSON they travel in."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Table:
    """One table of results. Cells are already formatted strings; numbers align right."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append([str(c) for c in cells])

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "columns": self.columns,
            "rows": self.rows,
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Table:
        return cls(
            title=str(data["title"]),
            columns=[str(c) for c in data["columns"]],
            rows=[[str(c) for c in row] for row in data.get("rows", [])],
            notes=[str(n) for n in data.get("notes", [])],
        )

    def render(self) -> str:
        return render(self)


def _numeric(cell: str) -> bool:
    text = cell.strip().lstrip("$~<>").rstrip("%x").replace(",", "").replace(" ", "")
    for suffix in ("ms", "s", "/s"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
            break
    try:
        float(text)
    except ValueError:
        return cell.strip() in {"-", "n/a", "nan"}
    return True


def render(table: Table) -> str:
    widths = [len(c) for c in table.columns]
    for row in table.rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    right = [
        bool(table.rows) and all(_numeric(row[i]) for row in table.rows if row[i])
        for i in range(len(table.columns))
    ]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            out.append(cell.rjust(widths[i]) if right[i] else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    parts = [f"== {table.title}", line(table.columns), "  ".join("-" * w for w in widths)]
    parts.extend(line(row) for row in table.rows)
    parts.extend(f"   {note}" for note in table.notes)
    return "\n".join(parts)


# -- formatting ---------------------------------------------------------------------------


def ms(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def per_second(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def times(value: float) -> str:
    """A ratio such as 1.8x (value / baseline)."""
    return "-" if math.isnan(value) else f"{value:,.2f}x"


def usd(value: float) -> str:
    if math.isnan(value):
        return "-"
    if value and abs(value) < 0.01:
        return f"${value:,.4f}"
    return f"${value:,.2f}"
