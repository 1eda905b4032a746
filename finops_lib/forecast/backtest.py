"""Backtests: every model on the same rolling origins, accuracy metrics, FinOps bands and the model choice.

A backtest origin is the last day of a simulated history: each model is fitted on the days up to the origin
and forecasts the next ``horizon`` days (and to the end of the month it started, for the month total). Origins
are ``spacing`` days apart, the latest ``horizon`` days before the last day of data (:func:`rolling_origins`).

Metrics (registry :data:`ACCURACY_METRICS`, decorator :func:`register_accuracy_metric`), per origin, over the first
``horizon`` forecast days. Point metrics leave out anomaly days (1-3 day outliers of the whole series, as
:func:`finops_lib.forecast.models.outlier_mask` finds them; counted in ``anomaly_days``): no model can
forecast a leaked key, and the FinOps Foundation's accuracy KPI is stated "when there are no anomalies". The
month-total error keeps every day: it is what finance sees.

``mae``
    Mean absolute error, in the series' unit.
``smape``
    Symmetric MAPE in percent, ``200 * |f - a| / (|a| + |f|)`` averaged over days; a day where both are 0
    counts as 0 (no error), so zero days never drop the metric (Prophet's own MAPE is skipped near 0).
``mase``
    MAE divided by the in-sample MAE of the weekly seasonal naive forecast (``|y_t - y_{t-7}|`` over the
    history): below 1 beats last week's value on average (Hyndman & Koehler 2006). Undefined (NaN, with a note)
    when the history is constant week over week.
``coverage``
    Share of actual days inside the model's own prediction interval (nominal 80 %). :meth:`Backtest.accuracy`
    adds the calibrated coverage, leave-one-origin-out (:func:`finops_lib.forecast.calibrate.loo_coverage`), and the
    coverage of month-to-go totals by the sample paths, raw and calibrated.
``month_total_error_pct``
    For origin ``c``, month ``M`` is the calendar month of ``c + 1``: projected total = actual spend of ``M`` up
    to ``c`` + forecast for the rest of ``M``; the error is ``100 * (projected - actual(M)) / actual(M)``, signed.
    NaN (with a note) when ``M`` is not complete in the data or its actual total is 0.

The FinOps band of an absolute month-total error: ``<=12%`` (the FinOps Foundation's Run maturity),
``<=20%`` (Crawl), else ``>20%``. A model is chosen per series by the lowest mean MASE over the origins (the
lowest mean MAE where MASE is undefined); :func:`choose_models` states the reason. A series too short to
backtest falls back to seasonal naive (mean below a week), and says so.

The backtest keeps every scored day's actual, forecast and raw bounds (``Backtest.residuals``): they calibrate the
final forecasts' intervals and sample paths (:mod:`finops_lib.forecast.calibrate`, ``fit_forecasts(calibration=...)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from finops_lib import forecast as fc
from finops_lib.errors import ParameterError
from finops_lib.forecast import calibrate as cb
from finops_lib.forecast.models import MODELS, SEASON, Forecast, Options, check_history, outlier_mask
from finops_lib.registry import Registry

__all__ = [
    "ACCURACY_METRICS",
    "BANDS",
    "DEFAULT_MODELS",
    "Backtest",
    "Window",
    "backtest",
    "choose_models",
    "finops_band",
    "fit_forecasts",
    "month_total_error",
    "register_accuracy_metric",
    "rolling_origins",
]  # fmt: skip

DEFAULT_MODELS: tuple[str, ...] = ("seasonal_naive", "drift", "ets", "prophet", "prophet_multiplicative")
#: FinOps variance bands of the month-total error (upper bound in percent, label).
BANDS: tuple[tuple[float, str], ...] = ((12.0, "<=12% (Run)"), (20.0, "<=20% (Crawl)"))


@dataclass(frozen=True)
class Window:
    """What a metric sees at one origin.

    Attributes
    ----------
    history
        The series up to the origin.
    actual, forecast
        Actual values and the forecast frame (``forecast``, ``lower``, ``upper``) of the ``horizon`` days scored.
    series, full
        The whole series and the whole point forecast (to the end of the month, for month totals).
    anomalies
        True on the series' anomaly days (:func:`finops_lib.forecast.models.outlier_mask` of the whole series).
    """

    history: pd.Series
    actual: pd.Series
    forecast: pd.DataFrame
    series: pd.Series
    full: pd.Series
    anomalies: pd.Series | None = None

    def normal(self) -> tuple[pd.Series, pd.DataFrame]:
        """Return the actuals and forecast rows of the scored days that are not anomalies."""
        if self.anomalies is None:
            return self.actual, self.forecast
        keep = ~self.anomalies.reindex(self.actual.index, fill_value=False).to_numpy()
        return self.actual[keep], self.forecast[keep]


Metric = Callable[[Window], tuple[float, str]]
#: The registry of accuracy metrics: name -> function returning ``(value, note)`` (note empty when defined).
ACCURACY_METRICS: Registry[Metric] = Registry("accuracy metric")


def register_accuracy_metric(name: str) -> Callable[[Metric], Metric]:
    """Register an accuracy metric ``(Window) -> (value, note)`` under ``name``."""
    return ACCURACY_METRICS.register(name)


@register_accuracy_metric("mae")
def mae(w: Window) -> tuple[float, str]:
    """Mean absolute error."""
    actual, forecast = w.normal()
    return float(np.mean(np.abs(forecast["forecast"].to_numpy() - actual.to_numpy()))), ""


@register_accuracy_metric("smape")
def smape(w: Window) -> tuple[float, str]:
    """Symmetric MAPE in percent; days where actual and forecast are both 0 count as 0.

    Examples
    --------
    >>> days = pd.date_range("2026-01-01", periods=2)
    >>> f = pd.DataFrame({"forecast": [0.0, 30.0]}, index=days)
    >>> w = Window(pd.Series(dtype=float), pd.Series([0.0, 10.0], index=days), f, f["forecast"], f["forecast"])
    >>> smape(w)
    (50.0, '')
    """
    actual, forecast = w.normal()
    a, f = actual.to_numpy(), forecast["forecast"].to_numpy()
    denom = np.abs(a) + np.abs(f)
    terms = np.divide(200 * np.abs(f - a), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(np.mean(terms)), ""


@register_accuracy_metric("mase")
def mase(w: Window) -> tuple[float, str]:
    """MAE scaled by the history's in-sample weekly seasonal naive MAE (pairs of normal days)."""
    values = w.history.to_numpy()
    odd = np.zeros(len(values), dtype=bool) if w.anomalies is None else \
        w.anomalies.reindex(w.history.index, fill_value=False).to_numpy()
    pairs = ~(odd[SEASON:] | odd[:-SEASON])
    diffs = np.abs(values[SEASON:] - values[:-SEASON])[pairs]
    scale = float(np.mean(diffs)) if len(diffs) else 0.0
    if scale == 0:
        return float("nan"), "MASE undefined: history constant week over week (or shorter than 8 days)"
    return mae(w)[0] / scale, ""


@register_accuracy_metric("coverage")
def coverage(w: Window) -> tuple[float, str]:
    """Share of actuals inside the forecast interval."""
    actual, forecast = w.normal()
    inside = (actual >= forecast["lower"] - 1e-9) & (actual <= forecast["upper"] + 1e-9)
    return float(inside.mean()), ""


def month_total_error(series: pd.Series, history_end: pd.Timestamp, forecast: pd.Series) -> tuple[float, str]:
    """Return the signed month-total error in percent for a forecast made at ``history_end`` (module docstring).

    Examples
    --------
    >>> days = pd.date_range("2026-06-01", periods=30)
    >>> actual = pd.Series(10.0, index=days)
    >>> month_total_error(actual, days[9], pd.Series(11.0, index=days[10:]))
    (6.666666666666667, '')
    """
    start = history_end + pd.Timedelta(days=1)
    month = pd.Period(start, freq="M")
    first, last = month.start_time.normalize(), month.end_time.normalize()
    if last > series.index[-1] or first < series.index[0]:
        return float("nan"), f"month {month} not complete in the data"
    if forecast.index[-1] < last:
        return float("nan"), f"forecast stops before the end of {month}"
    actual = float(series[first:last].sum())
    if actual == 0:
        return float("nan"), f"no actual spend in {month}"
    projected = float(series[first:history_end].sum() + forecast[start:last].sum())
    return 100 * (projected - actual) / actual, ""


@register_accuracy_metric("month_total_error_pct")
def _month_total(w: Window) -> tuple[float, str]:
    return month_total_error(w.series, w.history.index[-1], w.full)


def finops_band(error_pct: float) -> str:
    """Return the FinOps band of a month-total error (sign ignored); ``n/a`` when undefined.

    Examples
    --------
    >>> finops_band(-11.5), finops_band(19.0), finops_band(25.0)
    ('<=12% (Run)', '<=20% (Crawl)', '>20%')
    """
    if not np.isfinite(error_pct):
        return "n/a"
    return next((label for bound, label in BANDS if abs(error_pct) <= bound), ">20%")


def rolling_origins(index: pd.DatetimeIndex, *, horizon: int, n_origins: int = 4, spacing: int = 30,
                    min_history: int | None = None) -> list[pd.Timestamp]:  # fmt: skip
    """Return backtest origins (last history days), oldest first: ``end - horizon - k * spacing``.

    Origins leaving fewer than ``min_history`` days of history are dropped (default ``3 * horizon``, Prophet's
    own ``cross_validation`` default, and at least 4 weeks): a 60-day history says little about 30 days ahead.

    Examples
    --------
    >>> days = pd.date_range("2026-05-05", "2026-10-31")
    >>> [o.date().isoformat() for o in rolling_origins(days, horizon=30)]
    ['2026-08-02', '2026-09-01', '2026-10-01']
    >>> len(rolling_origins(days, horizon=30, min_history=28))
    4
    """
    if horizon < 1 or n_origins < 1 or spacing < 1:
        raise ParameterError("horizon, n_origins and spacing must be positive")
    min_history = max(3 * horizon, 4 * SEASON) if min_history is None else min_history
    origins = [index[-1] - pd.Timedelta(days=horizon + k * spacing) for k in range(n_origins)]
    return sorted(o for o in origins if (o - index[0]).days + 1 >= min_history)


def _steps(origin: pd.Timestamp, horizon: int) -> int:
    month_end = pd.Period(origin + pd.Timedelta(days=1), freq="M").end_time.normalize()
    return max(horizon, (month_end - origin).days)


def _options(options: Options, events: Sequence[fc.Event], history: pd.Series, steps: int, name: str) -> Options:
    regressors = fc.event_regressors(events, history, steps, series=name)
    return Options(options.interval, options.country, regressors if len(regressors.columns) else None, options.seed)


@dataclass(frozen=True)
class Backtest:
    """Backtest results.

    Attributes
    ----------
    errors
        One row per series, model and origin: the metrics of :data:`ACCURACY_METRICS`, ``band`` and ``note``.
    horizon
        Forecast days scored.
    residuals
        Every scored day per series, model and origin (:func:`finops_lib.forecast.calibrate.residual_rows`).
    level
        Nominal coverage of the intervals.
    """

    errors: pd.DataFrame
    horizon: int
    residuals: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(cb.RESIDUAL_COLUMNS)))
    level: float = 0.8

    def accuracy(self) -> pd.DataFrame:
        """Mean metrics per series and model over the origins (month error: mean absolute), with bands.

        Columns: ``series``, ``model``, ``origins`` (scored), the metrics, ``mase_vs_naive`` (the model's MAE
        divided by weekly seasonal naive's MAE at the same origins: below 1 beats last week's values there; the
        standard ``mase`` divides by the history's in-sample week-over-week change instead), ``coverage_cal``,
        ``cum_coverage`` and ``cum_coverage_cal`` (:func:`finops_lib.forecast.calibrate.loo_coverage`), ``anomaly_days``
        (left out of the point metrics), ``band``, ``note`` (why a metric is missing, or the fallback used).
        """
        e = self.errors.assign(abs_month=self.errors["month_total_error_pct"].abs())
        out = e.groupby(["series", "model"], sort=False).agg(
            origins=("mae", "count"), mae=("mae", "mean"), smape=("smape", "mean"), mase=("mase", "mean"),
            coverage=("coverage", "mean"), month_total_error_pct=("abs_month", "mean"),
            anomaly_days=("anomaly_days", "max"),
            note=("note", lambda s: "; ".join(dict.fromkeys(x for x in s if x)))).reset_index()  # fmt: skip
        naive = out[out["model"] == "seasonal_naive"].set_index("series")["mae"]
        out["mase_vs_naive"] = out["mae"] / out["series"].map(naive).where(lambda v: v > 0)
        out["band"] = out["month_total_error_pct"].map(finops_band)
        out = out.merge(cb.loo_coverage(self.residuals, level=self.level), on=["series", "model"], how="left")
        return out[["series", "model", "origins", "mae", "smape", "mase", "mase_vs_naive", "coverage", "coverage_cal",
                    "cum_coverage", "cum_coverage_cal", "month_total_error_pct", "anomaly_days", "band", "note"]]


def backtest(series: Mapping[str, pd.Series], *, horizon: int = 30, models: Sequence[str] = DEFAULT_MODELS,
             n_origins: int = 4, spacing: int = 30, options: Options | None = None,
             events: Sequence[fc.Event] = (), workers: int = 2, progress: bool | fc.Progress = False,
             on: object = None) -> Backtest:  # fmt: skip
    """Backtest ``models`` on every series at the same rolling origins (fits run in parallel).

    Parameters
    ----------
    series
        ``{name: daily values}`` (:func:`finops_lib.forecast.series.series_map`).
    horizon, n_origins, spacing
        Days scored per origin, number of origins and days between them (:func:`rolling_origins`).
    models
        Keys of :data:`finops_lib.forecast.models.MODELS`.
    options, events
        Model options and known events (only those before an origin become regressors there).
    workers, progress, on
        Processes, a tqdm bar (True) or a ``(done, total)`` callback, and the connection the series came from: a
        Spark one fits on its workers (:func:`finops_lib.forecast.parallel.run_tasks`).

    Returns
    -------
    Backtest
    """
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ParameterError(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")
    options = options or Options()
    tasks, skipped = [], []
    for name, values in series.items():
        values = check_history(values, name=name)
        for origin in rolling_origins(values.index, horizon=horizon, n_origins=n_origins, spacing=spacing):
            history = values[:origin]
            steps = _steps(origin, horizon)
            for model in models:
                if len(history) < MODELS[model].min_history:
                    skipped.append({"series": name, "model": model, "origin": origin, "note":
                                    f"{model} needs {MODELS[model].min_history} days of history, has {len(history)}"})
                    continue
                tasks.append(fc.Task((name, model, origin), model, history, steps,
                                     _options(options, events, history, steps, name)))  # fmt: skip
    results = fc.run_tasks(tasks, workers=workers, progress=progress, desc="backtest fits", on=on)
    scored = [_score(series[name], origin, horizon, forecast, events, name, model, options.interval)
              for (name, model, origin), forecast in results.items()]  # fmt: skip
    rows = [row for row, _ in scored]
    residuals = pd.concat([r for _, r in scored], ignore_index=True) if scored else \
        pd.DataFrame(columns=list(cb.RESIDUAL_COLUMNS))  # fmt: skip
    columns = ["series", "model", "origin", *ACCURACY_METRICS, "anomaly_days", "band", "note"]
    frame = pd.DataFrame(rows + skipped, columns=columns)
    frame["band"] = frame["month_total_error_pct"].astype(float).map(finops_band)
    frame = frame.astype({m: float for m in ACCURACY_METRICS})
    order = {name: i for i, name in enumerate(series)}
    frame = frame.sort_values(["series", "model", "origin"], key=lambda s: s.map(order) if s.name == "series" else s)
    return Backtest(frame.reset_index(drop=True), horizon, residuals, options.interval)


def _score(values: pd.Series, origin: pd.Timestamp, horizon: int, forecast: Forecast, events: Sequence[fc.Event],
           name: str, model: str, level: float) -> tuple[dict[str, object], pd.DataFrame]:  # fmt: skip
    forecast = fc.apply_events(forecast, [e for e in events if pd.Timestamp(e.day) > origin], series=name)
    frame = forecast.frame.iloc[:horizon]
    anomalies = outlier_mask(values)
    window = Window(values[:origin], values.reindex(frame.index), frame, values, forecast.frame["forecast"], anomalies)
    row: dict[str, object] = {"series": name, "model": model, "origin": origin,
                              "anomaly_days": int(anomalies.reindex(frame.index, fill_value=False).sum())}
    notes = [forecast.note] if forecast.note else []
    for metric, fn in ACCURACY_METRICS.items():
        row[metric], note = fn(window)
        notes += [note] if note else []
    row["note"] = "; ".join(notes)
    residuals = cb.residual_rows(values, origin, forecast, anomalies=anomalies, horizon=horizon, level=level,
                                 series=name, model=model)  # fmt: skip
    return row, residuals


_PREFERENCE = {name: i for i, name in enumerate(DEFAULT_MODELS)}  # simpler models win ties


def choose_models(accuracy: pd.DataFrame, series: Mapping[str, pd.Series] | None = None, *,
                  horizon: int = 30) -> pd.DataFrame:  # fmt: skip
    """Choose a model per series from :meth:`Backtest.accuracy`; say why.

    Lowest mean MASE among the models scored on the most origins (lowest mean MAE where MASE is undefined);
    ties go to the simpler model. Series of ``series`` without any scored model fall back to seasonal naive
    (``mean`` below a week of history).

    Returns
    -------
    pandas.DataFrame
        ``series``, ``model``, ``reason``.
    """
    rows = []
    for name, part in accuracy.groupby("series", sort=False):
        part = part[part["origins"] == part["origins"].max()]
        part = part[part["origins"] > 0]
        if part.empty:
            continue
        key = "mase" if part["mase"].notna().any() else "mae"
        ranked = part.assign(_p=part["model"].map(_PREFERENCE).fillna(99)).sort_values([key, "_p"], na_position="last")
        best = ranked.iloc[0]
        runner = (f"; next {ranked.iloc[1]['model']} {ranked.iloc[1][key]:.2f}" if len(ranked) > 1 else "")
        month = (f"; month-total error {best['month_total_error_pct']:.1f}% ({best['band']})"
                 if np.isfinite(best["month_total_error_pct"]) else "; month-total error n/a")  # fmt: skip
        rows.append({"series": name, "model": best["model"], "reason": f"lowest mean {key.upper()} "
                     f"{best[key]:.2f} over {int(best['origins'])} origin(s){runner}{month}"})  # fmt: skip
    chosen = {r["series"] for r in rows}
    for name, values in (series or {}).items():
        if name not in chosen:
            model = "seasonal_naive" if len(values) >= SEASON else "mean"
            rows.append({"series": name, "model": model, "reason": f"history of {len(values)} days is too short to "
                         f"backtest a {horizon}-day horizon: {model.replace('_', ' ')} by rule"})  # fmt: skip
    return pd.DataFrame(rows, columns=["series", "model", "reason"])


def fit_forecasts(series: Mapping[str, pd.Series], models: Mapping[str, str] | str, *, horizon: int = 30,
                  options: Options | None = None, events: Iterable[fc.Event] = (), workers: int = 2,
                  progress: bool | fc.Progress = False, calibration: Mapping[str, cb.Calibration] | None = None,
                  on: object = None) -> dict[str, Forecast]:  # fmt: skip
    """Fit each series' model on its whole history and forecast ``horizon`` days (to the month's end at least).

    ``models`` is one model name for every series or ``{series: model}`` (:func:`choose_models`). A model needing
    more history than the series has is replaced by seasonal naive (``mean`` below a week), noted.
    ``calibration`` (:func:`finops_lib.forecast.calibrate.calibrate`) rescales each series' interval and sample paths to
    its backtest errors, before future events are applied; a calibration made for another model than the one
    fitted is not applied, and the note says so.
    """
    options, events = options or Options(), list(events)
    tasks = []
    for name, values in series.items():
        model = models if isinstance(models, str) else models.get(name, "seasonal_naive")
        if model not in MODELS:
            raise ParameterError(f"unknown model {model!r}; choose from {', '.join(MODELS)}")
        if len(values) < MODELS[model].min_history:
            model = "seasonal_naive" if len(values) >= SEASON else "mean"
        steps = _steps(values.index[-1], horizon)
        tasks.append(fc.Task((name,), model, values, steps, _options(options, events, values, steps, name)))
    results = fc.run_tasks(tasks, workers=workers, progress=progress, desc="forecast fits", on=on)
    calibration = calibration or {}
    return {name: fc.apply_events(cb.apply_calibration(results[(name,)], calibration.get(name)), events, series=name)
            for name in series}  # fmt: skip
