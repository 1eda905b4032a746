"""Daily series and totals from the facts layer's row sets."""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd

from finops_lib.facts.rows import dimension_column, missing_label, money_rows, token_rows


def daily_spend(costs: ir.Table, *, by: str, currency: str = "USD", top: int = 8) -> pd.DataFrame:
    """Daily cost per group: columns ``day``, the dimension, ``cost`` (float, in ``currency``).

    Groups beyond the ``top`` largest are summed into ``Other``; missing values show as
    ``(unattributed)``. Only rows billed in ``currency`` are included (see :func:`currency_totals`).

    Parameters
    ----------
    costs
        ``costs`` rows (already filtered).
    by
        A key of :data:`DIMENSIONS`.
    currency
        Billing currency to show.
    top
        Number of groups kept by name.
    """
    col = dimension_column(by)
    rows = money_rows(costs).filter(lambda t: t.BillingCurrency == currency)
    agg = (rows.mutate(day=rows.ChargePeriodStart.date(), grp=rows[col].fill_null(missing_label(by)))
           .group_by(["day", "grp"]).aggregate(cost=lambda t: t.BilledCost.sum()).to_pandas())
    return top_groups(agg, "cost", by, top)


def daily_tokens(costs: ir.Table, *, by: str, top: int = 8) -> pd.DataFrame:
    """Daily tokens per group: columns ``day``, the dimension, ``tokens`` (int)."""
    col = dimension_column(by)
    rows = token_rows(costs)
    agg = (rows.mutate(day=rows.ChargePeriodStart.date(), grp=rows[col].fill_null(missing_label(by)))
           .group_by(["day", "grp"]).aggregate(tokens=lambda t: t.ConsumedQuantity.sum()).to_pandas())
    return top_groups(agg, "tokens", by, top)


def top_groups(agg: pd.DataFrame, value: str, by: str, top: int) -> pd.DataFrame:
    """Keep the ``top`` largest groups of a ``day, grp, <value>`` frame by name, sum the rest into ``Other``.

    The input is not changed; the result has columns ``day``, ``<by>``, ``<value>``.
    """
    agg = agg.copy()
    if agg.empty:
        return pd.DataFrame({"day": pd.Series(dtype="datetime64[s]"), by: pd.Series(dtype=str),
                             value: pd.Series(dtype=float)})
    agg[value] = agg[value].astype(float)
    totals = agg.groupby("grp")[value].sum().sort_values(ascending=False)
    keep = set(totals.index[:top])
    agg["grp"] = agg["grp"].where(agg["grp"].isin(keep), "Other")
    out = agg.groupby(["day", "grp"], as_index=False)[value].sum().rename(columns={"grp": by})
    out["day"] = pd.to_datetime(out["day"])
    if value == "tokens":
        out[value] = out[value].round().astype("int64")
    return out.sort_values(["day", by]).reset_index(drop=True)


def currency_totals(costs: ir.Table) -> pd.DataFrame:
    """Money totals per billing currency (exact decimals as text and float), invoiced-first rule applied."""
    rows = money_rows(costs)
    out = rows.group_by("BillingCurrency").aggregate(cost=rows.BilledCost.sum(), rows=rows.count()).to_pandas()
    out["cost_text"] = out["cost"].astype(str)
    out["cost"] = out["cost"].astype(float)
    return out.sort_values("cost", ascending=False).reset_index(drop=True)


def top_movers(costs: ir.Table, *, by: str, currency: str = "USD", window_days: int = 7,
               end_date: str | date | None = None, top: int = 10) -> pd.DataFrame:
    """Return the groups whose spend changed most between the last ``window_days`` and the window before.

    Returns
    -------
    pandas.DataFrame
        Columns: the dimension, ``previous``, ``current``, ``change``, ``change_pct`` (a fraction:
        ``0.25`` is +25 %, as :func:`finops_lib.views.overview.charts.plot_top_movers` expects; NaN when the
        previous window had no spend), sorted by absolute change, ``top`` rows.
    """
    col = dimension_column(by)
    rows = money_rows(costs).filter(lambda t: t.BillingCurrency == currency)
    if end_date:
        last = pd.Timestamp(end_date).date()
    else:
        latest = rows.ChargePeriodStart.max().to_pyarrow().as_py()
        if latest is None:
            return pd.DataFrame(columns=[by, "previous", "current", "change", "change_pct"])
        last = latest.date()
    cur_start = last - timedelta(days=window_days - 1)
    prev_start = cur_start - timedelta(days=window_days)
    day = rows.ChargePeriodStart.date()
    window = ibis.cases((day >= cur_start, "current"), (day >= prev_start, "previous"), else_=None)
    agg = (rows.filter((day >= prev_start) & (day <= last))
           .mutate(window=window, grp=rows[col].fill_null(missing_label(by)))
           .group_by(["grp", "window"]).aggregate(cost=lambda t: t.BilledCost.sum()).to_pandas())
    wide = agg.pivot_table(index="grp", columns="window", values="cost", aggfunc="sum", fill_value=0)
    wide = wide.reindex(columns=["previous", "current"], fill_value=0).astype(float)
    wide["change"] = wide["current"] - wide["previous"]
    wide["change_pct"] = wide["change"] / wide["previous"].where(wide["previous"] > 0)
    wide = wide.reindex(wide["change"].abs().sort_values(ascending=False).index).head(top)
    return wide.reset_index().rename(columns={"grp": by}).rename_axis(columns=None)
