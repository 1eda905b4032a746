"""Models and token buckets with tokens but no catalog price: flagged, left out of money, never shown as $0."""

from __future__ import annotations

from typing import Any

import pandas as pd

from finops_lib import pricing

__all__ = ["unpriced_models"]


def unpriced_models(facts: Any, *, catalog: pricing.Catalog | None = None) -> pd.DataFrame:
    """Return the models and token buckets of the facts' window that have tokens but no price in the catalog.

    Usage-feed rows and request logs are priced with the catalog (:func:`finops_lib.pricing.price_costs`,
    :func:`finops_lib.pricing.estimate_requests`; catalog prices are converted to the facts' currency at each
    day's rate); whatever stays without a price is listed, with its tokens. Such tokens are in no money total.

    Parameters
    ----------
    facts
        The :class:`finops_lib.facts.Facts`.
    catalog
        A :class:`finops_lib.pricing.Catalog`; default the shipped catalog.

    Returns
    -------
    pandas.DataFrame
        ``table, provider, model, bucket, tier, tokens, rows, first_day, last_day``; empty when every token has a
        price.
    """
    catalog = catalog or pricing.load_catalog()
    frames = [pricing.unpriced_summary(pricing.price_costs(facts.cost_rows(), catalog, rates=facts.rates))
              .to_pandas().assign(table="costs")]  # fmt: skip
    if facts.has_requests:
        priced = pricing.estimate_requests(facts.request_rows(), catalog, rates=facts.rates)
        frames.append(pricing.unpriced_summary(priced).to_pandas().assign(table="requests"))
    out = pd.concat(frames, ignore_index=True).rename(columns={
        "ProviderName": "provider", "x_Model": "model", "x_TokenType": "bucket", "x_ServiceTier": "tier"})
    out["tokens"] = out["tokens"].astype(float)
    return out[["table", "provider", "model", "bucket", "tier", "tokens", "rows", "first_day", "last_day"]]
