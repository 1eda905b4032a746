"""The cell-day facts that anomaly detection and explanation read: one row per day x owner x model x key x bucket.

Each provider's richest data is used once, never twice:

* **money** comes from the money rows of ``costs`` (:func:`finops_lib.facts.rows.money_rows`: invoiced first per
  provider and day, priced estimates otherwise), converted to one currency at the charge day's rate;
* **tokens** and **request counts** come from the token rows (:func:`finops_lib.facts.rows.token_rows`: usage feeds
  first), joined to the money cells on day, provider, sub-account, model, bucket, service tier and context tier.
  Feeds that carry tokens and money on the same row (AWS CUR, Azure, GCP) join to themselves. The API key is the
  token feed's key (invoices seldom carry one); ``(unknown)`` otherwise;
* **gateway traffic**: cost rows of the shared pools that the allocation rules split by gateway requests
  (``source: requests``, e.g. the LiteLLM project and workspace) are replaced by the gateway log itself, which
  names the team, application and key of every request and counts failures
  (:func:`finops_lib.facts.requests.cells_from_requests` splits each cell's logged cost over its token buckets).

Owners come from :func:`finops_lib.rules.owners.attribute` with the data folder's allocation rules.
Rows without a cost (unpriced tokens) keep ``cost`` missing: they count in token series, never as $0.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from finops_lib import facts

__all__ = ["FACT_COLUMNS", "UNKNOWN", "build_facts", "hourly_facts"]

UNKNOWN = "(unknown)"
#: Columns of the facts frame.
FACT_COLUMNS: list[str] = [
    "day",
    "provider",
    "sub_account",
    "team",
    "application",
    "model",
    "api_key",
    "bucket",
    "service_tier",
    "context_tier",
    "cost",
    "tokens",
    "requests",
    "failures",
    "source",
    "partial",
]
_KEYS = ["day", "provider", "sub_account", "team", "application", "model", "bucket", "service_tier", "context_tier"]
_COLUMNS = {
    "provider": "ProviderName",
    "sub_account": "SubAccountId",
    "team": "x_Team",
    "application": "x_Application",
    "model": "x_Model",
    "bucket": "x_TokenType",
    "service_tier": "x_ServiceTier",
    "context_tier": "x_ContextTier",
    "api_key": "x_ApiKeyId",
}


def _rules(data_dir: str | Path | None, rules_file: str | None) -> object:
    from finops_lib.rules.resolve import resolve_rules

    return resolve_rules(rules_file or "", data_dir)


def _gateway_pools(rules: object) -> list[int]:
    return [i for i, s in enumerate(rules.shared) if s.options.get("source") == "requests"]  # type: ignore[attr-defined]


def _partial(t: ir.Table) -> ir.BooleanValue:
    return t.x_DataQualityFlags.contains("partial_bucket").max()


def _cells(
    rows: ir.Table, pools: list[int], values: dict[str, Callable[[ir.Table], ir.Value]], *, with_key: bool
) -> pd.DataFrame:
    rows = rows.filter(rows.x_AllocationPool.isnull() | ~rows.x_AllocationPool.isin(pools)) if pools else rows
    cols = {k: rows[c].cast("string") for k, c in _COLUMNS.items() if with_key or k != "api_key"}
    cols["context_tier"] = cols["context_tier"].fill_null("standard")
    grouped = rows.mutate(day=rows.ChargePeriodStart.date(), **cols)
    keys = [*_KEYS, "api_key"] if with_key else _KEYS
    out = grouped.group_by(keys).aggregate(**{k: v(grouped) for k, v in values.items()}).to_pandas()
    for column in keys:
        if column != "day":
            out[column] = out[column].astype(object).where(out[column].notna(), UNKNOWN).astype(str)
    return out


def _billing_facts(costs: ir.Table, rules: object, currency: str) -> pd.DataFrame:
    from finops_lib.rules.owners import attribute

    converted, _ = facts.in_currency(costs, currency)
    pools = _gateway_pools(rules)
    money = _cells(
        attribute(facts.money_rows(converted), rules),
        pools,
        {"cost": lambda t: t.BilledCost.sum(), "partial_m": _partial},
        with_key=False,
    )
    tokens = _cells(
        attribute(facts.token_rows(costs), rules),
        pools,
        {
            "tokens": lambda t: t.ConsumedQuantity.sum().cast("int64"),
            "requests": lambda t: t.x_RequestCount.sum(),
            "partial_t": _partial,
        },
        with_key=True,
    )
    # One key per cell: the key with most tokens names it (invoices rarely split money by key).
    tokens = tokens.sort_values("tokens", ascending=False)
    keyed = tokens.groupby(_KEYS, as_index=False).agg(
        api_key=("api_key", "first"),
        tokens=("tokens", "sum"),
        requests=("requests", lambda s: s.sum(min_count=1)),
        partial_t=("partial_t", "max"),
    )
    out = _join(money, keyed)
    out["partial"] = out.pop("partial_m").fillna(False).astype(bool) | out.pop("partial_t").fillna(False).astype(bool)
    out["api_key"] = out["api_key"].fillna(UNKNOWN)
    out["failures"] = pd.NA
    return out.assign(source="billing")


def _join(money: pd.DataFrame, tokens: pd.DataFrame) -> pd.DataFrame:
    """Join money and token cells: exactly first, then ignoring the tiers.

    Feeds label tiers differently: the OpenAI costs API bills batch usage as a line item while the usage API
    has a batch service tier.
    """
    exact = money.merge(tokens, on=_KEYS, how="outer", indicator=True)
    matched = exact[exact["_merge"] == "both"].drop(columns="_merge")
    reduced = [k for k in _KEYS if k not in ("service_tier", "context_tier")]
    first = {"service_tier": ("service_tier", "first"), "context_tier": ("context_tier", "first")}
    left = (
        exact[exact["_merge"] == "left_only"]
        .groupby(reduced, as_index=False)
        .agg(cost=("cost", lambda s: sum(s, Decimal(0))), partial_m=("partial_m", "max"), **first)
    )
    right = (
        exact[exact["_merge"] == "right_only"]
        .groupby(reduced, as_index=False)
        .agg(
            api_key=("api_key", "first"),
            tokens=("tokens", "sum"),
            requests=("requests", lambda s: s.sum(min_count=1)),
            partial_t=("partial_t", "max"),
            **{f"{k}_t": v for k, v in first.items()},
        )
    )
    loose = left.merge(right, on=reduced, how="outer")
    for tier in ("service_tier", "context_tier"):
        loose[tier] = loose[tier].fillna(loose.pop(f"{tier}_t"))
    return pd.concat([matched, loose], ignore_index=True)


def _gateway_table(con: BaseBackend, rules: object, currency: str) -> ir.Table | None:
    from finops_lib.rules.owners import attribute

    if "requests" not in con.list_tables():
        return None
    requests = con.table("requests")
    if not _gateway_pools(rules) or requests.count().to_pyarrow().as_py() == 0:
        return None
    converted, _ = facts.in_currency(requests, currency)
    t = attribute(converted, rules, table_name="requests", pools=False)
    return t.mutate(
        **{k: t[c].cast("string").fill_null(UNKNOWN) for k, c in _COLUMNS.items() if k not in ("bucket", "sub_account")}
    )


def _gateway_facts(table: ir.Table, *, grain: str) -> pd.DataFrame:
    from finops_lib.facts.requests import cells_from_requests

    t = table.mutate(
        day=table.ChargePeriodStart.truncate("h" if grain == "hour" else "D").cast("timestamp"),
        sub_account=table.SubAccountId.cast("string").fill_null(UNKNOWN),
    )
    keys = ["day", "provider", "sub_account", "team", "application", "model", "api_key", "service_tier", "context_tier"]
    span = t.aggregate(lo=t.ChargePeriodStart.min(), hi=t.ChargePeriodStart.max()).to_pandas().iloc[0]
    cells = cells_from_requests(
        t, start=span.lo.to_pydatetime(), end=span.hi.to_pydatetime() + pd.Timedelta(seconds=1), keys=keys
    )
    failed = t.filter(t.x_Status == "failure")
    fails = failed.group_by(keys).aggregate(failures=failed.count()).to_pandas()
    out = cells.drop(columns=["unpriced_requests"]).merge(fails, on=keys, how="left")
    out["failures"] = out["failures"].fillna(0).astype("int64")
    # Request counts sit on one row per cell (as x_RequestCount does in usage feeds), so sums stay right.
    first = ~out.duplicated(keys)
    out["requests"] = out["requests"].where(first, 0)
    out["failures"] = out["failures"].where(first, 0)
    return out.assign(source="gateway", partial=False)


def build_facts(
    con: BaseBackend, *, currency: str = "USD", data_dir: str | Path | None = None, rules_file: str | None = None
) -> pd.DataFrame:
    """Return the daily cell facts of a warehouse (see the module docstring for where each number comes from).

    Parameters
    ----------
    con
        The warehouse (:func:`finops_lib.warehouse.ingestion.open_data`), with ``costs`` and optionally ``requests``.
    currency
        Currency of ``cost`` (rows are converted at the charge day's rate).
    data_dir
        Data folder whose ``config/allocation_rules.yaml`` names owners (default: the sample's).
    rules_file
        Explicit rules file (``"none"`` for tags only).

    Returns
    -------
    pandas.DataFrame
        :data:`FACT_COLUMNS`: ``day`` (Timestamp), the owner and meter columns (text, ``(unknown)`` when
        missing), ``cost`` (Decimal in ``currency``; missing when unpriced), ``tokens``, ``requests`` and
        ``failures`` (nullable integers; missing when the source does not say), ``source`` (``billing`` or
        ``gateway``).
    """
    rules = _rules(data_dir, rules_file)
    frames = [_billing_facts(con.table("costs"), rules, currency)]
    gateway = _gateway_table(con, rules, currency)
    if gateway is not None:
        frames.append(_gateway_facts(gateway, grain="day"))
    return _finish(pd.concat(frames, ignore_index=True))


def hourly_facts(
    con: BaseBackend, *, currency: str = "USD", data_dir: str | Path | None = None, rules_file: str | None = None
) -> pd.DataFrame:
    """Return hourly cell facts: the gateway log only (every other source is daily).

    Same columns as :func:`build_facts`, with ``day`` holding the hour.
    """
    gateway = _gateway_table(con, _rules(data_dir, rules_file), currency)
    if gateway is None:
        return pd.DataFrame(columns=FACT_COLUMNS)
    return _finish(_gateway_facts(gateway, grain="hour"))


def _finish(out: pd.DataFrame) -> pd.DataFrame:
    out = out.copy()
    out["day"] = (
        pd.to_datetime(out["day"]).dt.tz_localize(None)
        if getattr(pd.to_datetime(out["day"]).dt, "tz", None)
        else pd.to_datetime(out["day"])
    )
    out["cost"] = [None if pd.isna(v) else (v if isinstance(v, Decimal) else Decimal(str(v))) for v in out["cost"]]
    for column in ("tokens", "requests", "failures"):
        out[column] = (
            pd.array(pd.to_numeric(out[column], errors="coerce"), dtype="Int64")
            if column in out.columns
            else pd.array([pd.NA] * len(out), dtype="Int64")
        )
    out["partial"] = out["partial"].fillna(False).astype(bool) if "partial" in out.columns else False
    for column in FACT_COLUMNS:
        if column not in out.columns:
            out[column] = pd.NA
    return (
        out[FACT_COLUMNS]
        .sort_values(["day", "provider", "team", "application", "model", "bucket"], kind="stable")
        .reset_index(drop=True)
    )


def table_facts(facts: pd.DataFrame) -> ir.Table:
    """Return ``facts`` as an in-memory ibis table (for engine-side aggregation in notebooks)."""
    return ibis.memtable(facts.assign(cost=facts["cost"].map(lambda v: None if v is None else float(v))))
