"""Percentiles, summaries and the table renderer of the benchmarks."""

from __future__ import annotations

import math

import pytest

from benchmarks import stats
from benchmarks.table import Table, ms, per_second, times, usd


def test_percentile_matches_linear_interpolation() -> None:
    values = [15, 20, 35, 40, 50]
    assert stats.percentile(values, 0) == 15
    assert stats.percentile(values, 100) == 50
    assert stats.percentile(values, 50) == 35
    # rank 0.4 * 4 = 1.6 → 20 + 0.6 * (35 - 20)
    assert stats.percentile(values, 40) == pytest.approx(29.0)
    # numpy's default: np.percentile([15, 20, 35, 40, 50], 95) == 48.0
    assert stats.percentile(values, 95) == pytest.approx(48.0)


def test_percentile_ignores_input_order_and_does_not_mutate() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert stats.median(values) == 3.0
    assert values == [5.0, 1.0, 4.0, 2.0, 3.0]
    assert stats.median([1.0, 2.0]) == 1.5


def test_percentile_edge_cases() -> None:
    assert math.isnan(stats.percentile([], 50))
    assert stats.percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        stats.percentile([1.0], 101)


def test_summary_and_rates() -> None:
    summary = stats.summarize([float(v) for v in range(1, 101)])
    assert summary.n == 100
    assert summary.p50 == pytest.approx(50.5)
    assert summary.p99 == pytest.approx(99.01)
    assert summary.low == 1 and summary.high == 100
    assert summary.mean == pytest.approx(50.5)
    assert stats.summarize([]).n == 0
    assert stats.rate(500, 2.0) == 250
    assert math.isnan(stats.rate(1, 0))
    assert stats.ratio(3.0, 1.5) == 2.0
    assert math.isnan(stats.ratio(1.0, 0.0))


def test_table_renders_aligned_and_round_trips() -> None:
    table = Table(title="demo", columns=["name", "value"])
    table.add("a", ms(1.234))
    table.add("longer name", ms(1234.5))
    table.notes.append("a note")
    text = table.render()
    lines = text.splitlines()
    assert lines[0] == "== demo"
    assert lines[3].endswith("  1.2")  # numbers align right
    assert lines[4].endswith("1,234.5")
    assert lines[-1].strip() == "a note"
    assert Table.from_dict(table.to_dict()).render() == text
    with pytest.raises(ValueError):
        table.add("only one cell")


def test_formatters() -> None:
    assert per_second(1234.4) == "1,234"
    assert per_second(12.34) == "12.3"
    assert times(1.5) == "1.50x"
    assert times(math.nan) == "-"
    assert usd(75.0) == "$75.00"
    assert usd(0.00042) == "$0.0004"


def test_machine_facts() -> None:
    import os

    from benchmarks import machine

    assert "CPUs" in machine.describe() and "GiB RAM" in machine.describe()
    assert machine.load().startswith("load ")
    assert machine.process_cpu_seconds() >= 0
    assert machine.process_cpu_seconds(os.getpid()) >= 0
    assert math.isnan(machine.process_cpu_seconds(2**22 + 12345))  # no such process
