"""Prophet models: ``prophet`` (on ``log1p``) and ``prophet_multiplicative``, level shifts found in the history.

Registered in :data:`finops_lib.forecast.models.MODELS` when this module is imported (:mod:`finops_lib.forecast`
imports it); Prophet's ``ds``/``y`` frame never leaves this module.

* ``prophet`` fits ``log1p(spend)``: growth and weekly seasonality then act in percent, zero days are
  allowed, and the back-transformed forecast is never negative. ``prophet_multiplicative`` fits the spend
  itself with multiplicative seasonality. The backtest chooses between them (and the baselines).
* Weekly seasonality; yearly seasonality only with two years of history; public holidays of
  ``Options.country``; automatic trend changepoints in the first 90 % of the history.
* Outlier days (1-3 day anomalies, :func:`finops_lib.forecast.models.clean_history`) are left out of the
  fit, as Prophet's documentation recommends.
* Level shifts (a launch, a key moved to production): :func:`detect_level_shifts` finds steps of at least
  30 % that last at least 7 days; each becomes a step regressor, as do known past events
  (:func:`finops_lib.forecast.events.event_regressors`, passed in ``Options.regressors``).
* Intervals and sample paths come from Prophet's predictive samples (200 per day); they are usually too narrow
  for spend (trend and noise only): :mod:`finops_lib.forecast.calibrate` rescales them to the backtest's errors.

Prophet's and cmdstanpy's log output is silenced when this module is imported.
"""

from __future__ import annotations

import logging

for _name, _level in (("prophet", logging.WARNING), ("prophet.plot", logging.CRITICAL), ("cmdstanpy", logging.ERROR)):
    logging.getLogger(_name).setLevel(_level)
logging.getLogger("cmdstanpy").disabled = True  # it logs every fit's start and end at INFO through its own handler

import warnings  # noqa: E402  (the loggers above are set before prophet can be imported)
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from finops_lib.forecast.models import (  # noqa: E402
    N_SAMPLES,
    SEASON,
    Forecast,
    Options,
    clean_history,
    from_samples,
    outlier_mask,
    register_model,
)

__all__ = ["detect_level_shifts", "prophet_log", "prophet_multiplicative"]

_SHIFT_RATIO = np.log(1.3)


def detect_level_shifts(history: pd.Series, *, min_after: int = SEASON, max_shifts: int = 2) -> list[pd.Timestamp]:
    """Return the days where the series steps up or down by at least 30 % and stays there ``min_after`` days.

    The weekday-adjusted ``log1p`` level of the 4 weeks after each candidate day is compared with the 4 weeks
    before (means, outlier days replaced first); the largest step is kept if it exceeds ``log(1.3)``, then the search
    repeats away from it.

    Examples
    --------
    >>> days = pd.date_range("2026-05-04", periods=70)
    >>> base = np.tile([10.0, 10, 10, 10, 10, 5, 5], 10)
    >>> spend = pd.Series(np.where(days >= "2026-06-29", 3 * base, base), index=days)
    >>> [d.date().isoformat() for d in detect_level_shifts(spend)]
    ['2026-06-29']
    """
    z = np.log1p(clean_history(history).to_numpy(dtype=float))
    weekday = history.index.day_of_week.to_numpy()
    level = z - pd.Series(z).groupby(weekday).transform("median").to_numpy()
    n, found = len(level), []
    for _ in range(max_shifts):
        best, best_i = _SHIFT_RATIO, None
        for i in range(2 * SEASON, n - min_after + 1):
            if any(abs(i - j) < 2 * SEASON for j in found):
                continue
            step = float(np.mean(level[i:i + 4 * SEASON]) - np.mean(level[max(0, i - 4 * SEASON):i]))
            if abs(step) > best:
                best, best_i = abs(step), i
        if best_i is None:
            break
        found.append(best_i)
        level = level - np.sign(np.mean(level[best_i:]) - np.mean(level[:best_i])) * best * (np.arange(n) >= best_i)
    return [history.index[i] for i in sorted(found)]


def _prophet(history: pd.Series, steps: int, options: Options, *, log: bool) -> Forecast:
    from prophet import Prophet  # heavy import, only when fitted

    y = history.where(~outlier_mask(history))
    regressors = options.regressors if options.regressors is not None else pd.DataFrame(index=pd.DatetimeIndex([]))
    days = pd.date_range(history.index[0], periods=len(history) + steps, freq="D")
    regressors = regressors.reindex(days, fill_value=0.0)
    starts = [regressors[c].diff().idxmax() for c in regressors.columns]
    for when in detect_level_shifts(history):
        if not any(abs((start - when).days) < SEASON for start in starts):  # a known event explains it
            regressors[f"level shift {when.date()}"] = (days >= when).astype(float)
    model = Prophet(growth="linear", weekly_seasonality=True, yearly_seasonality=len(history) >= 730,
                    daily_seasonality=False, seasonality_mode="additive" if log else "multiplicative",
                    changepoint_range=0.9, interval_width=options.interval, uncertainty_samples=N_SAMPLES)  # fmt: skip
    if options.country:
        model.add_country_holidays(country_name=options.country)
    for name in regressors.columns:
        model.add_regressor(name, prior_scale=10.0, standardize=False, mode="additive" if log else "multiplicative")
    frame = pd.DataFrame({"ds": days[:len(history)], "y": np.log1p(y.to_numpy()) if log else y.to_numpy()})
    frame = frame.join(regressors.reset_index(drop=True).iloc[:len(history)])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="prophet")  # pandas deprecations inside Prophet, not ours to fix
        model.fit(frame)
        point, samples = _predict(model, regressors, days, len(history), options.seed)
    if log:
        point, samples = np.expm1(point), np.expm1(samples)
    names = [c for c in regressors.columns if regressors[c].iloc[:len(history)].any()]
    note = ("steps: " + ", ".join(names)) if names else ""
    return from_samples(history, point, samples, options, model="prophet" if log else "prophet_multiplicative",
                        note=note)  # fmt: skip


def _predict(model: Any, regressors: pd.DataFrame, days: pd.DatetimeIndex, n: int, seed: int) -> tuple[Any, Any]:
    """Return the point forecast and the predictive sample paths of a fitted Prophet model."""
    future = pd.DataFrame({"ds": days[n:]}).join(regressors.iloc[n:].reset_index(drop=True))
    model.uncertainty_samples = 0  # the point forecast without sampling; samples once, below
    point = model.predict(future)["yhat"].to_numpy()
    model.uncertainty_samples = N_SAMPLES
    np.random.seed(seed)  # Prophet samples with numpy's global generator
    return point, model.predictive_samples(future)["yhat"]


@register_model("prophet", description="Prophet on log1p(spend): weekly seasonality, changepoints, level shifts",
                min_history=3 * SEASON)  # fmt: skip
def prophet_log(history: pd.Series, steps: int, options: Options) -> Forecast:
    """Prophet on ``log1p`` of the series (see the module docstring)."""
    return _prophet(history, steps, options, log=True)


@register_model("prophet_multiplicative", description="Prophet with multiplicative weekly seasonality",
                min_history=3 * SEASON)  # fmt: skip
def prophet_multiplicative(history: pd.Series, steps: int, options: Options) -> Forecast:
    """Prophet on the series itself with multiplicative seasonality (see the module docstring)."""
    return _prophet(history, steps, options, log=False)
