"""What an experiment's variants would cost in production, and which ones are worth their cost.

:func:`project` re-prices every logged request of each variant at the catalog prices effective on a chosen
date, with a chosen cache hit rate and batch share, and scales the mean cost per request to a production volume:
monthly cost with a 95% bootstrap interval (the uncertainty of the mean cost per request; the volume is taken as
given). :func:`frontier` marks the variants that no other variant beats on both cost and quality.

Prices come from :mod:`finops_lib.pricing` (exact Decimal per 1M tokens); the per-request arithmetic is float
(relative error below 1e-12 on the sample's magnitudes). A bucket with tokens and no catalog price makes the
variant's projection NaN with the bucket named in ``unpriced``: never a $0 projection.
"""

from __future__ import annotations

import datetime as dt

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from finops_lib.errors import ParameterError
from finops_lib.pricing import load_catalog
from finops_lib.schema import REQUEST_TOKEN_COLUMNS

__all__ = ["frontier", "project"]

_INPUT = ("input_uncached", "input_cache_read", "input_cache_write_5m", "input_cache_write_1h")


def _rows(requests: ir.Table | pd.DataFrame, experiment: str) -> pd.DataFrame:
    import ibis

    t = ibis.memtable(requests) if isinstance(requests, pd.DataFrame) else requests
    t = t.filter((t.x_ExperimentId == experiment) & t.x_Variant.notnull())
    cols = ["x_Variant", "ProviderName", "x_Model", "x_Status", "x_QualityScore", *REQUEST_TOKEN_COLUMNS.values()]
    df = t.select(*cols).to_pandas()
    if df.empty:
        raise ParameterError(f"experiment {experiment!r} has no requests")
    return df.rename(columns={c: b for b, c in REQUEST_TOKEN_COLUMNS.items()})


def _resplit(df: pd.DataFrame, cache_hit_rate: float | None) -> pd.DataFrame:
    """Move input tokens between uncached and cache read so that reads are ``cache_hit_rate`` of the input."""
    if cache_hit_rate is None:
        return df
    if not 0 <= cache_hit_rate <= 1:
        raise ParameterError(f"cache_hit_rate must be between 0 and 1, not {cache_hit_rate}")
    out = df.copy()
    total = out[list(_INPUT)].sum(axis=1).astype(float)
    writes = out[["input_cache_write_5m", "input_cache_write_1h"]].sum(axis=1).astype(float)
    read = np.minimum(total * cache_hit_rate, total - writes)
    out["input_cache_read"] = read
    out["input_uncached"] = total - writes - read
    return out


def _prices(catalog, provider: str, model: str, day: dt.date, tier: str) -> dict[str, float | None]:
    out = {}
    for bucket in REQUEST_TOKEN_COLUMNS:
        price = catalog.price(provider, model, bucket, day, service_tier=tier)
        out[bucket] = None if price is None else float(price) / 1e6
    return out


def _variant(df: pd.DataFrame, catalog, day: dt.date, batch_share: float) -> tuple[np.ndarray, list[str], str]:
    provider, model = df["ProviderName"].mode().iloc[0], df["x_Model"].mode().iloc[0]
    std, batch = _prices(catalog, provider, model, day, "standard"), _prices(catalog, provider, model, day, "batch")
    cost, unpriced = np.zeros(len(df)), []
    for bucket in REQUEST_TOKEN_COLUMNS:
        tokens = df[bucket].to_numpy(float)
        if not tokens.any():
            continue
        parts = [(1 - batch_share, std[bucket], "standard"), (batch_share, batch[bucket], "batch")]
        for weight, price, tier in parts:
            if weight == 0:
                continue
            if price is None:
                unpriced.append(f"{bucket} ({tier})")
                continue
            cost += weight * tokens * price
    return cost, unpriced, f"{provider} {model}"


def project(requests: ir.Table | pd.DataFrame, experiment: str, *, requests_per_day: float,
            cache_hit_rate: float | None = None, batch_share: float = 0.0, price_date: str | dt.date | None = None,
            days: int = 30, catalog: object = None, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """Project each variant of an experiment to a production volume at the prices of a chosen date.

    Parameters
    ----------
    requests : ibis Table or DataFrame
        The ``requests`` table.
    experiment : str
        ``x_ExperimentId``.
    requests_per_day : float
        Production volume (logged requests per day, failures included as in the experiment).
    cache_hit_rate : float, optional
        Share of input tokens read from the cache; None keeps each request's own split.
    batch_share : float
        Share of requests sent at the batch tier (0 to 1).
    price_date : date or ISO string, optional
        Day whose catalog prices apply (default: today, UTC).
    days : int
        Days in the projected month.
    catalog : Catalog, optional
        Price catalog (default: the shipped one).
    n_boot, seed
        Bootstrap resamples of the requests, and the seed.

    Returns
    -------
    DataFrame
        Per variant: ``variant``, ``model``, ``requests``, ``cost_per_request``, ``monthly_cost``,
        ``monthly_low``, ``monthly_high`` (95% interval), ``quality_mean``, ``cost_per_quality_point``
        (monthly cost over mean quality), ``unpriced`` (buckets without a price; then the costs are NaN),
        ``currency``, ``price_date``, ``requests_per_day``, ``cache_hit_rate``, ``batch_share``.
    """
    if requests_per_day < 0 or not 0 <= batch_share <= 1 or days <= 0:
        raise ParameterError("requests_per_day >= 0, 0 <= batch_share <= 1 and days > 0 are required")
    catalog = catalog or load_catalog()
    day = dt.date.fromisoformat(str(price_date)) if price_date else dt.datetime.now(dt.UTC).date()
    df = _resplit(_rows(requests, experiment), cache_hit_rate)
    rng, rows = np.random.default_rng(seed), []
    for variant, g in df.groupby("x_Variant", sort=True):
        cost, unpriced, model = _variant(g, catalog, day, batch_share)
        scale = requests_per_day * days
        boot = cost[rng.integers(0, cost.size, size=(n_boot, cost.size))].mean(axis=1) * scale
        bad = bool(unpriced)
        monthly = np.nan if bad else float(cost.mean()) * scale
        quality = float(g["x_QualityScore"].mean()) if g["x_QualityScore"].notna().any() else np.nan
        rows.append({"variant": variant, "model": model, "requests": len(g),
                     "cost_per_request": np.nan if bad else float(cost.mean()), "monthly_cost": monthly,
                     "monthly_low": np.nan if bad else float(np.percentile(boot, 2.5)),
                     "monthly_high": np.nan if bad else float(np.percentile(boot, 97.5)),
                     "quality_mean": quality, "cost_per_quality_point": monthly / quality if quality else np.nan,
                     "unpriced": ", ".join(unpriced)})  # fmt: skip
    out = pd.DataFrame(rows)
    currency = str(catalog.prices["currency"].mode().iloc[0]) if len(catalog.prices) else "USD"
    return out.assign(currency=currency, price_date=day, requests_per_day=requests_per_day,
                      cache_hit_rate=cache_hit_rate, batch_share=batch_share)  # fmt: skip


def frontier(table: pd.DataFrame, *, cost: str = "monthly_cost", quality: str = "quality_mean") -> pd.DataFrame:
    """Mark the variants on the cost-quality frontier: no other variant is cheaper and at least as good.

    Parameters
    ----------
    table : DataFrame
        One row per variant with ``cost`` and ``quality`` columns (NaN rows are never on the frontier).
    cost, quality : str
        Column names.

    Returns
    -------
    DataFrame
        A copy with ``on_frontier`` (bool), sorted by cost.

    Examples
    --------
    >>> t = pd.DataFrame({"variant": list("abc"), "monthly_cost": [1.0, 2.0, 3.0], "quality_mean": [0.5, 0.8, 0.7]})
    >>> frontier(t)["on_frontier"].tolist()
    [True, True, False]
    """
    out = table.sort_values(cost).reset_index(drop=True)
    c, q = out[cost].to_numpy(float), out[quality].to_numpy(float)
    ok = ~(np.isnan(c) | np.isnan(q))
    dominated = [any(ok[j] and c[j] <= c[i] and q[j] >= q[i] and (c[j] < c[i] or q[j] > q[i])
                     for j in range(len(out))) for i in range(len(out))]  # fmt: skip
    out["on_frontier"] = ok & ~np.array(dominated, dtype=bool)
    return out
