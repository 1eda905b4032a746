"""Daily spend and token series to forecast, from the facts layer."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

import ibis
import pandas as pd

from finops_lib import facts
from finops_lib.errors import ParameterError

#: Dimensions a series can be built by.
DIMENSIONS: tuple[str, ...] = ("total", "provider", "team", "application", "model")


Metric = Literal["spend", "tokens"]


def build_series(con: Any, *, by: str = "total", metric: Metric = "spend", currency: str = "USD",
                 data_dir: str | Path | None = None, rules_file: str | Path | None = "",
                 start_date: str | date | None = None, end_date: str | date | None = None) -> pd.DataFrame:  # fmt: skip
    """Return daily series of spend (in ``currency``) or tokens per group of ``by``, zero days filled in.

    Parameters
    ----------
    con
        The warehouse (:func:`finops_lib.warehouse.ingestion.open_data`).
    by
        One of :data:`DIMENSIONS`.
    metric
        ``spend`` (invoiced money, see the module docstring) or ``tokens``.
    currency
        ISO 4217 code of the spend.
    data_dir, rules_file
        Where the allocation rules of ``team``/``application`` series come from (as ``finops chargeback``).
    start_date, end_date
        Inclusive UTC days; None means the whole data.

    Returns
    -------
    pandas.DataFrame
        ``day`` (Timestamp), ``series`` (group name; ``total`` for the total), ``value`` (float): every day
        from the first to the last day of the data for every group.

    Raises
    ------
    ParameterError
        On an unknown ``by`` or ``metric``, or no data in the window.
    """
    if by not in DIMENSIONS:
        raise ParameterError(f"by must be one of {', '.join(DIMENSIONS)}; got {by!r}")
    if metric not in ("spend", "tokens"):
        raise ParameterError(f"metric must be spend or tokens; got {metric!r}")
    costs = facts.filter_costs(con.table("costs"), start_date=start_date, end_date=end_date)
    if by in ("team", "application"):
        agg = _allocated(con, costs, by=by, metric=metric, currency=currency, data_dir=data_dir, rules_file=rules_file)
    else:
        agg = _engine_series(costs, by=by, metric=metric, currency=currency)
    if agg.empty:
        raise ParameterError(f"no {metric} in the data for the window {start_date or 'start'} to {end_date or 'end'}")
    agg["day"] = pd.to_datetime(agg["day"]).dt.tz_localize(None).dt.normalize()
    days = pd.date_range(agg["day"].min(), agg["day"].max(), freq="D")
    grid = pd.MultiIndex.from_product([sorted(agg["series"].astype(str).unique()), days], names=["series", "day"])
    out = agg.groupby(["series", "day"])["value"].sum().reindex(grid, fill_value=0.0).reset_index()
    return out[["day", "series", "value"]].astype({"value": float})


def _engine_series(costs: Any, *, by: str, metric: Metric, currency: str) -> pd.DataFrame:

    if metric == "spend":
        rows, _ = facts.in_currency(facts.money_rows(costs), currency)
        value = "BilledCost"
    else:
        rows, value = facts.token_rows(costs), "ConsumedQuantity"
    group = rows[facts.DIMENSIONS[by]].fill_null(facts.missing_label(by)) if by != "total" else None
    rows = rows.mutate(day=rows.ChargePeriodStart.date(), series=group if group is not None else ibis.literal("total"))
    agg = rows.group_by(["day", "series"]).aggregate(value=rows[value].sum().cast("float64")).to_pandas()
    return agg


def _allocated(con: Any, costs: Any, *, by: str, metric: Metric, currency: str, data_dir: str | Path | None,
               rules_file: str | Path | None) -> pd.DataFrame:  # fmt: skip
    from finops_lib import allocation, fx

    rules = allocation.resolve_rules(rules_file, data_dir)
    result = allocation.allocate(costs, rules, requests=con.table("requests"), period="day",
                                 measure="cost" if metric == "spend" else "tokens")  # fmt: skip
    frame = result.frame
    value = "cost" if metric == "spend" else "tokens"
    out = pd.DataFrame({"day": pd.to_datetime(frame["period"]), "series": frame[by].fillna("(unallocated)")
                        .astype(str), "value": frame[value].map(float)})  # fmt: skip
    if metric == "spend":
        rates = fx.load_rates()
        pairs = frame[["currency"]].assign(day=out["day"]).drop_duplicates()
        factor = {(c, d): float(fx.rate(rates, c, currency, d.date())[0]) for c, d in pairs.itertuples(index=False)}
        out["value"] *= [factor[(c, d)] for c, d in zip(frame["currency"], out["day"], strict=True)]
    return out


def series_map(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Return ``{series name: daily values}`` from a :func:`build_series` frame, largest total first."""
    order = frame.groupby("series")["value"].sum().sort_values(ascending=False, kind="stable").index
    return {str(name): frame[frame["series"] == name].set_index("day")["value"].rename(str(name)) for name in order}
