"""Totals read straight from the sample's raw vendor files, without the workbench (for acceptance tests)."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path


def _pages(sample: Path, pattern: str) -> dict:
    return {p: json.loads(p.read_text(), parse_float=Decimal) for p in sorted(sample.glob(pattern))}


def _csv_rows(path: Path) -> list[dict[str, str]]:
    data = path.read_bytes()
    text = (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _openai(sample: Path, out: dict) -> None:
    for doc in _pages(sample, "openai/costs_*.json").values():  # dollars
        for b in doc["data"]:
            month = datetime.fromtimestamp(b["start_time"], UTC).strftime("%Y-%m")
            for r in b["results"]:
                out[("OpenAI", r["amount"]["currency"].upper(), month)] += r["amount"]["value"]


def _anthropic(sample: Path, out: dict) -> None:
    for doc in _pages(sample, "anthropic/cost_report_*.json").values():  # cents, as decimal strings
        for b in doc["data"]:
            for r in b["results"]:
                out[("Anthropic", r["currency"], b["starting_at"][:7])] += Decimal(r["amount"]) / 100


def _csv_vendors(sample: Path, out: dict) -> None:
    for path in sample.glob("aws/cur2/*/*.csv.gz"):
        for r in _csv_rows(path):
            key = ("AWS", r["line_item_currency_code"], r["bill_billing_period_start_date"][:7])
            out[key] += Decimal(r["line_item_unblended_cost"])
    for path in sample.glob("azure/*.csv.gz"):
        for r in _csv_rows(path):
            first = r["BillingPeriodStartDate"]  # MM/dd/yyyy
            out[("Microsoft", r["BillingCurrencyCode"], f"{first[6:10]}-{first[0:2]}")] += \
                Decimal(r["CostInBillingCurrency"])
    for path in sample.glob("focus/*.csv"):
        for r in _csv_rows(path):
            key = (f"{r['ProviderName']} (FOCUS)", r["BillingCurrency"], r["BillingPeriodStart"][:7])
            out[key] += Decimal(r["BilledCost"])


def _gcp(sample: Path, out: dict) -> None:
    for path in sample.glob("gcp/*.jsonl.gz"):
        for line in gzip.decompress(path.read_bytes()).decode().splitlines():
            r = json.loads(line, parse_float=Decimal)
            month = f"{r['invoice']['month'][:4]}-{r['invoice']['month'][4:]}"
            net = Decimal(r["cost"]) + sum((Decimal(c["amount"]) for c in r["credits"]), Decimal(0))
            out[("Google", r["currency"], month)] += net


def raw_invoices(sample: Path) -> dict[tuple[str, str, str], Decimal]:
    """(provider, currency, YYYY-MM) -> invoiced amount, read from the vendor files without the workbench.

    OpenAI Costs API dollars, Anthropic cost-report cents / 100, AWS CUR unblended cost, Azure cost in
    billing currency, GCP cost + credits, FOCUS BilledCost (keyed ``"<provider> (FOCUS)"``).
    """
    out: dict = defaultdict(Decimal)
    for reader in (_openai, _anthropic, _csv_vendors, _gcp):
        reader(sample, out)
    return {k: v for k, v in out.items() if v}
