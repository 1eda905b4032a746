"""Unit economics: what a token, a request and an active user cost, by owner, model and period.

Money comes from :func:`finops_lib.allocation.allocate` on the money rows (invoiced first, so nothing is
counted twice) and tokens from the same allocation on the token rows, so the gateway's shared project is
split by its request log for both. Money totals stay :class:`~decimal.Decimal`; ratios and savings are
floats.

Savings are measured against prices **observed in the data**: the unit price of a bucket is its cost over its
tokens, per period, provider, model and tier, over every owner. ``cache_savings`` is what the cached tokens
(reads and writes) would have cost as uncached input minus what they cost; ``batch_savings`` is what batch
tokens would have cost at the standard tier minus what they cost. A saving is left out (not guessed) where
the reference price cannot be observed (no standard-tier or uncached usage of that model in the period, or
a feed that splits cost and tokens differently).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import pandas as pd

from finops_lib.allocation.allocator import allocate
from finops_lib.errors import ParameterError
from finops_lib.facts import Facts
from finops_lib.fx import dsum
from finops_lib.rules.model import OWNER_FIELDS, Rules

__all__ = ["BY", "INPUT_BUCKETS", "unit_economics"]

#: Dimensions unit economics can be grouped by.
BY: tuple[str, ...] = (*OWNER_FIELDS, "provider", "model", "service_tier")
INPUT_BUCKETS: tuple[str, ...] = ("input_uncached", "input_cache_read", "input_cache_write_5m", "input_cache_write_1h")
CACHE_BUCKETS: tuple[str, ...] = ("input_cache_read", "input_cache_write_5m", "input_cache_write_1h")
_CELL = ["provider", "model", "service_tier", "token_type"]
_ZERO = Decimal(0)




def _ratio(num: pd.Series, den: pd.Series, scale: float = 1.0) -> pd.Series:
    num, den = num.astype(float), den.astype(float)
    return (num * scale / den.where(den != 0)).astype(float)


def _cells(money: pd.DataFrame, tokens: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Join cost and tokens at ``keys`` x provider, model, tier and bucket (floats), nulls as ''."""
    grain = [*keys, *(c for c in _CELL if c not in keys)]
    m = money.assign(**{k: money[k].fillna("") for k in _CELL}).groupby(grain, dropna=False)["cost"].agg(dsum)
    t = tokens.assign(**{k: tokens[k].fillna("") for k in _CELL}).groupby(grain, dropna=False)[["tokens", "requests"]]
    t = t.agg(dsum)
    out = pd.concat([m.astype(float), t.astype(float)], axis=1).fillna(0.0).reset_index()
    return out


def _prices(cells: pd.DataFrame) -> pd.DataFrame:
    """Observed unit price per period, provider, model, tier and bucket, over every owner."""
    grain = ["period", *_CELL]
    p = cells.groupby(grain, as_index=False)[["cost", "tokens"]].sum()
    p = p[(p["cost"] > 0) & (p["tokens"] > 0)]
    return p.assign(price=p["cost"] / p["tokens"])[[*grain, "price"]]


def _savings(cells: pd.DataFrame, prices: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Cache and batch savings per group (floats; NaN where no reference price is observed)."""
    billed = cells[(cells["cost"] > 0) & (cells["tokens"] > 0)]
    uncached = prices[prices["token_type"] == "input_uncached"].drop(columns="token_type")
    cache = billed[billed["token_type"].isin(CACHE_BUCKETS)].merge(
        uncached.rename(columns={"price": "ref"}), on=["period", "provider", "model", "service_tier"], how="inner")
    standard = prices[prices["service_tier"] == "standard"].drop(columns="service_tier")
    batch = billed[billed["service_tier"] == "batch"].merge(
        standard.rename(columns={"price": "ref"}), on=["period", "provider", "model", "token_type"], how="inner")
    out = []
    for name, part in (("cache_savings", cache), ("batch_savings", batch)):
        part = part.assign(saving=part["tokens"] * part["ref"] - part["cost"])
        out.append(part.groupby(keys)["saving"].sum().rename(name))
    return pd.concat(out, axis=1).reset_index() if any(len(s) for s in out) else pd.DataFrame(columns=[*keys])


def _money(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    token = frame["token_type"].notna() & (frame["token_type"] != "non_token")
    parts = {
        "cost": frame,
        "token_cost": frame[token],
        "input_cost": frame[frame["token_type"].isin(INPUT_BUCKETS)],
        "output_cost": frame[frame["token_type"] == "output"],
        "batch_cost": frame[token & (frame["service_tier"] == "batch")],
    }
    cols = {name: part.groupby(keys)["cost"].agg(dsum).rename(name) for name, part in parts.items()}
    cols["list_cost"] = frame.groupby(keys)["list_cost"].agg(dsum)
    cols["effective_cost"] = frame.groupby(keys)["effective_cost"].agg(dsum)
    out = pd.concat(cols.values(), axis=1)
    return out.map(lambda v: _ZERO if v is None or v != v else v).reset_index()


def _tokens(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    buckets = {"tokens": frame["token_type"].notna(), "input_tokens": frame["token_type"].isin(INPUT_BUCKETS),
               "output_tokens": frame["token_type"] == "output",
               "cache_read_tokens": frame["token_type"] == "input_cache_read",
               "cache_write_tokens": frame["token_type"].isin(CACHE_BUCKETS[1:])}  # fmt: skip
    cols = [frame[mask].groupby(keys)["tokens"].agg(dsum).astype(float).rename(name) for name, mask in buckets.items()]
    return pd.concat(cols, axis=1).fillna(0.0).reset_index()


def _per_request(cells: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Return requests and the token cost of the provider cells that report request counts."""
    cells = cells[~cells["token_type"].isin(["", "non_token"])]
    per = cells.groupby(list(dict.fromkeys([*keys, "provider"])), as_index=False)[["cost", "requests"]].sum()
    per["cost"] = per["cost"].where(per["requests"] > 0, 0.0)
    return per.groupby(keys, as_index=False)[["cost", "requests"]].sum().rename(columns={"cost": "_request_cost"})


def _metric(out: pd.DataFrame, rules: Rules, metric: str | pd.DataFrame, by: list[str], period: str) -> pd.DataFrame:
    frame = rules.metrics[metric].frame if isinstance(metric, str) else metric
    if by != ["team"] or period != "month":
        raise ParameterError("a business metric needs by=('team',) and period='month'")
    units = frame.rename(columns={"month": "period", "value": "metric_value"})[["period", "team", "metric_value"]]
    out = out.merge(units, on=["period", "team"], how="left")
    out["cost_per_metric"] = _ratio(out["cost"].map(float), out["metric_value"])
    return out


def unit_economics(facts: Facts, *, by: Sequence[str] = ("team",), period: str = "month",
                   metric: str | pd.DataFrame | None = None) -> pd.DataFrame:  # fmt: skip
    """Return unit economics per period and group, in the facts' currency.

    Parameters
    ----------
    facts
        The facts (window, currency, rules), as :func:`finops_lib.allocation.allocate`.
    by
        Grouping dimensions, any of :data:`BY` (``("team",)``, ``("model",)``, ``("team", "model")``...).
    period
        ``month``, ``week`` or ``day``.
    metric
        A business metric: the name of one declared in the rules (``active_users``) or a frame ``month,
        team, value``; adds ``metric_value`` and ``cost_per_metric`` (needs ``by=("team",)``, monthly).

    Returns
    -------
    pandas.DataFrame
        ``period``, the ``by`` columns, ``currency``; Decimal ``cost`` (all allocated cost, shared parts
        included), ``token_cost``, ``list_cost``, ``effective_cost``; float ``tokens``, ``input_tokens``,
        ``output_tokens``, ``cache_read_tokens``, ``cache_write_tokens``, ``requests``; and the KPIs
        ``cost_per_1m_tokens`` (blended), ``cost_per_1m_input``, ``cost_per_1m_output``, ``cost_per_request``
        (over providers that report request counts), ``cache_hit_rate`` (cache reads over input tokens),
        ``cache_savings``, ``batch_share`` (batch over token cost), ``batch_savings``, ``output_input_ratio``
        and ``effective_to_list`` (effective over list cost). Ratios are NaN where undefined.

    Raises
    ------
    ParameterError
        On an unknown ``by`` dimension or a metric used with other groupings.
    """
    keys = ["period", *by]
    unknown = [b for b in by if b not in BY]
    if unknown or not by:
        raise ParameterError(f"by must name dimensions among {', '.join(BY)}; got {list(by)!r}")
    currency = facts.currency
    money = allocate(facts, measure="cost", period=period).frame  # type: ignore[arg-type]
    tokens = allocate(facts, measure="tokens", period=period).frame  # type: ignore[arg-type]
    columns = [*keys, "currency", "cost", "token_cost", "list_cost", "effective_cost", "tokens", "input_tokens",
               "output_tokens", "cache_read_tokens", "cache_write_tokens", "requests", "cost_per_1m_tokens",
               "cost_per_1m_input", "cost_per_1m_output", "cost_per_request", "cache_hit_rate", "cache_savings",
               "batch_share", "batch_savings", "output_input_ratio", "effective_to_list"]  # fmt: skip
    if money.empty:
        return pd.DataFrame(columns=columns)
    fill = {b: "(none)" for b in by}
    money, tokens = money.fillna(fill), tokens.fillna(fill)
    out = _money(money, keys).merge(_tokens(tokens, keys), on=keys, how="outer")
    cells = _cells(money, tokens, keys)
    out = out.merge(_savings(cells, _prices(cells), keys), on=keys, how="left")
    out = out.merge(_per_request(cells, keys), on=keys, how="left")
    for col in ("cost", "token_cost", "input_cost", "output_cost", "batch_cost", "list_cost", "effective_cost"):
        out[col] = out[col].map(lambda v: _ZERO if v is None or v != v else v)
    out["currency"] = currency
    out["cost_per_1m_tokens"] = _ratio(out["token_cost"].map(float), out["tokens"], 1e6)
    out["cost_per_1m_input"] = _ratio(out["input_cost"].map(float), out["input_tokens"], 1e6)
    out["cost_per_1m_output"] = _ratio(out["output_cost"].map(float), out["output_tokens"], 1e6)
    out["cost_per_request"] = _ratio(out["_request_cost"].fillna(0.0), out["requests"])
    out["cache_hit_rate"] = _ratio(out["cache_read_tokens"], out["input_tokens"])
    out["batch_share"] = _ratio(out["batch_cost"].map(float), out["token_cost"].map(float))
    out["output_input_ratio"] = _ratio(out["output_tokens"], out["input_tokens"])
    out["effective_to_list"] = _ratio(out["effective_cost"].map(float), out["list_cost"].map(float))
    for col in ("cache_savings", "batch_savings"):
        out[col] = out[col].astype(float) if col in out.columns else np.nan
    if metric is not None:
        out = _metric(out, facts.rules, metric, list(by), period)
    columns += [c for c in ("metric_value", "cost_per_metric") if c in out.columns]
    return out[columns].sort_values(keys).reset_index(drop=True)
