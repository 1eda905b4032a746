"""AWS CUR 2.0 (Data Exports) CSV with Amazon Bedrock line items, one file per billing period."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pandas as pd

from finops_lib.sample._io import Manifest, csv_text, fmt_decimal
from finops_lib.sample.ledger import MILLION, MONEY, World, attach, register_writer
from finops_lib.sample.story import AWS_PAYER, SERIES_BY_ID

COLUMNS: tuple[str, ...] = (
    "identity_line_item_id", "identity_time_interval", "bill_bill_type", "bill_payer_account_id",
    "bill_payer_account_name", "bill_billing_entity", "bill_billing_period_start_date", "bill_billing_period_end_date",
    "line_item_usage_account_id", "line_item_usage_account_name", "line_item_line_item_type",
    "line_item_usage_start_date", "line_item_usage_end_date", "line_item_product_code", "line_item_usage_type",
    "line_item_operation", "line_item_resource_id", "line_item_usage_amount", "line_item_currency_code",
    "line_item_unblended_rate", "line_item_unblended_cost", "line_item_net_unblended_cost", "line_item_blended_cost",
    "line_item_line_item_description", "line_item_iam_principal", "line_item_user_identifier", "product_servicecode",
    "product_region_code", "product_product_family", "pricing_unit", "pricing_public_on_demand_cost",
    "pricing_public_on_demand_rate", "pricing_term", "product", "resource_tags", "cost_category", "discount", "tags",
)  # fmt: skip
_USAGE_KIND = {
    "input_uncached": "input-tokens",
    "output": "output-tokens",
    "input_cache_read": "cache-read-input-token-count",
    "input_cache_write_5m": "cache-write-input-token-count",
}
_DISPLAY = {
    "anthropic.claude-3-5-haiku-20241022-v1:0": "Claude 3.5 Haiku",
    "meta.llama3-3-70b-instruct-v1:0": "Llama 3.3 70B Instruct",
    "amazon.nova-pro-v1:0": "Nova Pro",
}


def usage_type(label: str, token_type: str, tier: str, suffix: str) -> str:
    """Return the Bedrock usage type, e.g. ``USE1-Claude3-5Haiku-input-tokens-batch``."""
    kind = _USAGE_KIND[token_type]
    return f"USE1-{label}-{kind}{'-batch' if tier == 'batch' else ''}{suffix}"


def _ts(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _month_end(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _row(rec: pd.Series, date: dt.date) -> list[str]:
    s = SERIES_BY_ID[rec["sid"]]
    period = date.replace(day=1)
    utype = usage_type(s.where["usage_label"], rec["token_type"], s.tier, s.where["suffix"])
    rate = MONEY.divide(rec["price"], MILLION)
    cost = fmt_decimal(rec["cost"])
    resource = s.where["resource_id"] or f"arn:aws:bedrock:us-east-1::foundation-model/{s.model}"
    interval = f"{_ts(date)}/{_ts(date + dt.timedelta(days=1))}"
    line_id = hashlib.sha256(f"{interval}|{s.sid}|{utype}".encode()).hexdigest()[:52]
    kind = "output" if rec["token_type"] == "output" else "input"
    desc = f"{_DISPLAY[s.model]} {kind} tokens, ${fmt_decimal(rec['price'])} per 1M tokens"
    product = json.dumps({"product_name": "Amazon Bedrock", "model": _DISPLAY[s.model], "region": "us-east-1"})
    operation = "InvokeModelBatch" if s.tier == "batch" else "InvokeModel"
    return [
        line_id, interval, "Anniversary", AWS_PAYER, "northwind-payer", "AWS", _ts(period), _ts(_month_end(date)),
        s.where["account_id"], s.where["account_name"], "Usage", _ts(date), _ts(date + dt.timedelta(days=1)),
        "AmazonBedrock", utype, operation, resource, str(rec["tokens"]), "USD", fmt_decimal(rate), cost, cost, cost,
        desc, s.where["principal"], "", "AmazonBedrock", "us-east-1", "Amazon Bedrock", "Tokens", cost,
        fmt_decimal(rate), "OnDemand", product, json.dumps(s.tags), "{}", "{}", "{}",
    ]  # fmt: skip


@register_writer("aws")
def write_aws(world: World, manifest: Manifest) -> None:
    """Write ``aws/cur2/BILLING_PERIOD=YYYY-MM/northwind-cur2-00001.csv.gz`` for every month."""
    ledger = attach(world.ledger, provider="aws_bedrock").sort_values(["day", "sid", "token_type"], kind="stable")
    dates = world.timeline.dates
    months: dict[str, list[list[str]]] = {}
    for _, rec in ledger.iterrows():
        date = dates[rec["day"]]
        months.setdefault(date.strftime("%Y-%m"), []).append(_row(rec, date))
    for month, rows in sorted(months.items()):
        rel = f"aws/cur2/BILLING_PERIOD={month}/northwind-cur2-00001.csv.gz"
        manifest.write_text(rel, csv_text(list(COLUMNS), rows), fmt="aws_cur2", rows=len(rows))
