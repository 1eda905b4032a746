"""Series the detectors scan: regular daily or hourly cost, token and request series per dimension value.

Also the money threshold (:func:`resolve_min_impact`) and the cost per unit that turns an excess of tokens or
requests into money. Re-exported by :mod:`finops_lib.anomalies.detectors`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from finops_lib.errors import ParameterError

__all__ = ["DEFAULTS", "DIMENSIONS", "METRICS", "build_series", "money_floats", "resolve_min_impact"]

Grain = Literal["day", "hour"]
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "total": (),
    "provider": ("provider",),
    "team": ("team",),
    "application": ("team", "application"),
    "model": ("model",),
    "api_key": ("api_key",),
}
METRICS: tuple[str, ...] = ("cost", "tokens", "requests")
#: Per grain: seasonal period, seasons in the baseline, residual window and the run length taken as a level shift.
DEFAULTS: dict[str, Any] = {
    "detector": "robust_seasonal",
    "sensitivity": 4.0,
    "min_impact": "auto",
    "min_share": 0.0025,
    "grain": "day",
}
Grain = Literal["day", "hour"]


def money_floats(values: pd.Series) -> pd.Series:
    """Return money (exact Decimals, None where unpriced) as floats for the detectors (NaN where unpriced).

    A column already of floats is returned as it is, so a caller scanning many series converts once.

    Examples
    --------
    >>> from decimal import Decimal as D
    >>> money_floats(pd.Series([D("1.5"), None])).tolist()
    [1.5, nan]
    """
    if pd.api.types.is_float_dtype(values):
        return values
    return pd.to_numeric(values.map(lambda v: np.nan if v is None or pd.isna(v) else float(v)))


def build_series(facts: pd.DataFrame, *, dimension: str, metric: str, grain: Grain = "day") -> pd.DataFrame:
    """Return the regular series of ``metric`` per value of ``dimension``.

    Parameters
    ----------
    facts
        Cell facts (:func:`finops_lib.facts.cells.build_facts`).
    dimension
        A key of :data:`DIMENSIONS`.
    metric
        ``cost`` (float money), ``tokens`` or ``requests``.
    grain
        ``day`` or ``hour``.

    Returns
    -------
    pandas.DataFrame
        ``key`` (the dimension value, ``total`` for the total), ``day``, ``value`` (what the detectors judge: 0 on
        periods without rows, NaN on days whose usage bucket is still filling; a series whose source never reports
        the metric is left out), ``actual`` (the measured value, those days included) and ``cost`` (float money of
        the same rows).

    Examples
    --------
    >>> from decimal import Decimal as D
    >>> f = pd.DataFrame({"day": pd.to_datetime(["2026-01-01", "2026-01-03"]), "team": ["a", "a"],
    ...                   "cost": [D("1.5"), D("2")], "tokens": [10, 20], "requests": [1, 2]})
    >>> build_series(f, dimension="team", metric="tokens")[["key", "day", "value"]]
      key        day  value
    0   a 2026-01-01   10.0
    1   a 2026-01-02    0.0
    2   a 2026-01-03   20.0
    """
    if dimension not in DIMENSIONS:
        raise ParameterError(f"unknown dimension {dimension!r}; choose one of {', '.join(DIMENSIONS)}")
    if metric not in METRICS:
        raise ParameterError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    cols = DIMENSIONS[dimension]
    key: pd.Series | str = "total"
    if cols:
        key = facts[cols[0]].astype(str)
        for col in cols[1:]:
            key = key + "/" + facts[col].astype(str)
    frame = facts.assign(key=key)
    money = money_floats(frame["cost"])
    units = money if metric == "cost" else pd.to_numeric(frame[metric], errors="coerce").astype(float)
    frame = frame.assign(
        _cost=money.where(units.notna()),
        _value=units,
        _partial=frame["partial"].astype(bool) if "partial" in frame.columns else False,
    )
    frame = frame[frame["_value"].notna()]
    agg = frame.groupby(["key", "day"], as_index=False).agg(
        value=("_value", "sum"), cost=("_cost", "sum"), partial=("_partial", "any")
    )
    if agg.empty:
        return pd.DataFrame(columns=["key", "day", "value", "actual", "cost"])
    agg["actual"] = agg["value"]
    agg.loc[agg["partial"], "value"] = np.nan  # a usage bucket still filling: measured, not judged
    agg = agg.drop(columns="partial")
    freq = "h" if grain == "hour" else "D"
    days = pd.date_range(facts["day"].min(), facts["day"].max(), freq=freq)
    full = pd.MultiIndex.from_product([sorted(agg["key"].unique()), days], names=["key", "day"])
    out = agg.set_index(["key", "day"]).reindex(full, fill_value=0.0).reset_index()
    return out[["key", "day", "value", "actual", "cost"]].astype({"value": float, "actual": float, "cost": float})


def resolve_min_impact(
    facts: pd.DataFrame,
    min_impact: float | str | None = "auto",
    *,
    min_share: float = DEFAULTS["min_share"],
    grain: Grain = "day",
) -> float:
    """Return the money threshold: a number as given, or ``auto`` (see the module docstring).

    Examples
    --------
    >>> from decimal import Decimal as D
    >>> f = pd.DataFrame({"day": pd.to_datetime(["2026-01-01", "2026-01-02"]), "cost": [D("400"), D("4000")]})
    >>> resolve_min_impact(f, "auto")
    5.5
    >>> resolve_min_impact(f, 25)
    25.0
    """
    if min_impact not in (None, "auto", ""):
        try:
            value = float(min_impact)
        except (TypeError, ValueError):
            raise ParameterError(f"min_impact must be a number or 'auto', got {min_impact!r}") from None
        if value < 0:
            raise ParameterError(f"min_impact must not be negative, got {value}")
        return value
    money = money_floats(facts["cost"])
    daily = money.groupby(facts["day"]).sum()
    per_period = float(daily.median()) if len(daily) else 0.0
    return max(1.0 if grain == "day" else 1.0 / 24, min_share * per_period)


def unit_cost(series: pd.DataFrame, metric: str, days: int) -> np.ndarray:
    """Recent cost per unit (median of the previous ``days`` points with units), for the money impact."""
    if metric == "cost":
        return np.ones(len(series))
    ratio = (series["cost"] / series["value"].where(series["value"] > 0)).to_numpy()
    return pd.Series(ratio).shift(1).rolling(days, min_periods=1).median().bfill().fillna(0.0).to_numpy()
