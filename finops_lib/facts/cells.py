"""Cell facts: one row per day (or hour) x provider x account x owner x model x key x token bucket x tiers.

What anomaly detection, its explanations and the before/after view on usage feeds read. Each provider's richest
data is used once, never twice, and the money adds up to the facts' ``charges`` (:meth:`Facts.total`) exactly:

* **money** comes from the facts' money rows (invoiced first per provider and day), already in the facts' currency,
  credits left out: a promotional credit or refund is a one-off, not a change in usage, and would read as a drop
  (the facts' ``credits`` measure has them; the facts' cost is the cells' money plus the credits);
* **tokens** and **request counts** come from the token rows (usage feeds first), joined to the money cells on
  day, provider, account, owner, model, bucket and tiers (feeds that carry tokens and money on one row, such as
  AWS CUR, Azure or GCP, join to themselves). A cell's API key is the token feed's key with most tokens (invoices
  seldom carry one); ``(unknown)`` otherwise;
* **gateway traffic**: the rows of shared pools that the allocation rules split by gateway requests (``source:
  requests``, such as the LiteLLM project and workspace) are described by the gateway log instead, which names the
  team, application and key of every request and counts failures. Each (day, provider)'s invoiced pool money is
  split over that day's gateway cells by their logged cost, exactly (remainder on the largest part), so the
  money stays the invoice's. A pool day without gateway traffic keeps its invoice rows (owner ``(unknown)``);
  gateway cells on a day without pool money carry tokens and requests but no cost.

Hourly cells come from the gateway log, at its logged cost, and from usage feeds delivered in hourly buckets (the
OpenAI and Anthropic usage APIs pulled live), priced at the catalog: invoices are daily.
Rows without a cost (unpriced tokens) keep ``cost`` missing: they count in token series, never as $0.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from finops_lib import pricing
from finops_lib.decompose import round_fraction
from finops_lib.facts.layer import Facts
from finops_lib.facts.requests import cells_from_requests

__all__ = ["FACT_COLUMNS", "UNKNOWN", "build_cells", "gateway_pools"]

Grain = Literal["day", "hour"]
UNKNOWN = "(unknown)"
#: Columns of a cell frame.
FACT_COLUMNS: list[str] = ["day", "provider", "sub_account", "team", "application", "model", "api_key", "bucket",
                           "service_tier", "context_tier", "cost", "tokens", "requests", "failures", "source",
                           "partial"]  # fmt: skip
_KEYS = ["day", "provider", "sub_account", "team", "application", "model", "bucket", "service_tier", "context_tier"]
_COLUMNS = {"provider": "ProviderName", "sub_account": "SubAccountId", "team": "x_Team",
            "application": "x_Application", "model": "x_Model", "bucket": "x_TokenType",
            "service_tier": "x_ServiceTier", "context_tier": "x_ContextTier", "api_key": "x_ApiKeyId"}  # fmt: skip
_GATEWAY_KEYS = ["day", "provider", "sub_account", "team", "application", "model", "api_key", "service_tier",
                 "context_tier"]  # fmt: skip


def gateway_pools(facts: Facts) -> list[int]:
    """Return the indexes of the shared pools that the rules split by the gateway's requests."""
    return [i for i, s in enumerate(facts.rules.shared) if s.options.get("source") == "requests"]


def _partial(t: ir.Table) -> ir.BooleanValue:
    if "x_DataQualityFlags" not in t.columns:
        return ibis.literal(False).max()
    return t.x_DataQualityFlags.fill_null("").contains("partial_bucket").max()


def _cells(rows: ir.Table, pools: list[int], values: dict[str, Callable[[ir.Table], ir.Value]], *,
           with_key: bool, grain: Grain = "day") -> pd.DataFrame:  # fmt: skip
    cols = {k: (rows[c].cast("string") if c in rows.columns else ibis.null("string"))
            for k, c in _COLUMNS.items() if with_key or k != "api_key"}  # fmt: skip
    cols["context_tier"] = cols["context_tier"].fill_null("standard")
    cols = {k: v.fill_null(UNKNOWN) for k, v in cols.items()}  # in the engine: a million cells are not looped over
    in_pool = rows.x_AllocationPool.isin(pools).fill_null(False) if pools else ibis.literal(False)
    start = rows.ChargePeriodStart
    period = start.truncate("h").cast("timestamp") if grain == "hour" else start.date()
    grouped = rows.mutate(day=period, _gateway=in_pool, **cols)
    keys = [*_KEYS, "_gateway", *(["api_key"] if with_key else [])]
    out = grouped.group_by(keys).aggregate(**{k: v(grouped) for k, v in values.items()}).to_pandas()
    for column in keys:  # as before the engine filled the nulls: pandas cannot merge empty Arrow-typed keys
        if column not in ("day", "_gateway"):
            out[column] = out[column].astype(object).where(out[column].notna(), UNKNOWN).astype(str)
    out["day"] = pd.to_datetime(out["day"])
    return out


def _billing_cells(facts: Facts, pools: list[int], gateway_days: pd.DataFrame) -> pd.DataFrame:
    rows = facts.money_rows()
    rows = rows.filter((rows.ChargeCategory != "Credit").fill_null(True))
    money = _cells(rows, pools, {"cost": lambda t: t.BilledCost.sum(), "partial_m": _partial},
                   with_key=False)  # fmt: skip
    tokens = _cells(facts.token_rows(), pools, {
        "tokens": lambda t: t.ConsumedQuantity.sum().cast("int64"),
        "requests": lambda t: t.x_RequestCount.sum() if "x_RequestCount" in t.columns else ibis.null("int64"),
        "partial_t": _partial,
    }, with_key=True)  # fmt: skip
    money, tokens = _drop_described(money, gateway_days), _drop_described(tokens, gateway_days)
    # One key per cell: the key with most tokens names it (invoices rarely split money by key).
    tokens = tokens.sort_values("tokens", ascending=False, kind="stable")
    keyed = tokens.groupby(_KEYS, as_index=False).agg(
        api_key=("api_key", "first"), tokens=("tokens", "sum"),
        requests=("requests", lambda s: s.sum(min_count=1)), partial_t=("partial_t", "max"))  # fmt: skip
    out = _join(money.drop(columns="_gateway"), keyed)
    out["partial"] = out.pop("partial_m").fillna(False).astype(bool) | out.pop("partial_t").fillna(False).astype(bool)
    out["api_key"] = out["api_key"].fillna(UNKNOWN)
    out["failures"] = pd.NA
    return out.assign(source="billing")


def _drop_described(cells: pd.DataFrame, gateway_days: pd.DataFrame) -> pd.DataFrame:
    """Drop the gateway pools' cells on the days the gateway log describes (it stands in for them)."""
    if not cells["_gateway"].any():
        return cells
    seen = cells[["day", "provider"]].merge(gateway_days, on=["day", "provider"], how="left", indicator=True)
    described = cells["_gateway"].to_numpy() & (seen["_merge"] == "both").to_numpy()
    return cells[~described].reset_index(drop=True)


def _join(money: pd.DataFrame, tokens: pd.DataFrame) -> pd.DataFrame:
    """Join money and token cells: exactly first, then ignoring the tiers.

    Feeds label tiers differently: the OpenAI costs API bills batch usage as a line item while the usage API
    has a batch service tier.
    """
    exact = money.merge(tokens, on=_KEYS, how="outer", indicator=True)
    matched = exact[exact["_merge"] == "both"].drop(columns="_merge")
    reduced = [k for k in _KEYS if k not in ("service_tier", "context_tier")]
    first = {"service_tier": ("service_tier", "first"), "context_tier": ("context_tier", "first")}
    left = (exact[exact["_merge"] == "left_only"].groupby(reduced, as_index=False)
            .agg(cost=("cost", lambda s: sum(s, Decimal(0))), partial_m=("partial_m", "max"), **first))  # fmt: skip
    right = (exact[exact["_merge"] == "right_only"].groupby(reduced, as_index=False)
             .agg(api_key=("api_key", "first"), tokens=("tokens", "sum"),
                  requests=("requests", lambda s: s.sum(min_count=1)), partial_t=("partial_t", "max"),
                  **{f"{k}_t": v for k, v in first.items()}))  # fmt: skip
    if left.empty or right.empty:  # an outer merge of empty frames fails on Arrow-typed keys: nothing to pair
        loose = pd.concat([frame for frame in (left, right) if not frame.empty] or [left.iloc[:0]],
                          ignore_index=True).reindex(columns=list(dict.fromkeys([*left.columns, *right.columns])))
    else:
        loose = left.merge(right, on=reduced, how="outer")
    for tier in ("service_tier", "context_tier"):
        loose[tier] = loose[tier].fillna(loose.pop(f"{tier}_t"))
    return pd.concat([matched, loose], ignore_index=True)


def _gateway_table(facts: Facts) -> ir.Table | None:
    if not facts.has_requests or not gateway_pools(facts):
        return None
    t = facts.request_rows()
    if t.count().to_pyarrow().as_py() == 0:
        return None
    owners = {k: t[c].cast("string").fill_null(UNKNOWN) for k, c in _COLUMNS.items()
              if k not in ("bucket", "sub_account") and c in t.columns}  # fmt: skip
    return t.mutate(**owners)


def _gateway_cells(table: ir.Table, *, grain: Grain) -> pd.DataFrame:
    t = table.mutate(
        day=table.ChargePeriodStart.truncate("h" if grain == "hour" else "D").cast("timestamp"),
        sub_account=table.SubAccountId.cast("string").fill_null(UNKNOWN),
    )
    span = t.aggregate(lo=t.ChargePeriodStart.min(), hi=t.ChargePeriodStart.max()).to_pandas().iloc[0]
    cells = cells_from_requests(t, start=span.lo.to_pydatetime(), end=span.hi.to_pydatetime() + pd.Timedelta(seconds=1),
                                keys=_GATEWAY_KEYS)  # fmt: skip
    failed = t.filter(t.x_Status == "failure")
    fails = failed.group_by(_GATEWAY_KEYS).aggregate(failures=failed.count()).to_pandas()
    out = cells.drop(columns=["unpriced_requests"]).merge(fails, on=_GATEWAY_KEYS, how="left")
    out["failures"] = out["failures"].fillna(0).astype("int64")
    # Request counts sit on one row per cell (as x_RequestCount does in usage feeds), so sums stay right.
    first = ~out.duplicated(_GATEWAY_KEYS)
    out["requests"] = out["requests"].where(first, 0)
    out["failures"] = out["failures"].where(first, 0)
    out["day"] = _naive(out["day"])
    return out.assign(source="gateway", partial=False)


def _pool_money(facts: Facts, pools: list[int]) -> pd.DataFrame:
    rows = facts.money_rows()
    rows = rows.filter(rows.x_AllocationPool.isin(pools))
    out = (rows.group_by(day=rows.ChargePeriodStart.date(), provider=rows.ProviderName)
           .aggregate(money=rows.BilledCost.sum()).to_pandas())  # fmt: skip
    out["day"] = pd.to_datetime(out["day"])
    return out


def _split(cells: pd.DataFrame, money: pd.DataFrame) -> pd.DataFrame:
    """Give each (day, provider)'s pool money to its gateway cells by logged cost, exactly."""
    out = cells.merge(money, on=["day", "provider"], how="left")
    costs: list[Decimal | None] = [None] * len(out)
    for _, group in out.groupby(["day", "provider"], sort=False):
        amount = group["money"].iloc[0]
        if amount is None or (isinstance(amount, float) and pd.isna(amount)):
            continue
        logged = [Decimal(0) if v is None or pd.isna(v) else Decimal(v) for v in group["cost"]]
        weights = logged if sum(logged) > 0 else [Decimal(int(v)) for v in group["tokens"]]
        total = sum(weights)
        if not total:
            weights, total = [Decimal(1)] * len(group), Decimal(len(group))
        parts = [round_fraction(Fraction(amount) * Fraction(w) / Fraction(total)) for w in weights]
        largest = max(range(len(parts)), key=lambda i: (weights[i], -i))
        parts[largest] += Decimal(amount) - sum(parts)
        for position, part in zip(group.index, parts, strict=True):
            costs[position] = part
    return out.drop(columns="money").assign(cost=costs)


def build_cells(facts: Facts, *, grain: Grain = "day", catalog: pricing.Catalog | None = None,
                buckets: bool = True) -> pd.DataFrame:
    """Return the cell facts (see the module docstring).

    Parameters
    ----------
    facts
        The facts (:class:`finops_lib.facts.Facts`): currency, window, filters and the rules naming owners.
    grain
        ``day`` (every source) or ``hour`` (the gateway log, and usage feeds in hourly buckets priced with
        ``catalog``: see :func:`_hour_cells`).
    catalog
        Prices of hourly usage (default: the shipped catalog; a page or command passes the data folder's,
        :func:`finops_lib.pricing.catalog_for`).
    buckets
        At the hour grain, keep one cell per token bucket (``False``: one per hour, key, model and owner, bucket
        ``(all)``: a third of the cells, for a watch that judges spend, tokens and requests only).

    Returns
    -------
    pandas.DataFrame
        :data:`FACT_COLUMNS`: ``day`` (Timestamp), the owner and meter columns (text, ``(unknown)`` when missing),
        ``cost`` (Decimal in the facts' currency; missing when unpriced; at the ``hour`` grain a float: an
        estimate for detection, a million hourly cells are not summed exactly), ``tokens``, ``requests`` and
        ``failures`` (nullable integers; missing when the source does not say), ``source`` (``billing``,
        ``gateway`` or ``usage``),
        ``partial`` (a usage bucket still filling).
    """
    if grain not in ("day", "hour"):
        raise ValueError(f"grain must be day or hour, got {grain!r}")
    gateway = _gateway_table(facts)
    if grain == "hour":
        return _hour_cells(facts, gateway, pricing.load_catalog() if catalog is None else catalog, buckets=buckets)
    pools = gateway_pools(facts)
    frames = []
    days = pd.DataFrame(columns=["day", "provider"])
    if gateway is not None:
        cells = _gateway_cells(gateway, grain="day")
        days = cells[["day", "provider"]].drop_duplicates()
        frames.append(_split(cells, _pool_money(facts, pools)))
    frames.insert(0, _billing_cells(facts, pools, days))
    return _finish(pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames)
                   else _empty())  # fmt: skip


#: The bucket of hourly cells built without the bucket split.
ALL_BUCKETS = "(all)"
#: Longest period of a usage row read at the hour grain: a daily bucket would land its whole day on midnight.
HOUR_SECONDS = 3600


def _hour_cells(facts: Facts, gateway: ir.Table | None, catalog: pricing.Catalog, *, buckets: bool) -> pd.DataFrame:
    """Hourly cells: the gateway log's, and the usage feeds' hourly buckets priced at the catalog.

    Invoices are daily, so an hour's money is the priced estimate of its usage (``source`` ``usage``), the same
    estimate the reconciliation compares with the invoice; unpriced usage keeps ``cost`` missing. Usage of a
    gateway pool in an hour the gateway log describes is left to the log (as at the day grain).
    """
    frames, hours = [], pd.DataFrame(columns=["day", "provider"])
    if gateway is not None:
        cells = _gateway_cells(gateway, grain="hour")
        hours = cells[["day", "provider"]].drop_duplicates()
        frames.append(cells)
    rows = facts.token_rows()
    rows = rows.filter((rows.ChargePeriodEnd.epoch_seconds() - rows.ChargePeriodStart.epoch_seconds()) <= HOUR_SECONDS)
    if rows.count().to_pyarrow().as_py():
        priced = pricing.price_costs(rows, catalog, rates=facts.rates)
        if not buckets:
            priced = priced.mutate(x_TokenType=ibis.literal(ALL_BUCKETS))
        usage = _cells(priced, gateway_pools(facts), {
            "cost": lambda t: t.BilledCost.sum().cast("float64"),
            "tokens": lambda t: t.ConsumedQuantity.sum().cast("int64"),
            "requests": lambda t: t.x_RequestCount.sum() if "x_RequestCount" in t.columns else ibis.null("int64"),
            "partial": _partial,
        }, with_key=True, grain="hour")  # fmt: skip
        usage["day"] = _naive(usage["day"])
        usage = _drop_described(usage, hours).drop(columns="_gateway")
        frames.insert(0, usage.assign(source="usage", failures=pd.NA))
    kept = [f for f in frames if len(f)]
    return _finish(pd.concat(kept, ignore_index=True), exact=False) if kept else _empty()


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=FACT_COLUMNS)


def _naive(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values)
    return stamps.dt.tz_convert(None) if stamps.dt.tz is not None else stamps


def _finish(out: pd.DataFrame, *, exact: bool = True) -> pd.DataFrame:
    """Give the cells their columns and types: ``cost`` Decimal (``exact``) or float (hourly estimates)."""
    out = out.copy()
    out["day"] = _naive(out["day"]) if len(out) else pd.to_datetime(out["day"])
    if exact:
        out["cost"] = [None if v is None or (not isinstance(v, Decimal) and pd.isna(v)) else
                       (v if isinstance(v, Decimal) else Decimal(str(v))) for v in out["cost"]]  # fmt: skip
    else:
        out["cost"] = pd.to_numeric(out["cost"].map(lambda v: float(v) if isinstance(v, Decimal) else v),
                                    errors="coerce").astype(float)  # fmt: skip
    for column in ("tokens", "requests", "failures"):
        values = out[column] if column in out.columns else [pd.NA] * len(out)
        out[column] = pd.array(pd.to_numeric(pd.Series(values, index=out.index), errors="coerce"), dtype="Int64")
    out["partial"] = out["partial"].fillna(False).astype(bool) if "partial" in out.columns else False
    for column in FACT_COLUMNS:
        if column not in out.columns:
            out[column] = pd.NA
    return (out[FACT_COLUMNS].sort_values(["day", "provider", "team", "application", "model", "bucket"], kind="stable")
            .reset_index(drop=True))  # fmt: skip
