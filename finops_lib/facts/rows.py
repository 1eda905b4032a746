"""Row sets of the facts layer: money rows (invoiced first), token rows, filters, currency."""

from __future__ import annotations

from datetime import date
from typing import Literal

import ibis.expr.types as ir
import pandas as pd

from finops_lib.errors import ParameterError

#: Group-by dimensions offered to users -> column in ``costs``.
DIMENSIONS: dict[str, str] = {
    "provider": "ProviderName",
    "model": "x_Model",
    "team": "x_Team",
    "application": "x_Application",
    "environment": "x_Environment",
    "service_tier": "x_ServiceTier",
    "token_type": "x_TokenType",
    "sub_account": "SubAccountId",
    "api_key": "x_ApiKeyId",
    "service": "ServiceName",
    "source_format": "x_SourceFormat",
}


UNATTRIBUTED = "(unattributed)"


#: Label of rows without a value, per dimension where "(unattributed)" would mislead: a charge without a
#: model is cloud infrastructure, a platform fee or provisioned capacity, not spend nobody owns.
MISSING_LABELS: dict[str, str] = {"model": "(no model: cloud, fees, capacity)"}


def missing_label(by: str) -> str:
    """Return the label of rows without a value of dimension ``by`` (``(unattributed)`` unless declared)."""
    return MISSING_LABELS.get(by, UNATTRIBUTED)


Basis = Literal["invoiced", "estimated"]


def dimension_column(dimension: str) -> str:
    """Return the ``costs`` column of a dimension name, or raise :class:`ParameterError` naming the choices."""
    try:
        return DIMENSIONS[dimension]
    except KeyError:
        raise ParameterError(f"unknown dimension {dimension!r}; choose one of {', '.join(DIMENSIONS)}") from None


def filter_costs(
    costs: ir.Table,
    *,
    start_date: str | date | None = None,
    end_date: str | date | None = None,
    provider: str | None = None,
) -> ir.Table:
    """Return the rows of ``costs`` charged in [start_date, end_date] (inclusive days, UTC).

    Parameters
    ----------
    costs
        The ``costs`` table.
    start_date, end_date
        ISO dates; empty or None means unbounded.
    provider
        A ProviderName, or None / ``""`` / ``"all"`` for every provider.
    """
    out = costs
    if start_date:
        out = out.filter(out.ChargePeriodStart.date() >= pd.Timestamp(start_date).date())
    if end_date:
        out = out.filter(out.ChargePeriodStart.date() <= pd.Timestamp(end_date).date())
    if provider and provider.lower() != "all":
        out = out.filter(out.ProviderName == provider)
    return out


def _prefer(rows: ir.Table, first: Basis) -> ir.Table:
    """Per provider and day, keep rows of basis ``first`` when there are any, else the others."""
    day = rows.ChargePeriodStart.date()
    has_first = (rows.x_CostBasis == first).cast("int8").max().over(group_by=[rows.ProviderName, day])
    return rows.filter((rows.x_CostBasis == first) | (has_first == 0))


def money_rows(costs: ir.Table) -> ir.Table:
    """Rows that make up money totals: invoiced first, priced estimates where no invoice exists."""
    priced = costs.filter(costs.BilledCost.notnull())
    return _prefer(priced, "invoiced")


def token_rows(costs: ir.Table) -> ir.Table:
    """Token rows for token totals: usage feeds first, invoiced quantities where no usage feed exists."""
    tokens = costs.filter((costs.x_TokenType != "non_token") & costs.ConsumedQuantity.notnull())
    return _prefer(tokens, "estimated")


def in_currency(costs: ir.Table, currency: str, *, rates: pd.DataFrame | None = None) -> tuple[ir.Table, pd.DataFrame]:
    """Return ``costs`` with every money column in ``currency`` and the exchange rates used.

    Each row is converted at the rate of its charge day (:func:`finops_lib.fx.to_currency`); rows
    already in ``currency`` are unchanged. A report shows the returned rates table, so a reader sees
    which rates (and which derived inverses) turned, say, EUR invoices into USD.

    Parameters
    ----------
    costs
        ``costs`` rows.
    currency
        Target ISO 4217 code.
    rates
        FX table (:func:`finops_lib.fx.load_rates`); default the shipped rates.

    Raises
    ------
    ParameterError
        When a row needs a rate the table does not have (the message names the pair and the day).
    """
    from finops_lib import fx

    return fx.to_currency(costs, currency, rates=fx.load_rates() if rates is None else rates)


def date_range(costs: ir.Table) -> tuple[date | None, date | None]:
    """First and last charge day in ``costs``."""
    stats = costs.aggregate(lo=costs.ChargePeriodStart.min(), hi=costs.ChargePeriodStart.max()).to_pandas()
    lo, hi = stats.lo.iloc[0], stats.hi.iloc[0]
    return (None if pd.isna(lo) else lo.date()), (None if pd.isna(hi) else hi.date())


def providers(costs: ir.Table) -> list[str]:
    """Return the distinct ``ProviderName`` values of ``costs``, sorted."""
    names = costs.select("ProviderName").distinct().to_pandas()["ProviderName"].dropna()
    return sorted(names.astype(str))
