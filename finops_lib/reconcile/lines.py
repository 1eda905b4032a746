"""The two sides of a reconciliation as lines: one per provider, model, day, currency, tier and token bucket.

The engine prices and aggregates the invoices (every money row of the facts), the usage feeds and the request
logs into a few rows per line key (:func:`invoice_lines`, :func:`usage_lines`, :func:`request_lines`);
:func:`match_lines` then adds them up per :data:`KEY` in :class:`~decimal.Decimal`, with the tokens each side saw
and where the invoice's quantities came from (``invoice``, ``usage`` feed on the same line, or ``implied`` from
the catalog price).
"""

from __future__ import annotations

import functools
import operator
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal

import ibis
import ibis.expr.datatypes as dtypes
import pandas as pd

from finops_lib.facts import MONEY_SCOPES, in_ai_scope
from finops_lib.pricing import book
from finops_lib.pricing.estimate import BUCKET_COST_COLUMNS, MONEY, TOKENS, estimate_requests, price_costs
from finops_lib.schema import REQUEST_TOKEN_COLUMNS, TOKEN_BUCKETS

KEY: tuple[str, ...] = ("ProviderName", "model", "day", "BillingCurrency", "service_tier", "context_tier",
                        "token_type")  # fmt: skip
GROUP: tuple[str, ...] = KEY[:4]
#: Money and token fields of one line (see :func:`finops_lib.reconcile.components.decompose`).
LINE_FIELDS: tuple[str, ...] = ("inv_priced", "inv_catalog", "inv_tokens", "inv_unpriced", "inv_unpriced_tokens",
                                "inv_unmatched", "inv_capacity", "inv_non_ai", "est_cost", "est_tokens",
                                "est_unpriced_tokens")  # fmt: skip
#: FOCUS ServiceCategory of AI and machine learning charges (wider than the AI scope: see ``facts.scope.AI_SCOPE``).
AI_CATEGORY = "AI and Machine Learning"
ZERO = Decimal(0)
MILLION = Decimal(1_000_000)
_TOKEN_Q = Decimal(1).scaleb(-6)

__all__ = ["AI_CATEGORY", "GROUP", "KEY", "LINE_FIELDS", "in_scope", "invoice_lines", "match_lines", "request_lines",
           "usage_lines"]  # fmt: skip


def in_scope(t: ibis.Table, accounts: Sequence[str] | None) -> ibis.Table:
    """Keep the rows of these accounts (``SubAccountId``, ``SubAccountName`` or ``x_ApiKeyId``); all when empty."""
    if not accounts:
        return t
    cols = [t[c].isin(list(accounts)) for c in ("SubAccountId", "SubAccountName", "x_ApiKeyId") if c in t.columns]
    return t.filter(functools.reduce(operator.or_, cols).fill_null(False))


def _keyed(t: ibis.Table, catalog: book.Catalog, model: str, token_type: ibis.Value) -> ibis.Table:
    """Add the line key: ``day``, tiers (null = standard), ``token_type`` and the alias-resolved ``model``."""
    t = t.mutate(
        day=t.ChargePeriodStart.date(),
        token_type=token_type,
        service_tier=t.x_ServiceTier.fill_null("standard"),
        context_tier=t.x_ContextTier.fill_null("standard"),
    )
    a = catalog.table("aliases").rename("_a_{name}")
    j = t.left_join(a, [t.ProviderName == a._a_provider, t[model] == a._a_alias, t.day >= a._a_effective_from,
                        t.day < a._a_effective_to])  # fmt: skip
    return j.mutate(model=ibis.coalesce(j._a_model, j[model])).drop(*a.columns)


def _usage_rows(costs: ibis.Table) -> ibis.Table:
    return costs.filter((costs.x_CostBasis == "estimated") & costs.x_TokenType.isin(list(TOKEN_BUCKETS))
                        & costs.x_Model.notnull())  # fmt: skip


def invoice_lines(costs: ibis.Table, catalog: book.Catalog, rates: pd.DataFrame, column: str) -> ibis.Table:
    """Billed lines per key, account and deployment, with their tokens and the catalog cost of those tokens.

    The billed side is every money row of the facts (invoiced first, estimates where a provider has no invoice), so
    its total is the spend every page shows; lines of non-AI services without a model are the ``non_ai`` component.
    """
    inv = costs.filter(costs.x_MoneyScope.isin(list(MONEY_SCOPES)))
    inv = _keyed(inv, catalog, "x_Model", inv.x_TokenType)
    sub = [*KEY, "account", "dep", "comparable", "ai"]
    inv = inv.mutate(account=inv.SubAccountId.fill_null(""), dep=inv.x_DeploymentType,
                     comparable=(inv.ChargeCategory == "Usage") & inv.model.notnull()
                     & inv.token_type.isin(list(TOKEN_BUCKETS)),
                     ai=in_ai_scope(inv) | inv.model.notnull())  # fmt: skip
    inv = inv.group_by(sub).agg(amount=inv[column].cast(MONEY).sum(), qty=inv.ConsumedQuantity.cast(MONEY).sum(),
                                rows=inv.count(), counted=inv.ConsumedQuantity.count())  # fmt: skip
    inv = inv.mutate(siblings=inv.rows.count().over(ibis.window(group_by=[*KEY, "account"])))
    use = _keyed(_usage_rows(costs), catalog, "x_Model", costs.x_TokenType)
    use = use.mutate(
        account=use.SubAccountId.fill_null(""), partial=use.x_DataQualityFlags.fill_null("").contains("partial_bucket")
    )
    use = use.group_by([*KEY, "account"]).agg(u_qty=use.ConsumedQuantity.cast(MONEY).sum(), partial=use.partial.any())
    j = inv.left_join(use, [*KEY, "account"]).drop(*(f"{k}_right" for k in [*KEY, "account"]))
    own = ibis.ifelse(j.rows == j.counted, j.qty, ibis.null(MONEY))
    fed = ibis.ifelse(j.comparable & (j.siblings == 1) & ~j.partial.fill_null(True), j.u_qty, ibis.null(MONEY))
    j = j.mutate(
        qty=ibis.coalesce(own, fed),
        source=ibis.cases((own.notnull(), "invoice"), (fed.notnull(), "usage"), else_=ibis.null("string")),
    )
    blank = {c: ibis.null(MONEY) for c in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")}
    asked = j.select(*sub, "amount", "qty", "source", ChargePeriodStart=j.day.cast(dtypes.Timestamp(timezone="UTC")),
                     x_Model=j.model, x_TokenType=j.token_type,
                     x_ServiceTier=j.service_tier, x_ContextTier=j.context_tier, x_DeploymentType=j.dep,
                     x_CostBasis=ibis.literal("estimated"), ConsumedQuantity=ibis.coalesce(j.qty, MILLION),
                     PricingUnit=ibis.literal("1M Tokens"), ContractedUnitPrice=ibis.null(MONEY),
                     x_DataQualityFlags=ibis.literal(""), **blank)  # fmt: skip
    p = price_costs(asked, catalog, rates=rates)
    catalog_cost = ibis.ifelse(p.qty.notnull(), p.BilledCost, ibis.null(MONEY))
    return p.select(*sub, "amount", "qty", "source", catalog=catalog_cost, p1m=p.ContractedUnitPrice)


def request_lines(requests: ibis.Table, catalog: book.Catalog, rates: pd.DataFrame) -> ibis.Table:
    """Sum the requests' priced and unpriced tokens and bucket costs per line key, one bucket at a time."""
    k = _keyed(estimate_requests(requests, catalog, rates=rates), catalog, "x_Model", ibis.literal(""))
    sums = {}
    for bucket, column in BUCKET_COST_COLUMNS.items():
        tokens, priced = k[REQUEST_TOKEN_COLUMNS[bucket]].cast(TOKENS).cast(MONEY), k[column].notnull()
        sums |= {f"c_{bucket}": k[column].sum(), f"t_{bucket}": ibis.ifelse(priced, tokens, 0).sum(),
                 f"u_{bucket}": ibis.ifelse(priced, 0, tokens).sum()}  # fmt: skip
    agg = k.group_by([c for c in KEY if c != "token_type"]).agg(**sums)
    parts = [agg.select(*KEY[:-1], token_type=ibis.literal(b), est_cost=agg[f"c_{b}"], est_tokens=agg[f"t_{b}"],
                        est_unpriced_tokens=agg[f"u_{b}"]) for b in BUCKET_COST_COLUMNS]  # fmt: skip
    union = ibis.union(*parts)
    return union.filter((union.est_tokens > 0) | (union.est_unpriced_tokens > 0))


def usage_lines(costs: ibis.Table, catalog: book.Catalog, rates: pd.DataFrame) -> ibis.Table:
    """Price the usage feeds' estimated token rows and sum them per line key."""
    p = price_costs(_usage_rows(costs), catalog, rates=rates)
    k = _keyed(p, catalog, "x_Model", p.x_TokenType)
    k = k.mutate(tokens=k.ConsumedQuantity.cast(MONEY), cost=k.BilledCost.cast(MONEY)).filter(lambda t: t.tokens > 0)
    priced = k.cost.notnull()
    return k.group_by(list(KEY)).agg(est_cost=k.cost.sum(), est_tokens=ibis.ifelse(priced, k.tokens, 0).sum(),
                                     est_unpriced_tokens=ibis.ifelse(priced, 0, k.tokens).sum())  # fmt: skip


def _dec(value: object) -> Decimal:
    return ZERO if value is None else Decimal(value)  # type: ignore[arg-type]


def _invoice_parts(r: dict) -> dict[str, object]:
    """Return the line fields one invoice sub-line contributes."""
    amount, qty, p1m = _dec(r["amount"]), r["qty"], r["p1m"]
    if not r["comparable"]:
        if not r["ai"]:
            return {"inv_non_ai": amount}
        return {"inv_capacity": amount} if r["service_tier"] == "provisioned" else {"inv_unmatched": amount}
    if qty is not None and r["catalog"] is not None:
        return {"inv_priced": amount, "inv_tokens": qty, "inv_catalog": r["catalog"], "source": r["source"]}
    if qty is None and p1m is not None:
        tokens = (amount * MILLION / p1m).quantize(_TOKEN_Q, rounding=ROUND_HALF_EVEN)
        return {"inv_priced": amount, "inv_tokens": tokens, "inv_catalog": amount, "source": "implied"}
    return {"inv_unpriced": amount, "inv_unpriced_tokens": _dec(qty), "unpriced": True}


def match_lines(invoices: Iterable[dict], estimates: Iterable[dict]) -> pd.DataFrame:
    """Return one row per :data:`KEY`: the invoice sub-lines and the estimates added up exactly (Decimal)."""
    acc: dict[tuple, dict] = defaultdict(lambda: {**dict.fromkeys(LINE_FIELDS, ZERO), "invoice_line": False,
                                                  "unpriced": False, "quantity_source": set()})  # fmt: skip
    for r in invoices:
        line = acc[tuple(r[k] for k in KEY)]
        for name, value in _invoice_parts(r).items():
            if name == "source":
                line["quantity_source"].add(value)
            elif name == "unpriced":
                line["unpriced"] = True
            else:
                line[name] += _dec(value)
        line["invoice_line"] |= bool(r["comparable"])
    for r in estimates:
        line = acc[tuple(r[k] for k in KEY)]
        for name in ("est_cost", "est_tokens", "est_unpriced_tokens"):
            line[name] += _dec(r[name])
        line["unpriced"] |= _dec(r["est_unpriced_tokens"]) > 0
    rows = [{**dict(zip(KEY, k, strict=True)), **v, "quantity_source": ",".join(sorted(v["quantity_source"]))}
            for k, v in acc.items()]  # fmt: skip
    return pd.DataFrame(rows, columns=[*KEY, *LINE_FIELDS, "invoice_line", "unpriced", "quantity_source"])
