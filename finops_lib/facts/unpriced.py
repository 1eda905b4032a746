"""Models and token buckets with tokens but no catalog price (never counted as $0)."""

from __future__ import annotations

import pandas as pd
from ibis.backends import BaseBackend


def unpriced_models(con: BaseBackend, *, catalog: object = None) -> pd.DataFrame:
    """Models and token buckets that have tokens but no price in the catalog, with their token counts.

    Usage-feed rows of ``costs`` and gateway/trace ``requests`` are priced with the catalog
    (:func:`finops_lib.pricing.price_costs`, :func:`finops_lib.pricing.estimate_requests`); whatever stays
    without a price is listed here. Such tokens are left out of every money total, never counted as $0.

    Parameters
    ----------
    con
        The warehouse.
    catalog
        A :class:`finops_lib.pricing.Catalog`; default the shipped catalog.

    Returns
    -------
    pandas.DataFrame
        ``table, provider, model, bucket, tier, tokens, rows, first_day, last_day``; empty when every
        token has a price.
    """
    from finops_lib import fx
    from finops_lib import pricing as prices

    catalog = catalog or prices.load_catalog()
    rates = fx.load_rates()  # catalog prices in USD, rows billed in EUR: prices converted at the day's rate
    frames = [
        prices.unpriced_summary(prices.price_costs(con.table("costs"), catalog, rates=rates)).to_pandas()
        .assign(table="costs"),
        prices.unpriced_summary(prices.estimate_requests(con.table("requests"), catalog, rates=rates)).to_pandas()
        .assign(table="requests"),
    ]
    out = pd.concat(frames, ignore_index=True).rename(columns={
        "ProviderName": "provider", "x_Model": "model", "x_TokenType": "bucket", "x_ServiceTier": "tier"})
    out["tokens"] = out["tokens"].astype(float)
    return out[["table", "provider", "model", "bucket", "tier", "tokens", "rows", "first_day", "last_day"]]
