"""List prices (prices.json) and the arithmetic from usage to dollars per million runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.calls import Usage

PRICES_FILE = Path(__file__).with_name("prices.json")
MILLION = 1_000_000
GB = 1024**3


@dataclass(frozen=True)
class Price:
    key: str
    label: str
    usd: float
    per: float
    unit: str
    source: str

    @property
    def unit_price(self) -> float:
        """Dollars for one unit."""
        return self.usd / self.per

    def describe(self) -> str:
        amount = f"{self.usd:.10f}".rstrip("0")
        whole, _, cents = amount.partition(".")
        amount = f"{whole}.{cents.ljust(2, '0')}"
        per = f"{self.per:,.0f} " if self.per != 1 else ""
        return f"${amount} per {per}{self.unit}"


@dataclass(frozen=True)
class PriceList:
    region: str
    read_on: str
    basis: str
    prices: dict[str, Price]

    def __getitem__(self, key: str) -> Price:
        return self.prices[key]

    def caption(self) -> str:
        return f"list prices, {self.region}, as published, read {self.read_on} (benchmarks/prices.json)"


def parse_prices(data: dict[str, Any]) -> PriceList:
    prices = {}
    for key, spec in data["prices"].items():
        prices[key] = Price(
            key=key,
            label=str(spec["label"]),
            usd=float(spec["usd"]),
            per=float(spec["per"]),
            unit=str(spec["unit"]),
            source=str(spec.get("source", "")),
        )
    return PriceList(
        region=str(data["region"]),
        read_on=str(data["read_on"]),
        basis=str(data.get("basis", "")),
        prices=prices,
    )


def load_prices(path: Path = PRICES_FILE) -> PriceList:
    return parse_prices(json.loads(path.read_text()))


@dataclass(frozen=True)
class LineItem:
    key: str
    label: str
    quantity: float  # per run, in the price's unit
    price: Price

    @property
    def per_run(self) -> float:
        return self.quantity * self.price.unit_price

    @property
    def per_million_runs(self) -> float:
        return self.per_run * MILLION


def line_items(usage: Usage, prices: PriceList) -> list[LineItem]:
    """Every billed quantity of one run, most expensive first."""
    quantities = {
        "sfn_transition": float(usage.sfn_transitions),
        "sfn_express_request": float(usage.sfn_express_requests),
        "sfn_express_gb_hour": usage.sfn_express_gb_seconds / 3600,
        "lambda_gb_second": usage.lambda_gb_seconds,
        "lambda_request": float(usage.lambda_requests),
        "dynamodb_wru": usage.dynamodb_wru,
        "dynamodb_rru": usage.dynamodb_rru,
        "eventbridge_event": float(usage.eventbridge_events),
        "sqs_request": float(usage.sqs_requests),
        "apigw_http_request": float(usage.api_requests),
        "logs_ingested_gb": usage.log_bytes / GB,
    }
    items = [
        LineItem(key, prices[key].label, quantity, prices[key])
        for key, quantity in quantities.items()
        if key in prices.prices
    ]
    return sorted(items, key=lambda item: (-item.per_million_runs, item.key))


def total_per_million(items: list[LineItem]) -> float:
    return sum(item.per_million_runs for item in items)


def share(item: LineItem, items: list[LineItem]) -> float:
    """The item's share of the total, 0..1 (0 when nothing costs anything)."""
    total = total_per_million(items)
    return item.per_million_runs / total if total else 0.0
