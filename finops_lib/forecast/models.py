"""Forecast models behind one contract: a registry, the series checks, robust cleaning and the baselines.

Every model is a function ``(history, steps, options) -> Forecast`` registered with :func:`register_model`;
:mod:`finops_lib.forecast` adds Prophet, :mod:`finops_lib.forecast.backtest` compares them all on the same rolling
origins. The baselines are the yardsticks a forecast must beat:

``seasonal_naive``
    Next week repeats the last week (m = 7). Intervals: ``sigma * sqrt(k + 1)`` with ``k`` the whole weeks
    ahead and ``sigma`` the standard deviation of in-sample week-over-week changes (Hyndman, FPP 5.5).
``drift``
    Seasonal naive plus the average week-over-week change since the first week (FPP's drift applied to the
    weekly lag, so weekends stay weekends), fitted on the cleaned history.
``ets``
    Holt-Winters with a damped additive trend and additive weekly seasonality on ``log1p(spend)`` (so
    seasonality and growth act in percent and zero days are allowed), statsmodels, cleaned history;
    intervals and sample paths from 200 simulated futures.

History contract (checked by :func:`check_history`): a float ``pandas.Series`` on a complete daily
``DatetimeIndex`` (every day present, zero days explicit), finite and non-negative.

Cleaning (:func:`clean_history`): a day is an outlier when its ``log1p`` value is more than ``log(1.6)`` and
6 robust standard deviations away from the median of the same weekday in the two weeks before and after, and it
belongs to a run of at most 3 such days (anomalies of the sample last 1-3 days); longer runs are level shifts
and are kept. Outliers are replaced by that median for ETS and drift, and left out (NaN) for Prophet.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from finops_lib.errors import ParameterError
from finops_lib.registry import Registry

__all__ = ["MODELS", "Forecast", "ModelSpec", "Options", "check_history", "clean_history", "register_model",
           "seasonal_naive_values"]  # fmt: skip

SEASON = 7
N_SAMPLES = 200
_OUTLIER_RATIO = np.log(1.6)
_MAX_RUN = 3


@dataclass(frozen=True)
class Options:
    """Options every model receives (models ignore what they do not use).

    Attributes
    ----------
    interval
        Width of the prediction interval (0.8 = 80 %, Prophet's default).
    country
        ISO country code for Prophet's public holidays; empty for none.
    regressors
        Step regressors over history and future (0 before, 1 from an event's day), indexed by day, one column
        per known past event; Prophet uses them, the baselines do not.
    seed
        Seed of the sample paths.
    """

    interval: float = 0.8
    country: str = ""
    regressors: pd.DataFrame | None = None
    seed: int = 0


@dataclass(frozen=True)
class Forecast:
    """A forecast of one series: point, interval bounds and sample paths, per future day.

    Attributes
    ----------
    frame
        Indexed by day: ``forecast`` (point), ``lower`` and ``upper`` (interval bounds), all >= 0; after
        :func:`finops_lib.forecast.calibrate.apply_calibration` also ``lower_raw`` and ``upper_raw`` (the model's own).
    samples
        Sample paths, shape ``(days, N_SAMPLES)``, for probabilities of month totals; None if the model has none.
    model
        The registered model name.
    note
        How the forecast was made when it deviates from the model's description (fallbacks, calibration).
    samples_raw
        The model's own sample paths when ``samples`` were calibrated (None otherwise).
    """

    frame: pd.DataFrame
    samples: np.ndarray | None = field(default=None, repr=False)
    model: str = ""
    note: str = ""
    samples_raw: np.ndarray | None = field(default=None, repr=False)


Fitter = Callable[[pd.Series, int, Options], Forecast]


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its function, a one-line description and the history it needs (days)."""

    name: str
    fit: Fitter
    description: str
    min_history: int


#: The registry of forecast models, by name.
MODELS: Registry[ModelSpec] = Registry("forecast model")


def register_model(name: str, *, description: str, min_history: int = 2 * SEASON) -> Callable[[Fitter], Fitter]:
    """Register a forecast model under ``name``.

    Parameters
    ----------
    name
        Registry key (``prophet``, ``ets`` ...).
    description
        One line for tables and reasons.
    min_history
        Fewer history days than this make :mod:`finops_lib.forecast.backtest` fall back to seasonal naive.

    Examples
    --------
    >>> @register_model("zero", description="always zero", min_history=1)
    ... def _zero(history, steps, options):
    ...     return Forecast(future_frame(history, np.zeros(steps)), model="zero")
    >>> MODELS["zero"].description
    'always zero'
    >>> _ = MODELS.pop("zero")
    """
    return MODELS.register(name, make=lambda fn: ModelSpec(name, fn, description, min_history))


def check_history(history: pd.Series, *, name: str = "series") -> pd.Series:
    """Return ``history`` as float after checking the contract (daily, complete, finite, non-negative).

    Raises
    ------
    ParameterError
        Naming the series and the first offending day.

    Examples
    --------
    >>> days = pd.date_range("2026-01-01", periods=3)
    >>> check_history(pd.Series([1, 2, 3], index=days)).dtype
    dtype('float64')
    >>> check_history(pd.Series([1.0, -2.0, 3.0], index=days), name="team a")
    Traceback (most recent call last):
    ...
    finops_lib.errors.ParameterError: team a: negative value -2.0 on 2026-01-02
    """
    if not isinstance(history.index, pd.DatetimeIndex) or len(history) == 0:
        raise ParameterError(f"{name}: needs a non-empty series indexed by day")
    expected = pd.date_range(history.index[0], periods=len(history), freq="D")
    if not history.index.equals(expected):
        gap = next((want for day, want in zip(history.index, expected, strict=True) if day != want), expected[-1])
        raise ParameterError(f"{name}: days must be consecutive and complete (fill zero days); first missing day "
                             f"{pd.Timestamp(gap).date()}")  # fmt: skip
    values = pd.to_numeric(history, errors="coerce").astype(float)
    for bad, problem in ((~np.isfinite(values), "missing or infinite value"), (values < 0, "negative value")):
        if bad.any():
            day = values.index[bad.to_numpy()][0]
            raise ParameterError(f"{name}: {problem} {float(values[day])!r} on {day.date()}")
    return values


def future_frame(history: pd.Series, point: np.ndarray, lower: np.ndarray | None = None,
                 upper: np.ndarray | None = None) -> pd.DataFrame:  # fmt: skip
    """Return the forecast frame for the days after ``history`` (bounds default to the point)."""
    days = pd.date_range(history.index[-1] + pd.Timedelta(days=1), periods=len(point), freq="D")
    point = np.clip(point, 0, None)
    out = pd.DataFrame({"forecast": point, "lower": point if lower is None else np.clip(lower, 0, None),
                        "upper": point if upper is None else np.clip(upper, 0, None)}, index=days)  # fmt: skip
    out.index.name = "day"
    return out


def from_samples(history: pd.Series, point: np.ndarray, samples: np.ndarray, options: Options,
                 *, model: str, note: str = "") -> Forecast:  # fmt: skip
    """Return a :class:`Forecast` whose bounds are the sample paths' quantiles (samples clipped at 0)."""
    samples = np.clip(samples, 0, None)
    tail = (1 - options.interval) / 2
    lower, upper = np.quantile(samples, [tail, 1 - tail], axis=1)
    return Forecast(future_frame(history, point, lower, upper), samples, model, note)


def _weekday_reference(z: np.ndarray) -> np.ndarray:
    """Median of the same weekday in the two weeks before and after each day (NaN where none)."""
    n = len(z)
    ref = np.full(n, np.nan)
    for i in range(n):
        around = [z[j] for j in (i - 14, i - 7, i + 7, i + 14) if 0 <= j < n and np.isfinite(z[j])]
        if around:
            ref[i] = float(np.median(around))
    return ref


def outlier_mask(history: pd.Series) -> pd.Series:
    """Return True on the days :func:`clean_history` treats as outliers (see the module docstring).

    Examples
    --------
    >>> days = pd.date_range("2026-01-05", periods=42)
    >>> spend = pd.Series(np.tile([10.0, 10, 10, 10, 10, 4, 4], 6), index=days)
    >>> spend.iloc[20] = 60.0
    >>> outlier_mask(spend)[outlier_mask(spend)].index.strftime("%Y-%m-%d").tolist()
    ['2026-01-25']
    """
    z = np.log1p(history.to_numpy(dtype=float))
    flagged = np.zeros(len(z), dtype=bool)
    for _ in range(2):  # the second pass leaves the first pass' outliers out of the references
        resid = z - _weekday_reference(np.where(flagged, np.nan, z))
        finite = resid[np.isfinite(resid)]
        mad = 1.4826 * float(np.median(np.abs(finite - np.median(finite)))) if len(finite) else 0.0
        flagged = np.isfinite(resid) & (np.abs(resid) > max(_OUTLIER_RATIO, 6 * mad))
    return pd.Series(_short_runs(flagged), index=history.index)


def _short_runs(flagged: np.ndarray) -> np.ndarray:
    """Keep flagged clusters (runs joined across gaps of up to 2 days) of at most 3 flagged days.

    A cluster reaching the last day is never kept: it may be the start of a new level.
    """
    out = np.zeros(len(flagged), dtype=bool)
    days = np.flatnonzero(flagged)
    if not len(days):
        return out
    clusters = np.split(days, np.flatnonzero(np.diff(days) > 3) + 1)
    for cluster in clusters:
        if len(cluster) <= _MAX_RUN and cluster[-1] < len(flagged) - 1:
            out[cluster] = True
    return out


def clean_history(history: pd.Series) -> pd.Series:
    """Return ``history`` with outlier days replaced by the median of the same weekday around them."""
    mask = outlier_mask(history).to_numpy()
    if not mask.any():
        return history
    z = np.log1p(history.to_numpy(dtype=float))
    ref = _weekday_reference(np.where(mask, np.nan, z))
    cleaned = np.where(mask & np.isfinite(ref), np.expm1(np.nan_to_num(ref)), history.to_numpy(dtype=float))
    return pd.Series(cleaned, index=history.index)


def seasonal_naive_values(history: np.ndarray, steps: int) -> np.ndarray:
    """Repeat the last week: the value ``7 * ceil(h / 7)`` days before each future day ``h`` (1-based).

    Examples
    --------
    >>> seasonal_naive_values(np.arange(14.0), 9).tolist()
    [7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 7.0, 8.0]
    """
    last = history[-SEASON:] if len(history) >= SEASON else np.resize(history, SEASON)
    return np.array([last[k % SEASON] for k in range(steps)], dtype=float)


def _gaussian_paths(point: np.ndarray, sigma: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return point[:, None] + sigma[:, None] * rng.standard_normal((len(point), N_SAMPLES))


def _weekly_changes(values: np.ndarray) -> np.ndarray:
    return values[SEASON:] - values[:-SEASON] if len(values) > SEASON else np.zeros(1)


@register_model("seasonal_naive", description="last week repeated (weekly seasonal naive)", min_history=SEASON)
def seasonal_naive(history: pd.Series, steps: int, options: Options) -> Forecast:
    """Weekly seasonal naive with widening Gaussian intervals (see the module docstring)."""
    values = history.to_numpy(dtype=float)
    point = seasonal_naive_values(values, steps)
    sigma = float(np.std(_weekly_changes(values))) * np.sqrt(np.arange(steps) // SEASON + 1)
    return from_samples(history, point, _gaussian_paths(point, sigma, options.seed), options, model="seasonal_naive")


@register_model("drift", description="last week plus the average weekly change (seasonal drift)")
def drift(history: pd.Series, steps: int, options: Options) -> Forecast:
    """Seasonal naive plus drift, on the cleaned history (see the module docstring)."""
    values = clean_history(history).to_numpy(dtype=float)
    weeks_ahead = np.arange(steps) // SEASON + 1
    changes = _weekly_changes(values)
    slope = float(np.mean(changes))
    point = seasonal_naive_values(values, steps) + slope * weeks_ahead
    n_weeks = max(len(values) // SEASON - 1, 1)
    sigma = float(np.std(changes - slope)) * np.sqrt(weeks_ahead * (1 + weeks_ahead / n_weeks))
    return from_samples(history, point, _gaussian_paths(point, sigma, options.seed), options, model="drift")


@register_model("ets", description="Holt-Winters, damped trend, weekly seasonality, on log1p (statsmodels)",
                min_history=3 * SEASON)  # fmt: skip
def ets(history: pd.Series, steps: int, options: Options) -> Forecast:
    """Damped additive-trend, additive-seasonal exponential smoothing on ``log1p`` of the cleaned history."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing  # heavy import, only when fitted

    z = np.log1p(clean_history(history).to_numpy(dtype=float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of statsmodels' optimizer
        fit = ExponentialSmoothing(z, trend="add", damped_trend=True, seasonal="add",
                                   seasonal_periods=SEASON, initialization_method="estimated").fit()  # fmt: skip
        paths = fit.simulate(steps, repetitions=N_SAMPLES, error="add", random_errors="bootstrap",
                             random_state=options.seed)  # fmt: skip
    point = np.expm1(np.asarray(fit.forecast(steps), dtype=float))
    samples = np.expm1(np.asarray(paths, dtype=float).reshape(steps, N_SAMPLES))
    return from_samples(history, point, samples, options, model="ets")


@register_model("mean", description="mean of the history (fallback for very short series)", min_history=1)
def mean(history: pd.Series, steps: int, options: Options) -> Forecast:
    """Flat forecast at the history's mean; the fallback when there is less than a week of history."""
    values = history.to_numpy(dtype=float)
    point = np.full(steps, float(values.mean()))
    sigma = np.full(steps, float(values.std()))
    return from_samples(history, point, _gaussian_paths(point, sigma, options.seed), options, model="mean",
                        note=f"only {len(values)} day(s) of history: flat at the mean")  # fmt: skip
