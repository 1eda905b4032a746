"""Azure EA cost details CSV (actual cost) for Azure OpenAI, billed in EUR, one file per month."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

from finops_lib.sample._io import Manifest, csv_text, fmt_decimal
from finops_lib.sample.ledger import MONEY, World, attach, register_writer
from finops_lib.sample.prices import PTU_HOUR_USD, USD_TO_EUR
from finops_lib.sample.story import AZURE_SUBSCRIPTION, PTU_UNITS, SERIES_BY_ID

COLUMNS: tuple[str, ...] = (
    "Date", "BillingAccountId", "BillingAccountName", "BillingProfileId", "BillingProfileName",
    "BillingPeriodStartDate", "BillingPeriodEndDate", "BillingCurrencyCode", "InvoiceId", "InvoiceSectionId",
    "InvoiceSectionName", "SubscriptionId", "SubscriptionName", "ResourceGroupName", "ResourceId", "ResourceType",
    "ResourceLocationNormalized", "Location", "MeterCategory", "MeterSubcategory", "MeterName", "MeterId",
    "MeterRegion", "ProductName", "ProductId", "PartNumber", "ServiceFamily", "Quantity", "UnitOfMeasure",
    "UnitPrice", "EffectivePrice", "PayGPrice", "CostInBillingCurrency", "CostInUsd", "PaygCostInBillingCurrency",
    "ChargeType", "Frequency", "PricingModel", "Tags", "AdditionalInfo", "ConsumedService", "Term", "OfferId",
    "ExchangeRatePricingToBilling", "CostCenter",
)  # fmt: skip
_METERS = {
    ("gpt-4o-2024-08-06", "input_uncached"): "gpt-4o-0806-Inp-glbl",
    ("gpt-4o-2024-08-06", "input_cache_read"): "gpt-4o-0806-cached-Inp-glbl",
    ("gpt-4o-2024-08-06", "output"): "gpt-4o-0806-Outp-glbl",
    ("gpt-4o-mini-2024-07-18", "input_uncached"): "GPT 4o mini Inp Glbl 1M Tokens",
    ("gpt-4o-mini-2024-07-18", "input_cache_read"): "GPT 4o mini Cd Inp Glbl 1M Tokens",
    ("gpt-4o-mini-2024-07-18", "output"): "GPT 4o mini outpt Glbl 1M Tokens",
}
PTU_ACCOUNT = ("rg-platform-ai", "aoai-shared-ptu")
PTU_TAGS = {"team": "platform", "app": "shared-ptu", "env": "prod"}


def _date(day: dt.date) -> str:
    return day.strftime("%m/%d/%Y")


def _tags(tags: dict[str, str]) -> str:
    return ",".join(f'"{k}": "{v}"' for k, v in tags.items())


def _guid(text: str) -> str:
    h = hashlib.sha256(text.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _line(date: dt.date, group: str, account: str, meter: str, sub: str, quantity: int, unit: str,
          price_eur: Decimal, cost_eur: Decimal, tags: dict[str, str], info: str) -> list[str]:  # fmt: skip
    start = date.replace(day=1)
    end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    resource = (f"/subscriptions/{AZURE_SUBSCRIPTION}/resourceGroups/{group}/providers/"
                f"Microsoft.CognitiveServices/accounts/{account}")  # fmt: skip
    price, cost = fmt_decimal(price_eur), fmt_decimal(cost_eur)
    usd = fmt_decimal(MONEY.divide(cost_eur, USD_TO_EUR))
    return [
        _date(date), "87654321", "Northwind Analytics EA", "87654321", "Northwind Analytics", _date(start),
        _date(end), "EUR", "", "IS-4821", "AI Platform", AZURE_SUBSCRIPTION, "nw-ai-prod", group, resource,
        "Microsoft.CognitiveServices/accounts", "swedencentral", "SE Central", "Foundry Models", sub, meter,
        _guid(meter), "Global", f"Azure OpenAI {sub}", _guid(sub)[:12].upper(), _guid(meter)[:9].upper(),
        "AI + Machine Learning", str(quantity), unit, price, price, price, cost, usd, cost, "Usage", "UsageBased",
        "OnDemand", _tags(tags), info, "Microsoft.CognitiveServices", "", "MS-AZR-0017P", fmt_decimal(USD_TO_EUR),
        tags.get("team", ""),
    ]  # fmt: skip


@register_writer("azure")
def write_azure(world: World, manifest: Manifest) -> None:
    """Write ``azure/cost_details_YYYY-MM.csv.gz`` (token meters per account and the PTU hourly meter)."""
    ledger = attach(world.ledger, provider="azure_openai").sort_values(["day", "sid", "token_type"], kind="stable")
    dates = world.timeline.dates
    months: dict[str, list[list[str]]] = {}
    by_day = dict(list(ledger.groupby("day", sort=True)))
    ptu_price = PTU_HOUR_USD * USD_TO_EUR
    for day, date in enumerate(dates):
        rows = months.setdefault(date.strftime("%Y-%m"), [])
        hours = PTU_UNITS * 24
        rows.append(
            _line(
                date,
                *PTU_ACCOUNT,
                "Provisioned Managed Unit",
                "Provisioned Managed",
                hours,
                "1 Hour",
                ptu_price,
                MONEY.multiply(ptu_price, hours),
                PTU_TAGS,
                '{"DeploymentType":"GlobalProvisioned","ProvisionedUnits":' + str(PTU_UNITS) + "}",
            )
        )
        for _, rec in by_day[day].iterrows() if day in by_day else ():
            s = SERIES_BY_ID[rec["sid"]]
            info = f'{{"DeploymentName":"{s.where["deployment"]}","DeploymentType":"GlobalStandard"}}'
            meter = _METERS[(s.model, rec["token_type"])]
            rows.append(_line(date, s.where["resource_group"], s.where["account"], meter, s.model.rsplit("-", 3)[0],
                              int(rec["tokens"]), "1M", rec["price"], rec["cost"], s.tags, info))  # fmt: skip
    for month, rows in sorted(months.items()):
        text = csv_text(list(COLUMNS), rows)
        manifest.write_text(f"azure/cost_details_{month}.csv.gz", text, fmt="azure_ea_cost_details", rows=len(rows))
