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

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from finops_lib.forecast import backtest as bt
from finops_lib.forecast.models import Forecast


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

    ``model="auto"`` takes the backtest's choice (:func:`finops_lib.forecast.backtest.choose_models`); any other model
    name is used for every series (the choice table still says what the backtest would have chosen).

    Examples
    --------
    >>> from finops_lib.forecast import backtest as bt
    >>> days = pd.date_range("2026-05-04", periods=84)
    >>> s = {"a": pd.Series(np.tile([9.0, 9, 9, 9, 9, 3, 3], 12), index=days)}
    >>> result = bt.backtest(s, horizon=14, models=("seasonal_naive", "drift"), n_origins=2, spacing=14, workers=1)
    >>> accuracy, choice, chosen = choose(result, s, horizon=14)
    >>> chosen, accuracy["chosen"].tolist()
    ({'a': 'seasonal_naive'}, [False, True])
    """
    accuracy = backtest.accuracy()
    choice = bt.choose_models(accuracy, series, horizon=horizon)
    chosen = dict(zip(choice["series"], choice["model"], strict=True)) if model == "auto" else dict.fromkeys(series,
                                                                                                           model)
    accuracy["chosen"] = [chosen.get(s) == m for s, m in zip(accuracy["series"], accuracy["model"], strict=True)]
    return accuracy, choice, chosen


def chosen_rows(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Return the accuracy rows of the chosen model of each series, indexed by series."""
    return accuracy[accuracy["chosen"]].set_index("series")
