"""Daily spend and token series to forecast, read through the facts layer.

**Spend** is the facts' ``cost`` (money rows: invoiced rows, priced estimates only where a provider has no
invoice), in the facts' currency: what finance budgets. ``total``, ``provider`` and ``model`` series are the facts'
daily series; ``team`` and ``application`` series are the chargeback view (:func:`finops_lib.allocation.allocate`
per day with the facts' rules): direct cost by the ownership rules plus the shared pools' splits, so team series
add up to the total exactly. **Tokens** use the facts' token rows the same way. Amounts are summed exactly per day
and become floats only in the returned frame.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import pandas as pd

from finops_lib.allocation import allocate
from finops_lib.errors import ParameterError
from finops_lib.facts import Facts

__all__ = ["DIMENSIONS", "METRICS", "build_series", "series_map"]

#: Dimensions a series can be built by.
DIMENSIONS: tuple[str, ...] = ("total", "provider", "team", "application", "model")
#: Metrics a series can measure -> the facts measure.
METRICS: dict[str, str] = {"spend": "cost", "tokens": "tokens"}
Metric = Literal["spend", "tokens"]


def build_series(facts: Facts, *, by: str = "total", metric: Metric = "spend") -> pd.DataFrame:
    """Return daily series of spend (in the facts' currency) or tokens per group of ``by``, zero days filled in.

    Parameters
    ----------
    facts
        The facts (window, currency, rules).
    by
        One of :data:`DIMENSIONS`.
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
        On an unknown ``by`` or ``metric``, or no data in the window.
    """
    if by not in DIMENSIONS:
        raise ParameterError(f"by must be one of {', '.join(DIMENSIONS)}; got {by!r}")
    if metric not in METRICS:
        raise ParameterError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
    if by in ("team", "application"):
        agg = _allocated(facts, by=by, metric=metric)
    else:
        agg = facts.aggregate(METRICS[metric], by=["day", *([by] if by != "total" else [])])
        agg = agg.rename(columns={METRICS[metric]: "value", by: "series"})
        if by == "total":
            agg["series"] = "total"
    if agg.empty or not any(agg["value"]):
        window = f"{facts.start_date or 'start'} to {facts.end_date or 'end'}"
        raise ParameterError(f"no {metric} in the data for the window {window}")
    agg["value"] = agg["value"].map(float)
    agg["day"] = pd.to_datetime(agg["day"]).dt.normalize()
    days = pd.date_range(agg["day"].min(), agg["day"].max(), freq="D")
    grid = pd.MultiIndex.from_product([sorted(agg["series"].astype(str).unique()), days], names=["series", "day"])
    out = agg.groupby(["series", "day"])["value"].sum().reindex(grid, fill_value=0.0).reset_index()
    return out[["day", "series", "value"]].astype({"value": float})


def _allocated(facts: Facts, *, by: str, metric: Metric) -> pd.DataFrame:
    result = allocate(facts, period="day", measure="cost" if metric == "spend" else "tokens")
    frame = result.frame
    value = "cost" if metric == "spend" else "tokens"
    out = pd.DataFrame({"day": pd.to_datetime(frame["period"]), "series": frame[by].fillna("(unallocated)").astype(str),
                        "value": frame[value]})  # fmt: skip
    return out.groupby(["day", "series"], as_index=False)["value"].agg(lambda s: sum(s, Decimal(0)))


def series_map(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Return ``{series name: daily values}`` from a :func:`build_series` frame, largest total first."""
    order = frame.groupby("series")["value"].sum().sort_values(ascending=False, kind="stable").index
    return {str(name): frame[frame["series"] == name].set_index("day")["value"].rename(str(name)) for name in order}
