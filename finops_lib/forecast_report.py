"""Forecast results for notebooks and scripts: the tidy forecast table, the chosen models, MASE wording, results.json.

Assembly only (no fitting): :func:`forecast_table` turns histories and forecasts into one long frame,
:func:`choose` marks the chosen model per series in the accuracy table, :func:`mase_summary` states both MASE
readings in words, :func:`results` builds the ``results.json`` of ``30_spend_forecast``.

Two MASE readings are reported, because they answer different questions:

``mase`` (standard, Hyndman & Koehler 2006)
    The forecast's MAE over the in-sample MAE of the weekly seasonal naive forecast (``|y_t - y_{t-7}|`` over the
    history): below 1 means the forecast errs less than last week's value did one week ahead, in the past.
``mase_vs_naive``
    The forecast's MAE over the weekly seasonal naive forecast's MAE at the same origins and horizon: below 1
    means it beats repeating the last week, on the same days. The acceptance bar "MASE below 1 against weekly
    seasonal naive" is read this way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from finops_lib.forecast_baselines import Forecast

__all__ = ["choose", "forecast_table", "mase_summary", "results"]


def forecast_table(series: Mapping[str, pd.Series], forecasts: Mapping[str, Forecast], *,
                   horizon: int | None = None) -> pd.DataFrame:  # fmt: skip
    """Return history and forecasts as one tidy frame (for charts, Parquet and CSV).

    Returns
    -------
    pandas.DataFrame
        ``series``, ``day``, ``kind`` (``actual`` or ``forecast``), ``value``, ``lower``, ``upper`` (NaN on
        actual days), ``lower_raw``, ``upper_raw`` (the model's own bounds before calibration, equal to ``lower``
        and ``upper`` when uncalibrated), ``model`` and ``note`` (forecast rows); forecasts cut at ``horizon``
        days when given.
    """
    frames = []
    for name, values in series.items():
        frames.append(pd.DataFrame({"series": name, "day": values.index, "kind": "actual", "value": values.to_numpy(),
                                    "lower": np.nan, "upper": np.nan, "lower_raw": np.nan, "upper_raw": np.nan,
                                    "model": "", "note": ""}))  # fmt: skip
        if name in forecasts:
            f = forecasts[name]
            part = f.frame.iloc[:horizon] if horizon else f.frame
            bounds = {c: part.get(f"{c}_raw", part[c]).to_numpy() for c in ("lower", "upper")}
            frames.append(pd.DataFrame({"series": name, "day": part.index, "kind": "forecast",
                                        "value": part["forecast"].to_numpy(), "lower": part["lower"].to_numpy(),
                                        "upper": part["upper"].to_numpy(), "lower_raw": bounds["lower"],
                                        "upper_raw": bounds["upper"], "model": f.model, "note": f.note}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["series", "day", "kind", "value", "lower", "upper", "lower_raw", "upper_raw", "model", "note"])


def choose(backtest: Any, series: Mapping[str, pd.Series], *, model: str = "auto",
           horizon: int = 30) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:  # fmt: skip
    """Return the accuracy table with a ``chosen`` column, the backtest's choice with reasons, and ``{series: model}``.

    ``model="auto"`` takes the backtest's choice (:func:`finops_lib.backtest.choose_models`); any other model name
    is used for every series (the choice table still says what the backtest would have chosen).

    Examples
    --------
    >>> from finops_lib import backtest as bt
    >>> days = pd.date_range("2026-05-04", periods=84)
    >>> s = {"a": pd.Series(np.tile([9.0, 9, 9, 9, 9, 3, 3], 12), index=days)}
    >>> result = bt.backtest(s, horizon=14, models=("seasonal_naive", "drift"), n_origins=2, spacing=14, workers=1)
    >>> accuracy, choice, chosen = choose(result, s, horizon=14)
    >>> chosen, accuracy["chosen"].tolist()
    ({'a': 'seasonal_naive'}, [False, True])
    """
    from finops_lib import backtest as bt  # the backtest sits below this module's callers, not below it

    accuracy = backtest.accuracy()
    choice = bt.choose_models(accuracy, series, horizon=horizon)
    chosen = dict(zip(choice["series"], choice["model"], strict=True)) if model == "auto" else dict.fromkeys(series,
                                                                                                           model)
    accuracy["chosen"] = [chosen.get(s) == m for s, m in zip(accuracy["series"], accuracy["model"], strict=True)]
    return accuracy, choice, chosen


def _chosen_rows(accuracy: pd.DataFrame) -> pd.DataFrame:
    return accuracy[accuracy["chosen"]].set_index("series")


def mase_summary(accuracy: pd.DataFrame) -> str:
    """Return one sentence on both MASE readings of the chosen models (see the module docstring).

    Examples
    --------
    >>> acc = pd.DataFrame({"series": ["a", "b"], "model": "m", "mase": [1.3, 0.8], "mase_vs_naive": [0.7, 0.9],
    ...                     "chosen": True})
    >>> print(mase_summary(acc))
    Chosen models: MASE vs weekly seasonal naive below 1 for 2 of 2 series (median 0.80); standard MASE below 1 for 1 of 2 (median 1.05; above 1: a).
    """  # noqa: E501
    best = _chosen_rows(accuracy)
    vs, std = best["mase_vs_naive"].dropna(), best["mase"].dropna()
    above = ", ".join(std[std >= 1].index) or "none"
    return (f"Chosen models: MASE vs weekly seasonal naive below 1 for {int((vs < 1).sum())} of {len(vs)} series "
            f"(median {vs.median():.2f}); standard MASE below 1 for {int((std < 1).sum())} of {len(std)} "
            f"(median {std.median():.2f}; above 1: {above}).")  # fmt: skip


def _pct(value: float) -> str:
    return f"{value:.0%}" if np.isfinite(value) else "n/a"


def results(*, accuracy: pd.DataFrame, choice: pd.DataFrame, risk: pd.DataFrame, table: pd.DataFrame,
            calibration: Mapping[str, Any], parameters: Mapping[str, object], date_range: Sequence[object],
            month: object, shown: str, level: float = 0.8) -> dict[str, object]:  # fmt: skip
    """Return the ``results.json`` content of the spend-forecast notebook.

    The headline describes ``total`` (``shown`` when there is no total series): chosen model, month-total error
    and band, both MASE readings, interval coverage (raw, calibrated leave-one-origin-out, nominal) and the budgets
    breached or projected to be. Tables are written as records of text values.
    """
    from finops_lib import calibrate

    best = _chosen_rows(accuracy)
    top = "total" if "total" in best.index else shown
    row = best.loc[top]
    ahead = table[table["kind"] == "forecast"].groupby("series")["value"].sum()
    breaches = risk[risk["status"].isin(["breach projected", "exceeded"])]["series"].tolist()
    coverage = (f"{_pct(row['coverage_cal'])} calibrated (leave-one-origin-out), {_pct(row['coverage'])} raw; "
                f"nominal {level:.0%}")  # fmt: skip
    headline = {f"Chosen model ({top})": str(row["model"]),
                f"Month-total error ({top})": f"{row['month_total_error_pct']:.1f}% ({row['band']})",
                f"MASE vs seasonal naive ({top})": f"{row['mase_vs_naive']:.2f}",
                f"MASE, standard ({top})": f"{row['mase']:.2f}", f"Interval coverage ({top})": coverage,
                f"Budgets breached or projected to ({month})": ", ".join(breaches) or "none"}  # fmt: skip
    return {"headline": headline, "date_range": [str(d) for d in date_range], "parameters": dict(parameters),
            "month": str(month), "interval_level": level,
            "forecast_total_next_days": {k: float(v) for k, v in ahead.items()},
            "accuracy": accuracy.astype(str).to_dict("records"), "choice": choice.to_dict("records"),
            "calibration": calibrate.calibration_table(calibration).astype(str).to_dict("records"),
            "budget_risk": risk.astype(str).to_dict("records")}  # fmt: skip
