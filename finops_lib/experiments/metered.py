"""Before/after from every source, not only gateway logs: the daily cell facts of :mod:`finops_lib.facts.cells`.

Usage feeds report requests per cell and day (OpenAI usage: ``num_model_requests``), invoices seldom do. Tokens
per request are only meaningful where both are known, so a before/after on facts uses the **metered cells**:
cell-days (provider x account x team x application x model x key x tiers) that carry a request count. The
cost of the other cells in scope is left out and reported (``unmetered_cost``), never mixed in.

:func:`daily_facts` and :func:`cells_from_facts` give :func:`finops_lib.experiments.changes.before_after` and
:func:`finops_lib.experiments.changes.find_changes` the same frames the request logs give them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal

import pandas as pd

from finops_lib.errors import ParameterError
from finops_lib.schema import REQUEST_TOKEN_COLUMNS

__all__ = ["FACT_SCOPE", "cells_from_facts", "daily_facts", "is_facts", "metered", "unmetered_cost"]

#: Schema column -> facts column, so scopes written for the request logs work on facts too.
FACT_SCOPE: dict[str, str] = {"x_Application": "application", "x_Team": "team", "x_Model": "model",
                              "x_ApiKeyId": "api_key", "ProviderName": "provider", "SubAccountId": "sub_account",
                              "x_ServiceTier": "service_tier", "x_ContextTier": "context_tier"}  # fmt: skip
_CELL = ["day", "provider", "sub_account", "team", "application", "model", "api_key", "service_tier", "context_tier"]


def is_facts(data: object) -> bool:
    """Return True for a facts frame (:func:`finops_lib.facts.cells.build_facts`)."""
    return isinstance(data, pd.DataFrame) and {"day", "bucket", "tokens", "cost"} <= set(data.columns)


def _column(name: str) -> str:
    return FACT_SCOPE.get(name, name)


def _scoped(facts: pd.DataFrame, scope: Mapping[str, str | None] | None) -> pd.DataFrame:
    out = facts
    for column, value in (scope or {}).items():
        if value in (None, "", "all"):
            continue
        col = _column(column)
        if col not in out.columns:
            raise ParameterError(f"unknown scope column {column!r} for facts; use one of {sorted(FACT_SCOPE)}")
        out = out[out[col].astype(str) == str(value)]
    return out


def metered(facts: pd.DataFrame, scope: Mapping[str, str | None] | None = None) -> pd.DataFrame:
    """Return the rows of the cell-days in scope that carry a request count, with the cell's count on every row.

    Parameters
    ----------
    facts : DataFrame
        :func:`finops_lib.facts.cells.build_facts`.
    scope : mapping, optional
        Column -> value filters (facts or schema column names).

    Returns
    -------
    DataFrame
        The facts columns; ``requests`` and ``failures`` are the cell-day's totals on each of its rows.
    """
    rows = _scoped(facts, scope)
    if rows.empty:  # nothing in scope (pandas cannot transform an empty grouping)
        return rows
    counts = rows.groupby(_CELL, dropna=False)[["requests", "failures"]].transform(lambda s: s.sum(min_count=1))
    rows = rows.assign(requests=counts["requests"], failures=counts["failures"])
    return rows[rows["requests"].fillna(0) > 0]


def unmetered_cost(facts: pd.DataFrame, scope: Mapping[str, str | None] | None = None) -> Decimal:
    """Return the cost in scope that :func:`metered` leaves out (cells without a request count)."""
    rows = _scoped(facts, scope)
    kept = metered(facts, scope)
    total = sum((c for c in rows["cost"] if not pd.isna(c)), Decimal(0))
    return total - sum((c for c in kept["cost"] if not pd.isna(c)), Decimal(0))


def daily_facts(facts: pd.DataFrame, *, scope: Mapping[str, str | None] | None = None,
                by: Sequence[str] = ()) -> pd.DataFrame:  # fmt: skip
    """Aggregate the metered facts per day (and ``by`` groups) like ``before_after.daily_requests``.

    Returns
    -------
    DataFrame
        ``date``, ``by...`` (facts names), ``requests``, ``failures``, ``<bucket>_tokens``, ``cost`` (float, priced
        rows), ``currency`` (None: facts are in one currency already).
    """
    rows = metered(facts, scope)
    by = [_column(b) for b in by]
    keys = ["day", *by]
    tokens = rows.pivot_table(index=keys, columns="bucket", values="tokens", aggfunc="sum", fill_value=0)
    tokens = tokens.reindex(columns=list(REQUEST_TOKEN_COLUMNS), fill_value=0).add_suffix("_tokens")
    cells = rows.drop_duplicates(_CELL).groupby(keys)[["requests", "failures"]].sum()
    cost = rows.assign(cost=rows["cost"].map(lambda c: float(c) if not pd.isna(c) else 0.0)).groupby(keys)["cost"]
    out = pd.concat([cells, tokens, cost.sum()], axis=1).reset_index().rename(columns={"day": "date"})
    out["date"] = pd.to_datetime(out["date"])
    return out.assign(currency=None).sort_values([*by, "date"]).reset_index(drop=True)


def cells_from_facts(facts: pd.DataFrame, *, start: dt.date, end: dt.date, keys: Sequence[str] = ("x_Model",),
                     scope: Mapping[str, str | None] | None = None) -> pd.DataFrame:  # fmt: skip
    """Return :func:`finops_lib.decompose.decompose`'s cell frame for the metered facts of ``[start, end)``.

    Rows without a price (unpriced tokens) are left out; so are cells without a request count (:func:`metered`).
    """
    rows = metered(facts, scope)
    rows = rows[(rows["day"] >= pd.Timestamp(start)) & (rows["day"] < pd.Timestamp(end)) & rows["cost"].notna()]
    cols = [_column(k) for k in keys]
    per_cell = rows.drop_duplicates(_CELL).groupby(cols, dropna=False)["requests"].sum()
    out = rows.groupby([*cols, "bucket"], dropna=False).agg(
        tokens=("tokens", lambda s: int(s.fillna(0).sum())), cost=("cost", lambda s: sum(s, Decimal(0)))
    ).reset_index()
    out["requests"] = [int(per_cell.loc[tuple(r) if len(cols) > 1 else r[0]]) for r in out[cols].itertuples(
        index=False, name=None)]  # fmt: skip
    return out.rename(columns={c: k for c, k in zip(cols, keys, strict=True)})
