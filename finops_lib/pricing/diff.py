"""What pricing left out, and what another catalog would change: unpriced listing and re-pricing diff."""

from __future__ import annotations

import ibis
import pandas as pd

from finops_lib.pricing import book
from finops_lib.pricing.estimate import BUCKET_COST_COLUMNS, MONEY, UNPRICED, estimate_requests, price_costs
from finops_lib.schema import REQUEST_TOKEN_COLUMNS

_GROUP = ["ProviderName", "x_Model", "x_TokenType", "x_ServiceTier", "x_ContextTier"]


def _request_unpriced(t: ibis.Table) -> ibis.Table:
    parts = []
    for bucket, cost in BUCKET_COST_COLUMNS.items():
        tokens = t[REQUEST_TOKEN_COLUMNS[bucket]]
        part = t.filter((tokens > 0) & t[cost].isnull())
        parts.append(part.select(
            "ProviderName", "x_Model", x_TokenType=ibis.literal(bucket), x_ServiceTier=part.x_ServiceTier,
            x_ContextTier=part.x_ContextTier, tokens=part[REQUEST_TOKEN_COLUMNS[bucket]].cast(MONEY),
            day=part.ChargePeriodStart.date()))  # fmt: skip
    return ibis.union(*parts)


def _cost_unpriced(t: ibis.Table) -> ibis.Table:
    # A bucket without tokens costs nothing whatever its price (the Usage API's embeddings rows carry an
    # output bucket of 0 tokens that holds the request count): it is not an unpriced model.
    flagged = t.filter(t.x_DataQualityFlags.fill_null("").split(",").contains(UNPRICED)
                       & (t.ConsumedQuantity.fill_null(1) != 0))
    return flagged.select(*_GROUP, tokens=flagged.ConsumedQuantity.cast(MONEY), day=flagged.ChargePeriodStart.date())


def unpriced_summary(table: ibis.Table) -> ibis.Table:
    """List the models and buckets that have tokens but no price, with their token counts.

    Parameters
    ----------
    table
        Requests after :func:`~finops_lib.pricing.estimate.estimate_requests` (with its detail columns), or a
        ``costs`` table (rows flagged ``unpriced``, e.g. after
        :func:`~finops_lib.pricing.estimate.price_costs`).

    Returns
    -------
    ibis.Table
        ``ProviderName, x_Model, x_TokenType, x_ServiceTier, x_ContextTier, tokens, rows, first_day, last_day``,
        largest token counts first. Empty when everything is priced.
    """
    is_requests = all(c in table.columns for c in BUCKET_COST_COLUMNS.values())
    rows = _request_unpriced(table) if is_requests else _cost_unpriced(table)
    out = rows.group_by(_GROUP).agg(tokens=rows.tokens.sum(), rows=rows.count(), first_day=rows.day.min(),
                                    last_day=rows.day.max())  # fmt: skip
    return out.order_by([ibis.desc("tokens"), "ProviderName", "x_Model", "x_TokenType"])


def _priced(table: ibis.Table, catalog: book.Catalog, rates: pd.DataFrame | None, key: str) -> ibis.Table:
    if "x_RequestId" in table.columns:
        e = estimate_requests(table, catalog, rates=rates, detail=False)
        return e.select(key, "ChargePeriodStart", "ProviderName", "x_Model", "BillingCurrency", cost=e.x_EstimatedCost)
    p = price_costs(table, catalog, rates=rates)
    p = p.filter(p.x_CostBasis == "estimated")
    return p.select(key, "ChargePeriodStart", "ProviderName", "x_Model", "BillingCurrency", cost=p.BilledCost)


def reprice(
    table: ibis.Table,
    old: book.Catalog,
    new: book.Catalog,
    *,
    rates: pd.DataFrame | None = None,
    key: str = "x_RowHash",
) -> ibis.Table:
    """Price ``table`` with two catalogs and report which days, models and amounts change.

    A pure function: nothing is written; the table is not changed.

    Parameters
    ----------
    table
        A ``requests`` table (priced with :func:`~finops_lib.pricing.estimate.estimate_requests`) or a
        ``costs`` table (its estimated rows priced with :func:`~finops_lib.pricing.estimate.price_costs`).
    old, new
        The catalogs to compare.
    rates
        FX rates, when catalog and billing currencies differ.
    key
        Column identifying a row (unique), default ``x_RowHash``.

    Returns
    -------
    ibis.Table
        One row per ``day, ProviderName, x_Model, BillingCurrency`` with a change: ``rows_changed``,
        ``old_cost``, ``new_cost``, ``delta`` (over rows priced by both), ``newly_priced``,
        ``newly_unpriced``. Empty when the catalogs agree on every row.
    """
    a = _priced(table, old, rates, key)
    b = _priced(table, new, rates, key).select(key, new_cost="cost")
    j = a.join(b, key)
    changed = (j.cost != j.new_cost) | (j.cost.isnull() != j.new_cost.isnull())
    d = j.filter(changed).mutate(day=j.ChargePeriodStart.date())
    both = d.cost.notnull() & d.new_cost.notnull()
    out = d.group_by(["day", "ProviderName", "x_Model", "BillingCurrency"]).agg(
        rows_changed=d.count(), old_cost=d.cost.sum(), new_cost=d.new_cost.sum(),
        delta=ibis.ifelse(both, d.new_cost - d.cost, ibis.null(MONEY)).sum(),
        newly_priced=(d.cost.isnull() & d.new_cost.notnull()).sum(),
        newly_unpriced=(d.cost.notnull() & d.new_cost.isnull()).sum())  # fmt: skip
    return out.order_by(["day", "ProviderName", "x_Model"])
