"""FOCUS 1.2 cost and usage rows for ordinary cloud spend (including the LiteLLM gateway's hosting)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

import numpy as np
import pandas as pd

from finops_lib.sample._io import Manifest, csv_text, fmt_decimal
from finops_lib.sample.ledger import World, register_writer
from finops_lib.sample.story import AWS_ACCOUNTS, AWS_PAYER, CLOUD_RESOURCES

COLUMNS: tuple[str, ...] = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd",
    "ChargePeriodStart", "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "ContractedUnitPrice",
    "EffectiveCost", "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory", "PricingQuantity",
    "PricingUnit", "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName",
    "ResourceType", "ServiceCategory", "ServiceName", "ServiceSubcategory", "SkuId", "SkuPriceId", "SubAccountId",
    "SubAccountName", "Tags",
)  # fmt: skip
#: Unit price (USD) and pricing unit per service category.
_UNITS: dict[str, tuple[str, str, str]] = {
    "Compute": ("0.0464", "Hours", "Containers"),
    "Databases": ("0.25", "Hours", "Relational Databases"),
    "Analytics": ("0.335", "Hours", "Search"),
    "Storage": ("0.023", "GB-Mo", "Object Storage"),
    "Networking": ("0.09", "GB", "Network Connectivity"),
}


def cloud_costs(world: World) -> pd.DataFrame:
    """Return daily cloud charges: ``day, resource`` (index into CLOUD_RESOURCES), ``quantity``, ``cost``."""
    t = world.timeline.t
    rows = []
    for r, (_, _, category, _, _, per_day, growth) in enumerate(CLOUD_RESOURCES):
        rng = np.random.default_rng([world.seed, 5, r])
        target = per_day * (1 + growth) ** t * rng.lognormal(0, 0.03, t.size)
        price = Decimal(_UNITS[category][0])
        for day, value in enumerate(target):
            quantity = Decimal(f"{value / float(price):.3f}")
            rows.append((day, r, quantity, quantity * price))
    return pd.DataFrame(rows, columns=["day", "resource", "quantity", "cost"])


def _ts(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


@register_writer("focus")
def write_focus(world: World, manifest: Manifest) -> None:
    """Write ``focus/focus_1.2_cloud_YYYY-MM.csv``."""
    dates = world.timeline.dates
    account = AWS_ACCOUNTS["ml-prod"]
    months: dict[str, list[list[str]]] = {}
    for rec in cloud_costs(world).itertuples(index=False):
        name, service, category, team, app, _, _ = CLOUD_RESOURCES[rec.resource]
        date = dates[rec.day]
        price, unit, sub = _UNITS[category]
        start = date.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1)
        cost = fmt_decimal(rec.cost)
        sku = hashlib.sha256(f"{service}|{unit}".encode()).hexdigest()[:16].upper()
        tags = json.dumps({"team": team, "app": app}) if team else ""
        resource = f"arn:aws:{service.split()[-1].lower()}:us-east-1:{account}:{name}"
        qty = fmt_decimal(rec.quantity)
        months.setdefault(date.strftime("%Y-%m"), []).append([
            cost, AWS_PAYER, "northwind-payer", "USD", _ts(end), _ts(start), "Usage", "",
            f"{service} usage, ${price} per {unit}", "Usage-Based", _ts(date + dt.timedelta(days=1)), _ts(date),
            qty, unit, cost, price, cost, "Amazon Web Services, Inc.", cost, price, "Standard", qty, unit, "AWS",
            "Amazon Web Services, Inc.", "us-east-1", "US East (N. Virginia)", resource, name, service, category,
            service, sub, sku, f"{sku}.{unit.upper()}", account, "ml-prod", tags,
        ])  # fmt: skip
    for month, rows in sorted(months.items()):
        manifest.write_text(f"focus/focus_1.2_cloud_{month}.csv", csv_text(list(COLUMNS), rows), fmt="focus_1.2",
                            rows=len(rows))  # fmt: skip
