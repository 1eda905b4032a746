"""Daily spend and token series to forecast, read through the facts layer.

**Spend** is the facts' ``charges``: the money rows (invoiced rows, priced estimates only where a provider has no
invoice) other than credits, in the facts' currency: what usage and purchases cost, what finance budgets. Credits
(promotional credits, refunds: FOCUS ChargeCategory ``Credit``) are one-off and would make a day's total negative:
they are modelled apart (:func:`credits_by_day`, shown beside the forecast, never projected), so the facts' cost is
the forecast's history plus the credits, exactly. A series that still has a negative day (corrections larger than
the day's charges) is not forecast; :func:`forecastable` says which and why.

``total``, ``provider`` and ``model`` series are the facts' daily series; ``team`` and ``application`` series are
the chargeback view (:func:`finops_lib.allocation.allocate` per day with the facts' rules): direct cost by the
ownership rules plus the shared pools' splits, so team series add up to the total exactly. A combination of
dimensions (``team,model,api_key``: any of the facts' dimensions, :data:`finops_lib.facts.DIMENSIONS`) gives one
series per combination seen, named by its values (``ml / gpt-4o / key_7``), from the facts' daily series: each row
under its own owner, shared pools not split (their rows keep the owner the rules give them, or none), so these
series too add up to the total exactly. **Tokens** use the facts'
token rows the same way. Amounts are summed exactly per day and become floats only in the returned frame.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import pandas as pd

from finops_lib.allocation import allocate
from finops_lib.errors import NotEnoughData, ParameterError
from finops_lib.facts import DIMENSIONS as FACTS_DIMENSIONS
from finops_lib.facts import Facts

__all__ = ["DIMENSIONS", "METRICS", "build_series", "credits_by_day", "dimensions_of", "forecastable", "series_map"]

#: Dimensions a series can be built by.
DIMENSIONS: tuple[str, ...] = ("total", "provider", "team", "application", "model")
#: Metrics a series can measure -> the facts measure.
METRICS: dict[str, str] = {"spend": "charges", "tokens": "tokens"}
Metric = Literal["spend", "tokens"]


def dimensions_of(by: str) -> list[str]:
    """Return the dimensions a ``by`` names: one of :data:`DIMENSIONS`, or a comma-separated combination.

    Raises
    ------
    ParameterError
        On an unknown dimension, a repeated one, or ``total`` inside a combination.

    Examples
    --------
    >>> dimensions_of("team"), dimensions_of("team, model,api_key")
    (['team'], ['team', 'model', 'api_key'])
    """
    names = [name.strip() for name in str(by).split(",")]
    if len(names) == 1:
        if names[0] not in DIMENSIONS:
            raise ParameterError(f"by must be one of {', '.join(DIMENSIONS)}, or a combination of the facts' "
                                 f"dimensions separated by commas; got {by!r}")
        return names
    known = set(FACTS_DIMENSIONS)
    wrong = [name for name in names if name not in known]
    if wrong or len(set(names)) != len(names):
        raise ParameterError(f"by {by!r}: a combination names each of the facts' dimensions once "
                             f"({', '.join(sorted(known))}); {', '.join(wrong) or 'a repeated one'} is not")
    return names


def build_series(facts: Facts, *, by: str = "total", metric: Metric = "spend") -> pd.DataFrame:
    """Return daily series of spend (in the facts' currency) or tokens per group of ``by``, zero days filled in.

    Parameters
    ----------
    facts
        The facts (window, currency, rules).
    by
        One of :data:`DIMENSIONS`, or a comma-separated combination of the facts' dimensions (:func:`dimensions_of`).
    metric
        ``spend`` or ``tokens`` (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        ``day`` (Timestamp), ``series`` (group name; ``total`` for the total), ``value`` (float): every day
        from the first to the last day of the data for every group.

    Raises
    ------
    ParameterError
        On an unknown ``by`` or ``metric``.
    NotEnoughData
        With no data in the window.
    """
    dims = dimensions_of(by)
    if metric not in METRICS:
        raise ParameterError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
    if len(dims) > 1:
        agg = _combined(facts, dims, metric=metric)
    elif by in ("team", "application"):
        agg = _allocated(facts, by=by, metric=metric)
    else:
        agg = facts.aggregate(METRICS[metric], by=["day", *([by] if by != "total" else [])])
        agg = agg.rename(columns={METRICS[metric]: "value", by: "series"})
        if by == "total":
            agg["series"] = "total"
    if agg.empty or not any(agg["value"]):
        window = f"{facts.start_date or 'start'} to {facts.end_date or 'end'}"
        raise NotEnoughData(f"no {metric} in the data for the window {window}")
    agg["value"] = agg["value"].map(float)
    agg["day"] = pd.to_datetime(agg["day"]).dt.normalize()
    days = pd.date_range(agg["day"].min(), agg["day"].max(), freq="D")
    grid = pd.MultiIndex.from_product([sorted(agg["series"].astype(str).unique()), days], names=["series", "day"])
    out = agg.groupby(["series", "day"])["value"].sum().reindex(grid, fill_value=0.0).reset_index()
    return out[["day", "series", "value"]].astype({"value": float})


def _combined(facts: Facts, dims: list[str], *, metric: Metric) -> pd.DataFrame:
    """Daily series per combination of dimensions, named by the combination's values joined by `` / ``."""
    value = METRICS[metric]
    agg = facts.aggregate(value, by=["day", *dims])
    names = agg[dims[0]].astype(str)
    for dim in dims[1:]:  # column by column: a row-wise join takes seconds on a million rows
        names = names + " / " + agg[dim].astype(str)
    return pd.DataFrame({"day": agg["day"], "series": names, "value": agg[value]})


def _allocated(facts: Facts, *, by: str, metric: Metric) -> pd.DataFrame:
    value = METRICS[metric]
    frame = allocate(facts, period="day", measure=value).frame
    out = pd.DataFrame({"day": pd.to_datetime(frame["period"]), "series": frame[by].fillna("(unallocated)").astype(str),
                        "value": frame[value]})  # fmt: skip
    return out.groupby(["day", "series"], as_index=False)["value"].agg(lambda s: sum(s, Decimal(0)))


def series_map(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Return ``{series name: daily values}`` from a :func:`build_series` frame, largest total first."""
    order = frame.groupby("series")["value"].sum().sort_values(ascending=False, kind="stable").index
    groups = {name: part for name, part in frame.groupby("series", sort=False)}  # one pass, not one scan per series
    return {str(name): groups[name].set_index("day")["value"].rename(str(name)) for name in order}


def credits_by_day(facts: Facts) -> pd.DataFrame:
    """Return the credits of the facts' window per day (``day``, ``credits``: negative floats), days with credits only.

    They are left out of the spend series (see the module docstring) and shown beside the forecast.
    """
    frame = facts.aggregate("credits", by=["day"])
    frame = frame[[value != 0 for value in frame["credits"]]]
    return pd.DataFrame({"day": pd.to_datetime(frame["day"]).dt.normalize(),
                         "credits": frame["credits"].map(float)}).reset_index(drop=True)


def forecastable(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a :func:`build_series` frame into the series a model can fit and the ones it cannot, with why.

    A series with a negative day (corrections or adjustments larger than the day's charges, credits being out of
    the series already) is left out rather than clipped: its history does not say what usage cost.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        The kept rows of ``frame``; and ``series``, ``reason`` of each series left out.

    Examples
    --------
    >>> days = pd.date_range("2026-06-01", periods=2)
    >>> frame = pd.DataFrame({"day": list(days) * 2, "series": ["a", "a", "b", "b"], "value": [1.0, 2.0, 3.0, -1.0]})
    >>> kept, left_out = forecastable(frame)
    >>> sorted(kept["series"].unique()), left_out.values.tolist()
    (['a'], [['b', 'a net negative day (-1.00 on 2026-06-02: adjustments larger than the charges): not forecast']])
    """
    negative = frame[frame["value"] < 0].sort_values(["series", "day"]).groupby("series").head(1)
    reasons = [(row.series, f"a net negative day ({row.value:,.2f} on {row.day.date()}: adjustments larger than "
                            "the charges): not forecast") for row in negative.itertuples()]  # fmt: skip
    left_out = pd.DataFrame(reasons, columns=["series", "reason"])
    return frame[~frame["series"].isin(left_out["series"])].reset_index(drop=True), left_out
