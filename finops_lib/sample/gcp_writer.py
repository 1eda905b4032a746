"""GCP Cloud Billing standard export rows (newline-delimited JSON) for Vertex AI, one file per month."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any

import pandas as pd

from finops_lib.sample._io import Manifest, dumps_json
from finops_lib.sample.ledger import MONEY, World, attach, register_writer, token_cost
from finops_lib.sample.story import GCP_BILLING_ACCOUNT, SERIES_BY_ID

#: Promotional credit: project, share of cost credited, number of calendar months from the start.
CREDIT: tuple[str, Decimal, int] = ("nw-research", Decimal("0.20"), 2)
CREDIT_NAME = "Vertex AI promotional credit"
_KIND = {
    "input_uncached": "Text Input - Predictions",
    "input_cache_read": "Input Text Caching",
    "output": "Text Output - Predictions",
    "thinking": "Thinking Text Output - Predictions",
}


def credit_for(project: str, date: dt.date, start: dt.date, cost: Decimal) -> Decimal:
    """Return the (negative) promotional credit on a cost line, 0 when none applies."""
    months = (date.year - start.year) * 12 + date.month - start.month
    if project == CREDIT[0] and months < CREDIT[2]:
        return -MONEY.multiply(cost, CREDIT[1])
    return Decimal(0)


def sku_description(model: str, kind: str, context_tier: str) -> str:
    """Return the SKU description, e.g. ``Gemini 2.5 Flash GA Text Input - Predictions``."""
    name = "Gemini " + model.split("-", 1)[1].replace("-", " ").title().replace("2.5 ", "2.5 ")
    long = "Long Context " if context_tier == "long" else ""
    return f"{name} GA {long}{_KIND[kind]}"


def _sku_id(text: str) -> str:
    h = hashlib.sha256(text.encode()).hexdigest().upper()
    return f"{h[:4]}-{h[4:8]}-{h[8:12]}"


def _ts(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _row(date: dt.date, start: dt.date, sid: str, kind: str, ctx: str, tokens: int, cost: Decimal) -> dict[str, Any]:
    s = SERIES_BY_ID[sid]
    project = s.where["project_id"]
    begin = dt.datetime.combine(date, dt.time())
    desc = sku_description(s.model, kind, ctx)
    credit = credit_for(project, date, start, cost)
    credits = [{"name": CREDIT_NAME, "amount": float(credit), "full_name": CREDIT_NAME,
                "id": "promotion-vertex-2026", "type": "PROMOTION"}] if credit else []  # fmt: skip
    number = str(int(hashlib.sha256(project.encode()).hexdigest()[:10], 16))[:12]
    return {
        "billing_account_id": GCP_BILLING_ACCOUNT,
        "service": {"id": "C7E2-9256-1C43", "description": "Vertex AI"},
        "sku": {"id": _sku_id(desc), "description": desc},
        "usage_start_time": _ts(begin), "usage_end_time": _ts(begin + dt.timedelta(days=1)),
        "project": {"id": project, "number": number, "name": project, "labels": [],
                    "ancestry_numbers": "/418325630071/"},
        "labels": [{"key": k, "value": v} for k, v in s.tags.items()], "system_labels": [],
        "location": {"location": "us-central1", "country": "US", "region": "us-central1", "zone": None},
        "export_time": _ts(begin + dt.timedelta(days=1, hours=6, minutes=12)),
        "cost": float(cost), "currency": "USD", "currency_conversion_rate": 1.0,
        "usage": {"amount": tokens, "unit": "count", "amount_in_pricing_units": tokens / 1e6,
                  "pricing_unit": "1000000 count"},
        "credits": credits, "invoice": {"month": date.strftime("%Y%m")}, "cost_type": "regular",
        "adjustment_info": None, "tags": [], "cost_at_list": float(cost),
    }  # fmt: skip


def gcp_lines(world: World) -> pd.DataFrame:
    """Return Vertex ledger lines with output split into text and thinking SKUs (``kind``, ``tokens``, ``cost``)."""
    ledger = attach(world.ledger, provider="gcp_vertex")
    reasoning = world.usage.set_index(["day", "sid", "context_tier"])["reasoning"]
    rows = []
    for rec in ledger.itertuples(index=False):
        if rec.token_type != "output":
            rows.append((rec.day, rec.sid, rec.context_tier, rec.token_type, rec.tokens, rec.cost))
            continue
        thinking = int(reasoning[(rec.day, rec.sid, rec.context_tier)])
        text = rec.tokens - thinking
        rows.append((rec.day, rec.sid, rec.context_tier, "output", text, token_cost(text, rec.price)))
        if thinking:
            rows.append((rec.day, rec.sid, rec.context_tier, "thinking", thinking, token_cost(thinking, rec.price)))
    return pd.DataFrame(rows, columns=["day", "sid", "context_tier", "kind", "tokens", "cost"])


@register_writer("gcp")
def write_gcp(world: World, manifest: Manifest) -> None:
    """Write ``gcp/billing_export_YYYY-MM.jsonl.gz`` (daily rows per project and SKU)."""
    dates, start = world.timeline.dates, world.timeline.start
    months: dict[str, list[str]] = {}
    for rec in gcp_lines(world).itertuples(index=False):
        date = dates[rec.day]
        row = _row(date, start, rec.sid, rec.kind, rec.context_tier, int(rec.tokens), rec.cost)
        months.setdefault(date.strftime("%Y-%m"), []).append(dumps_json(row))
    for month, rows in sorted(months.items()):
        manifest.write_text(f"gcp/billing_export_{month}.jsonl.gz", "\n".join(rows) + "\n", fmt="gcp_billing_export",
                            rows=len(rows))  # fmt: skip
