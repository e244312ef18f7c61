"""Price arithmetic: usage per run → dollars per million runs, biggest first."""

from __future__ import annotations

import pytest

from benchmarks.calls import Usage
from benchmarks.pricing import (
    PRICES_FILE,
    line_items,
    load_prices,
    parse_prices,
    share,
    total_per_million,
)


def _prices() -> dict[str, object]:
    def price(usd: float, per: float) -> dict[str, object]:
        return {"label": "x", "usd": usd, "per": per, "unit": "u"}

    return {
        "region": "us-east-1",
        "read_on": "2026-01-01",
        "prices": {
            "sfn_transition": price(0.025, 1000),
            "lambda_gb_second": price(0.0000133334, 1),
            "lambda_request": price(0.20, 1_000_000),
            "dynamodb_wru": price(0.625, 1_000_000),
            "dynamodb_rru": price(0.125, 1_000_000),
            "eventbridge_event": price(1.0, 1_000_000),
            "sqs_request": price(0.40, 1_000_000),
            "apigw_http_request": price(1.0, 1_000_000),
            "logs_ingested_gb": price(0.50, 1),
        },
    }


def test_the_shipped_price_file_is_complete_and_dated() -> None:
    prices = load_prices(PRICES_FILE)
    assert prices.region == "us-east-1"
    assert prices.read_on[:2] == "20" and len(prices.read_on) == 10
    needed = {
        "sfn_transition",
        "lambda_gb_second",
        "lambda_request",
        "dynamodb_wru",
        "dynamodb_rru",
        "eventbridge_event",
        "sqs_request",
        "apigw_http_request",
    }
    assert needed <= set(prices.prices)
    assert all(
        p.usd > 0 and p.per > 0 and p.source.startswith("https://") for p in prices.prices.values()
    )
    # $25 per million transitions, as published
    assert prices["sfn_transition"].unit_price * 1_000_000 == pytest.approx(25.0)


def test_dollars_per_million_runs() -> None:
    prices = parse_prices(_prices())
    usage = Usage(
        sfn_transitions=3,
        lambda_requests=2,
        lambda_gb_seconds=0.05,
        dynamodb_wru=20,
        dynamodb_rru=4,
        eventbridge_events=3,
        sqs_requests=6,
        api_requests=1,
        log_bytes=1024**3 // 1000,  # 1 GB per thousand runs
    )
    items = {item.key: item for item in line_items(usage, prices)}
    assert items["sfn_transition"].per_million_runs == pytest.approx(75.0)
    assert items["lambda_request"].per_million_runs == pytest.approx(0.40)
    assert items["lambda_gb_second"].per_million_runs == pytest.approx(0.66667, rel=1e-4)
    assert items["dynamodb_wru"].per_million_runs == pytest.approx(12.5)
    assert items["dynamodb_rru"].per_million_runs == pytest.approx(0.5)
    assert items["eventbridge_event"].per_million_runs == pytest.approx(3.0)
    assert items["sqs_request"].per_million_runs == pytest.approx(2.4)
    assert items["apigw_http_request"].per_million_runs == pytest.approx(1.0)
    assert items["logs_ingested_gb"].per_million_runs == pytest.approx(500.0, rel=1e-3)


def test_items_are_sorted_biggest_first_and_shares_add_up() -> None:
    prices = parse_prices(_prices())
    usage = Usage(sfn_transitions=3, dynamodb_wru=200, api_requests=1)
    items = line_items(usage, prices)
    costs = [item.per_million_runs for item in items]
    assert costs == sorted(costs, reverse=True)
    assert items[0].key == "dynamodb_wru"  # 200 WRU = $125 > 3 transitions = $75
    assert sum(share(item, items) for item in items) == pytest.approx(1.0)
    assert total_per_million(items) == pytest.approx(125 + 75 + 1)
    assert share(items[0], line_items(Usage(), prices)) == 0.0


def test_prices_describe_themselves_readably() -> None:
    prices = load_prices(PRICES_FILE)
    assert prices["sfn_transition"].describe() == "$0.025 per 1,000 transitions"
    assert prices["lambda_gb_second"].describe() == "$0.0000133334 per GB-second"
    assert prices["apigw_http_request"].describe().startswith("$1.00 per 1,000,000 requests")


def test_express_is_priced_per_request_and_gb_second() -> None:
    """Issue 16: an Express run pays one request and its GB-seconds, no transitions."""
    prices = load_prices(PRICES_FILE)
    assert prices["sfn_express_request"].unit_price * 1_000_000 == pytest.approx(1.0)
    assert prices["sfn_express_gb_hour"].unit_price == pytest.approx(0.06)
    usage = Usage(sfn_express_requests=1, sfn_express_gb_seconds=1.2 * 64 / 1024)
    items = {item.key: item for item in line_items(usage, prices)}
    assert items["sfn_express_request"].per_million_runs == pytest.approx(1.0)
    # 1.2 s at 64 MB = 0.075 GB-s = 0.0000208 GB-h, at $0.06 per GB-hour: $1.25 per 1M runs
    assert items["sfn_express_gb_hour"].per_million_runs == pytest.approx(1.25)
    assert items["sfn_transition"].per_million_runs == 0.0
    scaled = Usage(sfn_express_requests=2, sfn_express_gb_seconds=0.5).scaled(0.5)
    assert (scaled.sfn_express_requests, scaled.sfn_express_gb_seconds) == (1, 0.25)
