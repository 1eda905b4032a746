"""Interval calibration from backtest errors (split conformal): intervals and sample paths as wide as the errors.

The models' own intervals are not what their errors are: Prophet's 80 % bands hold only about two thirds of the
actual days of the sample (trend and day noise only), the baselines' often hold more than 90 %. So P(exceed budget)
read from the raw sample paths is nearly always 0 or 1. This module rescales each series' intervals and sample
paths by the errors its chosen model made in the backtest (:func:`finops_lib.forecast.backtest.backtest`).

Method (split-conformal, normalised by the model's own interval; Romano et al. 2019, Angelopoulos & Bates 2021):

1. **Residuals.** At every backtest origin the model forecast ``horizon`` days; each scored day gives the log
   error ``d = log1p(actual) - log1p(forecast)`` and the model's half-width on that side,
   ``w = log1p(upper) - log1p(forecast)`` when ``d >= 0``, else ``log1p(forecast) - log1p(lower)`` (at least
   0.001). Its score is ``|d| / w``: 1 on the raw interval's edge. ``log1p`` is the scale the models fit
   (relative errors, zero days allowed). Anomaly days (1-3 day spikes, left out of the backtest's point metrics)
   are left out here too.
2. **Factor.** The calibration factor ``k`` is the conformal quantile of the scores: the
   ``ceil((n + 1) * level)``-th smallest of ``n`` (``level`` = the nominal 80 %). The calibrated interval is
   the raw one scaled by ``k`` around the point in ``log1p`` space: ``expm1(log1p(f) +- k * w)``; it holds the
   actual exactly when the score is at most ``k``. ``k > 1`` widens, ``k < 1`` narrows. Point forecasts are
   unchanged (a bias widens the side it falls on, it is not corrected).
3. **By forecast step.** One factor per step bucket (days 1-7, 8-14, 15 and later) when every bucket with data has
   at least ``min_residuals`` (20) scores; else one pooled factor. Days beyond the backtest's horizon use the last
   bucket's factor.
4. **Sample paths** (P(exceed), month-end distribution, burn-down band) get their own factor, from month-to-go
   totals: at each origin and step ``h`` the actual total of days 1..h is scored, as above, against the point
   forecast's total and the ``level`` interval of the paths' totals (anomaly days included: the month total has
   them). Each ``h`` stands for a forecast made ``h`` days before a month's end. Each path is then multiplied by
   one number, chosen so that the ``log1p`` deviation of its month-to-go total (the forecast days in the first
   forecast month) from the point forecast's total is multiplied by the path factor: the month-end distribution
   and P(exceed) are exactly as wide as the factor says, days keep their weekly shape and stay >= 0. Daily errors
   of spend are correlated (a level error lasts), which the models' day-by-day paths mostly do not show, so this
   factor often differs from the daily one. Cumulative bands before the month's end are scaled approximately.
5. **Too few residuals.** Fewer than ``min_residuals`` scores, or a single origin: the model's own interval is
   kept, and the forecast's note says so.

The raw bounds stay in the forecast frame as ``lower_raw``/``upper_raw`` and the raw paths as
``Forecast.samples_raw``. :func:`loo_coverage` is the honest check: for each origin, calibrate on the other
origins and score the held-out one (calibrated coverage, leave-one-origin-out), beside the raw coverage.

Examples
--------
>>> conformal_factor(np.array([0.5, 1.0, 1.5, 2.0]), level=0.5)
np.float64(1.5)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from finops_lib.errors import ParameterError
from finops_lib.forecast.models import Forecast

__all__ = ["BUCKETS", "MIN_RESIDUALS", "RESIDUAL_COLUMNS", "Calibration", "apply_calibration", "calibrate",
           "calibration_table", "conformal_factor", "fit_calibration", "loo_coverage", "residual_rows",
           "scale_paths", "scores"]  # fmt: skip

#: Forecast step buckets (first and last day ahead, None: open) with their own factor when residuals allow.
BUCKETS: tuple[tuple[int, int | None], ...] = ((1, 7), (8, 14), (15, None))
#: Fewest scores a factor is estimated from; below it the model's own interval is kept.
MIN_RESIDUALS = 20
#: Columns of the backtest residual frame (:func:`residual_rows`).
RESIDUAL_COLUMNS: tuple[str, ...] = ("series", "model", "origin", "step", "day", "actual", "forecast", "lower",
                                     "upper", "anomaly", "cum_actual", "cum_forecast", "cum_lower", "cum_upper")
_MIN_WIDTH = 1e-3
Method = Literal["by step", "pooled", "none"]


@dataclass(frozen=True)
class Calibration:
    """The calibration of one series' model.

    Attributes
    ----------
    series, model
        What was calibrated.
    level
        Nominal coverage of the intervals (0.8).
    factors
        One factor per :data:`BUCKETS` entry (equal when pooled; empty when ``method`` is ``none``).
    path_factor
        Factor of the sample paths' deviations (None: paths left as the model made them).
    n_residuals, n_origins
        Scores and backtest origins the factors come from.
    method
        ``by step``, ``pooled`` or ``none`` (the model's own interval).
    note
        One line saying what was done, for forecast notes and tables.
    """

    series: str
    model: str
    level: float
    factors: tuple[float, ...] = ()
    path_factor: float | None = None
    n_residuals: int = 0
    n_origins: int = 0
    method: Method = "none"
    note: str = ""

    def factor_at(self, steps: np.ndarray) -> np.ndarray:
        """Return the interval factor of each forecast step (1 = first day ahead); 1.0 when uncalibrated."""
        steps = np.asarray(steps)
        if not self.factors:
            return np.ones(len(steps))
        return np.asarray(self.factors, dtype=float)[_bucket(steps)]


def _bucket(steps: np.ndarray) -> np.ndarray:
    """Index into :data:`BUCKETS` of each step (steps past the last bucket's start fall in the last one)."""
    starts = np.array([first for first, _ in BUCKETS])
    return np.searchsorted(starts, np.asarray(steps), side="right") - 1


def conformal_factor(scores: np.ndarray, *, level: float) -> float:
    """Return the split-conformal quantile of ``scores``: the ``ceil((n + 1) * level)``-th smallest (largest if n
    is too small for it).

    Examples
    --------
    >>> conformal_factor(np.arange(1.0, 21.0), level=0.8)  # ceil(21 * 0.8) = 17th smallest
    np.float64(17.0)
    """  # noqa: D205
    values = np.sort(np.asarray(scores, dtype=float))
    if not len(values):
        raise ParameterError("no scores to calibrate on")
    rank = int(np.ceil((len(values) + 1) * level))
    return values[min(rank, len(values)) - 1]


def _score(actual: Any, point: Any, lower: Any, upper: Any) -> np.ndarray:
    """``|log1p(actual) - log1p(point)|`` over the raw half-width on the actual's side (module docstring)."""
    za, zf = np.log1p(np.clip(np.asarray(actual, float), 0, None)), np.log1p(np.asarray(point, float))
    d = za - zf
    width = np.where(d >= 0, np.log1p(np.asarray(upper, float)) - zf, zf - np.log1p(np.asarray(lower, float)))
    return np.abs(d) / np.maximum(width, _MIN_WIDTH)


def residual_rows(values: pd.Series, origin: pd.Timestamp, forecast: Forecast, *, anomalies: pd.Series,
                  horizon: int, level: float, series: str = "", model: str = "") -> pd.DataFrame:  # fmt: skip
    """Return one backtest origin's scored days: actual, forecast, raw bounds and the month-to-go (cumulative) ones.

    ``cum_lower``/``cum_upper`` are the ``level`` quantiles of the sample paths' cumulative sums (NaN without
    paths); only days with an actual value are returned.
    """
    frame = forecast.frame.iloc[:horizon]
    actual = values.reindex(frame.index)
    keep = actual.notna().to_numpy()
    out = pd.DataFrame({"series": series, "model": model, "origin": origin, "step": np.arange(1, len(frame) + 1),
                        "day": frame.index, "actual": actual.to_numpy(float), "forecast": frame["forecast"].to_numpy(),
                        "lower": frame["lower"].to_numpy(), "upper": frame["upper"].to_numpy(),
                        "anomaly": anomalies.reindex(frame.index, fill_value=False).to_numpy(bool)})  # fmt: skip
    out = out[keep].reset_index(drop=True)
    out = out[(out["step"] == np.arange(1, len(out) + 1))]  # cumulative sums only over an unbroken run of days
    out["cum_actual"], out["cum_forecast"] = out["actual"].cumsum(), out["forecast"].cumsum()
    out["cum_lower"] = out["cum_upper"] = np.nan
    if forecast.samples is not None and len(out):
        tail = (1 - level) / 2
        paths = np.cumsum(np.clip(forecast.samples[: len(out)], 0, None), axis=0)
        out["cum_lower"], out["cum_upper"] = np.quantile(paths, [tail, 1 - tail], axis=1)
    return out[list(RESIDUAL_COLUMNS)]


def scores(residuals: pd.DataFrame) -> pd.DataFrame:
    """Return ``residuals`` with ``score`` (daily; NaN on anomaly days) and ``cum_score`` (month-to-go; NaN
    without paths) added (module docstring)."""  # noqa: D205, D209
    out = residuals.copy()
    daily = _score(out["actual"], out["forecast"], out["lower"], out["upper"])
    out["score"] = np.where(out["anomaly"].to_numpy(bool), np.nan, daily)
    cum = _score(out["cum_actual"], out["cum_forecast"], out["cum_lower"], out["cum_upper"])
    out["cum_score"] = np.where(out["cum_lower"].notna() & out["cum_upper"].notna(), cum, np.nan)
    return out


def fit_calibration(residuals: pd.DataFrame, *, level: float = 0.8, min_residuals: int = MIN_RESIDUALS,
                    series: str = "", model: str = "") -> Calibration:  # fmt: skip
    """Return the calibration of one series' model from its backtest residuals (:func:`residual_rows` rows).

    Examples
    --------
    >>> days = pd.date_range("2026-06-01", periods=10)
    >>> rows = pd.DataFrame({"origin": np.repeat(pd.to_datetime(["2026-05-01", "2026-05-31"]), 10),
    ...     "step": np.tile(np.arange(1, 11), 2), "actual": np.tile(np.expm1([3.0, 5.0] * 5), 2),
    ...     "forecast": np.expm1(4.0), "lower": np.expm1(3.5), "upper": np.expm1(4.5), "anomaly": False,
    ...     "cum_lower": np.nan, "cum_upper": np.nan, "cum_actual": 1.0, "cum_forecast": 1.0})
    >>> cal = fit_calibration(rows, level=0.8)  # every log error is 1, the raw half-width 0.5: factor 2
    >>> cal.method, cal.factors, cal.path_factor
    ('pooled', (2.0, 2.0, 2.0), None)
    """
    scored = residuals if "score" in residuals.columns else scores(residuals)
    daily = scored[scored["score"].notna()]
    n, origins = len(daily), int(daily["origin"].nunique())
    if n < min_residuals or origins < 2:
        note = (f"model's own interval (uncalibrated): {n} backtest residual(s) from {origins} origin(s), "
                f"calibration needs {min_residuals} from 2 or more")  # fmt: skip
        return Calibration(series, model, level, n_residuals=n, n_origins=origins, note=note)
    buckets = _bucket(daily["step"].to_numpy())
    counts = np.bincount(buckets, minlength=len(BUCKETS))
    if all(c >= min_residuals for c in counts if c) and (counts > 0).sum() > 1:
        found = [conformal_factor(daily["score"].to_numpy()[buckets == b], level=level) if counts[b] else None
                 for b in range(len(BUCKETS))]  # fmt: skip
        factors = [f if f is not None else next(x for x in reversed(found[:b]) if x is not None)
                   for b, f in enumerate(found)]  # fmt: skip
        method: Method = "by step"
    else:
        factors, method = [conformal_factor(daily["score"].to_numpy(), level=level)] * len(BUCKETS), "pooled"
    cum = scored["cum_score"].dropna()
    cum_origins = scored.loc[cum.index, "origin"].nunique()
    path = conformal_factor(cum.to_numpy(), level=level) if len(cum) >= min_residuals and cum_origins > 1 else None
    shown = "/".join(f"{f:.2f}" for f in dict.fromkeys(factors)) if method == "pooled" else \
        "/".join(f"{f:.2f}" for f in factors)  # fmt: skip
    note = (f"interval calibrated x{shown} ({method}{', days 1-7/8-14/15+' if method == 'by step' else ''}) "
            f"on {n} backtest residuals from {origins} origins; "
            + (f"paths x{path:.2f}" if path is not None else "paths uncalibrated (too few month-to-go totals)"))
    return Calibration(series, model, level, tuple(float(f) for f in factors), None if path is None else float(path),
                       n, origins, method, note)  # fmt: skip


def calibrate(backtest: Any, models: Mapping[str, str] | str, *, min_residuals: int = MIN_RESIDUALS,
              level: float | None = None) -> dict[str, Calibration]:  # fmt: skip
    """Return the calibration of each series' chosen model from a :class:`finops_lib.forecast.backtest.Backtest`.

    Parameters
    ----------
    backtest
        The backtest (its ``residuals`` and ``level``).
    models
        ``{series: model}`` (:func:`finops_lib.forecast.backtest.choose_models`) or one model for every series.
    min_residuals
        Fewest scores per factor (module docstring).
    level
        Nominal coverage; default the backtest's interval level.

    Returns
    -------
    dict
        ``{series: Calibration}`` for every series of ``models`` (``method`` ``none`` where residuals are few).
    """
    level = backtest.level if level is None else level
    residuals = backtest.residuals
    names = models if isinstance(models, Mapping) else dict.fromkeys(residuals["series"].unique(), models)
    out = {}
    for name, model in names.items():
        part = residuals[(residuals["series"] == name) & (residuals["model"] == model)]
        out[name] = fit_calibration(part, level=level, min_residuals=min_residuals, series=name, model=model)
    return out


def apply_calibration(forecast: Forecast, calibration: Calibration | None) -> Forecast:
    """Return ``forecast`` with calibrated bounds and paths; the raw ones kept (``lower_raw``, ``upper_raw``,
    ``samples_raw``), the calibration's note appended.

    Examples
    --------
    >>> days = pd.date_range("2026-06-01", periods=2)
    >>> frame = pd.DataFrame({"forecast": np.expm1(4.0), "lower": np.expm1(3.5), "upper": np.expm1(4.5)}, index=days)
    >>> cal = Calibration("s", "m", 0.8, factors=(2.0, 2.0, 2.0), method="pooled")
    >>> out = apply_calibration(Forecast(frame, model="m"), cal).frame
    >>> np.log1p(out[["lower", "upper"]].iloc[0]).round(6).tolist(), out.columns.tolist()
    ([3.0, 5.0], ['forecast', 'lower', 'upper', 'lower_raw', 'upper_raw'])
    """  # noqa: D205
    if calibration is None:
        return forecast
    frame = forecast.frame.copy()
    frame["lower_raw"], frame["upper_raw"] = frame["lower"], frame["upper"]
    if calibration.model and forecast.model and calibration.model != forecast.model:  # a fallback model was fitted
        calibration = Calibration(calibration.series, forecast.model, calibration.level, note=f"calibration of "
                                  f"{calibration.model} not applied to {forecast.model}: model's own interval")
    note = "; ".join(filter(None, [forecast.note, calibration.note]))
    if calibration.method == "none":
        return replace(forecast, frame=frame, samples_raw=forecast.samples, note=note)
    zf = np.log1p(frame["forecast"].to_numpy(float))
    k = calibration.factor_at(np.arange(1, len(frame) + 1))
    frame["lower"] = np.clip(np.expm1(zf - k * (zf - np.log1p(frame["lower_raw"].to_numpy(float)))), 0, None)
    frame["upper"] = np.clip(np.expm1(zf + k * (np.log1p(frame["upper_raw"].to_numpy(float)) - zf)), 0, None)
    samples = forecast.samples
    if samples is not None and calibration.path_factor is not None:
        samples = scale_paths(samples, frame["forecast"], factor=calibration.path_factor)
    return replace(forecast, frame=frame, samples=samples, samples_raw=forecast.samples, note=note)


def scale_paths(samples: np.ndarray, point: pd.Series, *, factor: float) -> np.ndarray:
    """Return the paths, each multiplied by one number, so that their month-to-go totals' ``log1p`` deviations from
    the point forecast's total are ``factor`` times the raw ones (module docstring, step 4).

    ``point`` is the point forecast indexed by day; the month-to-go is its days in the month of its first day.

    Examples
    --------
    >>> point = pd.Series(10.0, index=pd.date_range("2026-06-21", "2026-07-05"))  # 10 June days: total 100
    >>> paths = np.full((15, 2), 10.0) * [np.expm1(np.log1p(100) + 0.1) / 100, np.expm1(np.log1p(100) - 0.1) / 100]
    >>> out = scale_paths(paths, point, factor=3.0)
    >>> (np.log1p(out[:10].sum(axis=0)) - np.log1p(100)).round(9).tolist()
    [0.3, -0.3]
    """  # noqa: D205
    days = pd.DatetimeIndex(point.index)
    n = int((days.to_period("M") == days[0].to_period("M")).sum())
    total_f = float(np.clip(point.to_numpy(float)[:n], 0, None).sum())
    paths = np.clip(np.asarray(samples, float), 0, None)
    totals = paths[:n].sum(axis=0)
    target = np.expm1(np.log1p(total_f) + factor * (np.log1p(totals) - np.log1p(total_f)))
    ratio = np.divide(np.clip(target, 0, None), totals, out=np.ones_like(totals), where=totals > 0)
    return paths * ratio[None, :]


def loo_coverage(residuals: pd.DataFrame, *, level: float = 0.8,
                 min_residuals: int = MIN_RESIDUALS) -> pd.DataFrame:  # fmt: skip
    """Return calibrated coverage estimated leave-one-origin-out, per series and model, beside the raw coverage.

    For each origin, the factors are fitted on the other origins' residuals and the held-out origin's days are
    scored: covered when the score is at most the factor (the raw interval, factor 1, when the other origins
    are too few to calibrate on). Coverages are means over origins, as the backtest's.

    Returns
    -------
    pandas.DataFrame
        ``series``, ``model``, ``coverage_cal`` (days, calibrated), ``cum_coverage`` (month-to-go totals inside
        the raw paths' interval) and ``cum_coverage_cal`` (inside the calibrated paths' interval).
    """
    columns = ["series", "model", "coverage_cal", "cum_coverage", "cum_coverage_cal"]
    if residuals.empty:
        return pd.DataFrame(columns=columns)
    scored = scores(residuals)
    rows = []
    for (name, model), part in scored.groupby(["series", "model"], sort=False):
        folds = []
        for origin, held in part.groupby("origin"):
            cal = fit_calibration(part[part["origin"] != origin], level=level, min_residuals=min_residuals)
            daily = held[held["score"].notna()]
            cum = held["cum_score"].dropna()
            k_day, k_path = cal.factor_at(daily["step"]), cal.path_factor if cal.path_factor is not None else 1.0
            folds.append({"coverage_cal": np.mean(daily["score"] <= k_day + 1e-9) if len(daily) else np.nan,
                          "cum_coverage": np.mean(cum <= 1 + 1e-9) if len(cum) else np.nan,
                          "cum_coverage_cal": np.mean(cum <= k_path + 1e-9) if len(cum) else np.nan})
        means = pd.DataFrame(folds).mean()
        rows.append({"series": name, "model": model, **{k: float(means[k]) for k in columns[2:]}})
    return pd.DataFrame(rows, columns=columns)


def calibration_table(calibrations: Mapping[str, Calibration]) -> pd.DataFrame:
    """Return one row per series: ``series``, ``model``, ``method``, ``factors`` (text: per step bucket, one if pooled),
    ``path_factor``, ``residuals``, ``origins``, ``note``."""  # noqa: D205, D209
    rows = [{"series": c.series or name, "model": c.model, "method": c.method,
             "factors": "/".join(f"{f:.2f}" for f in dict.fromkeys(c.factors) if c.method == "pooled")
             or "/".join(f"{f:.2f}" for f in c.factors) or "-",
             "path_factor": c.path_factor, "residuals": c.n_residuals, "origins": c.n_origins, "note": c.note}
            for name, c in calibrations.items()]  # fmt: skip
    return pd.DataFrame(rows, columns=["series", "model", "method", "factors", "path_factor", "residuals", "origins",
                                       "note"])  # fmt: skip
