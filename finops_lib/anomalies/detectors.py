"""Anomaly detection on daily (or hourly) cost, token and request series, total and per dimension.

Detectors are pluggable (:data:`DETECTORS`, :func:`register_detector`); each receives one regular series and
returns, per point, the expected value, the band and a score. :func:`scan` runs a detector over every series
of the facts (:mod:`finops_lib.facts.cells`), applies the money threshold and groups consecutive flagged
points into episodes; :func:`finops_lib.anomalies.run.detect_anomalies` explains and merges episodes into one alert
per anomaly (:mod:`finops_lib.anomalies.explain`).

Defaults, and why
-----------------
* ``robust_seasonal`` detector: the median of the same weekday over the last 6 weeks (in log space, so weekday
  and weekend levels and growth are handled multiplicatively), with a robust scale (1.4826 x MAD of the last
  8 weeks' residuals, at least 8 %). Points beyond the band are left out of later baselines (an anomaly does not
  raise its own baseline); after 7 consecutive points on the same side the change is taken as a level shift
  (a launch, a price cut), reported once at its start, and the baseline restarts from it.
* ``sensitivity = 4``: the band is +-4 robust standard deviations (with the 8 % floor: changes below about
  +-30 % are never flagged). Lower values report more; the evaluation table shows precision and recall from
  3 to 6.
* ``min_impact = "auto"``: a point is reported only when its money impact (for token and request series: the
  excess units at the series' recent cost per unit) is at least 0.25 % of the organisation's median daily spend,
  and at least one unit of the currency: about 1 USD a day on the sample (370 USD a day), 25 USD a day for an
  organisation spending 10,000 USD a day. Pass a number to set it in money.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from finops_lib.anomalies import forecast_band as band
from finops_lib.anomalies.series import (
    DEFAULTS,
    DIMENSIONS,
    METRICS,
    Grain,
    build_series,
    money_floats,
    resolve_min_impact,
    unit_cost,
)
from finops_lib.errors import ParameterError
from finops_lib.registry import Registry

__all__ = [
    "DEFAULTS",
    "DETECTORS",
    "DIMENSIONS",
    "GRAINS",
    "METRICS",
    "WEEKLY_HOURS",
    "Detector",
    "build_series",
    "episodes",
    "get_detector",
    "register_detector",
    "resolve_min_impact",
    "scan",
]

#: Scanned dimensions -> fact columns (an application is named with its team: ``legal/adhoc-scripts``).
GRAINS: dict[str, dict[str, int]] = {
    "day": {"period": 7, "seasons": 6, "window": 56, "shift_after": 7},
    "hour": {"period": 24, "seasons": 7, "window": 24 * 14, "shift_after": 24},
}
#: Hour-of-week baselines (the same hour of the same weekday over three weeks): for hourly series with a weekly
#: rhythm, where the daily period would read every quiet weekend as a level shift and every Monday as a spike.
WEEKLY_HOURS: dict[str, int] = {"period": 168, "seasons": 3, "window": 24 * 7, "shift_after": 24}


@dataclass(frozen=True)
class Detector:
    """A registered detector: ``func(values, *, sensitivity, **grain_options) -> frame`` (see :func:`scan`)."""

    name: str
    func: Callable[..., pd.DataFrame]
    description: str
    available: Callable[[], str | None]
    dimensions: tuple[str, ...] | None = None
    metrics: tuple[str, ...] | None = None

    def check(self) -> None:
        """Raise :class:`ParameterError` when the detector cannot run here (e.g. a missing optional module)."""
        problem = self.available()
        if problem:
            raise ParameterError(f"detector {self.name!r} is unavailable: {problem}")


DETECTORS: Registry[Detector] = Registry("detector")


def register_detector(
    name: str,
    *,
    description: str,
    available: Callable[[], str | None] | None = None,
    dimensions: tuple[str, ...] | None = None,
    metrics: tuple[str, ...] | None = None,
) -> Callable[[Callable], Callable]:
    """Register a detector under ``name``.

    ``available`` returns None when the detector can run, else the reason it cannot; ``dimensions`` and
    ``metrics`` restrict the series it scans (default: all).

    The function receives ``values`` (a float array, one point per day or hour, oldest first) and keyword
    arguments ``sensitivity``, ``period``, ``seasons``, ``window``, ``shift_after``; it returns a frame with one
    row per point: ``expected``, ``lower``, ``upper`` (NaN where it cannot judge yet), ``score`` (signed
    deviation in units of ``sensitivity``'s scale), ``outlier`` (bool) and ``shift`` (bool: part of a level shift).

    Examples
    --------
    >>> @register_detector("never", description="flags nothing")
    ... def never(values, *, sensitivity, **_):
    ...     n = len(values)
    ...     return pd.DataFrame({"expected": values, "lower": values, "upper": values, "score": np.zeros(n),
    ...                          "outlier": np.zeros(n, bool), "shift": np.zeros(n, bool)})
    >>> "never" in DETECTORS
    True
    >>> del DETECTORS["never"]
    """
    return DETECTORS.register(name, make=lambda func: Detector(name, func, description, available or (lambda: None),
                                                               dimensions, metrics))


def get_detector(name: str) -> Detector:
    """Return the registered detector ``name`` (raises :class:`ParameterError` when unknown or unavailable)."""
    detector = DETECTORS.lookup(name)
    detector.check()
    return detector


def _result(n: int) -> dict[str, np.ndarray]:
    return {
        "expected": np.full(n, np.nan),
        "lower": np.full(n, np.nan),
        "upper": np.full(n, np.nan),
        "score": np.full(n, np.nan),
        "outlier": np.zeros(n, bool),
        "shift": np.zeros(n, bool),
    }


def _median(values: list[float]) -> float:
    """Return the median of a non-empty list of floats, as ``numpy.median`` does (the mean of the middle two)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


class _Run:
    """Consecutive points on one side of the baseline (outliers, or at least half-way to the band).

    A run that lasts ``shift_after`` points and holds at least one outlier is a level shift.
    """

    def __init__(self) -> None:
        self.points: list[int] = []
        self.side = 0
        self.strong = False

    def add(self, t: int, side: int, strong: bool) -> None:
        if side != self.side:
            self.reset()
            self.side = side
        self.points.append(t)
        self.strong = self.strong or strong

    def reset(self) -> None:
        self.points, self.side, self.strong = [], 0, False


@register_detector(
    "robust_seasonal",
    description="median of the same weekday (hour) over recent seasons, robust "
    "MAD band, level shifts re-baselined (default)",
)
def robust_seasonal(
    values: np.ndarray,
    *,
    sensitivity: float,
    period: int = 7,
    seasons: int = 6,
    window: int = 56,
    shift_after: int = 7,
    min_scale: float = 0.08,
    min_points: int = 7,
) -> pd.DataFrame:
    """Seasonal robust baseline: see the module docstring.

    NaN points (partial days) are neither judged nor used. ``min_scale`` floors the band's log-scale width.

    Examples
    --------
    >>> week = [100.0, 100, 100, 100, 100, 20, 20]
    >>> values = np.array(week * 6 + [100, 400, 100, 100, 100, 20, 20]) * np.linspace(1, 1.1, 49)
    >>> res = robust_seasonal(values, sensitivity=4)
    >>> np.flatnonzero(res["outlier"]).tolist()
    [43]
    """
    y = np.asarray(values, dtype=float)
    n = len(y)
    out = _result(n)
    positive = y[y > 0]
    floor = 0.05 * float(np.median(positive)) if len(positive) else 1.0
    z = np.log(np.maximum(y, 0) + floor)
    excluded = np.isnan(y).tolist()  # left out of baselines
    zs = z.tolist()  # plain floats: the medians of a few values below are much faster than numpy's
    resid: list[float | None] = [None] * n  # residuals of normal points, for the scale
    start, run = 0, _Run()
    for t in range(n):
        if y[t] != y[t]:  # NaN
            continue
        hist = [zs[u] for u in (t - k * period for k in range(1, seasons + 1)) if u >= start and not excluded[u]]
        if len(hist) < (1 if start else 2):
            continue
        base = _median(hist)
        recent = [r for r in resid[max(0, t - window) : t] if r is not None]
        if len(recent) < min_points:
            resid[t] = zs[t] - base
            continue
        middle = _median(recent)
        scale = max(min_scale, 1.4826 * _median([abs(r - middle) for r in recent]))
        score = (zs[t] - base) / scale
        out["expected"][t] = np.exp(base) - floor
        out["lower"][t] = max(0.0, np.exp(base - sensitivity * scale) - floor)
        out["upper"][t] = np.exp(base + sensitivity * scale) - floor
        out["score"][t] = score
        strong = abs(score) > sensitivity
        if strong:
            out["outlier"][t] = excluded[t] = True
        else:
            resid[t] = zs[t] - base
        if abs(score) < sensitivity / 2:
            run.reset()
            continue
        run.add(t, int(np.sign(score)), strong)
        if len(run.points) >= shift_after and run.strong:  # a level shift: restart the baseline at its start
            out["shift"][run.points] = out["outlier"][run.points]
            for u in run.points:
                excluded[u] = False
            start = run.points[0]
            run.reset()
    return pd.DataFrame(out)


def _forecast_problem() -> str | None:
    if band.interval_function() is None:
        return (
            f"forecast model {band.MODEL!r} cannot be imported or is not "
            "registered; use robust_seasonal"
        )
    return None


@register_detector(
    "forecast_interval",
    description="actual outside the forecasting module's prediction band "
    "(weekly refits; cost of total, providers, teams, applications)",
    available=_forecast_problem,
    dimensions=("total", "provider", "team", "application"),
    metrics=("cost",),
)
def forecast_interval(values: np.ndarray, *, sensitivity: float, **options: int) -> pd.DataFrame:
    """Flag points outside the forecast band (see :mod:`finops_lib.anomalies.forecast_band`)."""
    return band.forecast_band(values, sensitivity=sensitivity, **options)


def scan(
    facts: pd.DataFrame,
    *,
    detector: str = DEFAULTS["detector"],
    sensitivity: float = DEFAULTS["sensitivity"],
    min_impact: float | str | None = DEFAULTS["min_impact"],
    grain: Grain = "day",
    dimensions: tuple[str, ...] = tuple(DIMENSIONS),
    metrics: tuple[str, ...] = METRICS,
    options: dict[str, int] | None = None,
) -> pd.DataFrame:
    """Run a detector on every series of ``facts``; return every scored point.

    ``options`` override the grain's seasonal settings (:data:`GRAINS`; :data:`WEEKLY_HOURS` for hour-of-week
    baselines).

    Returns
    -------
    pandas.DataFrame
        ``dimension``, ``key``, ``metric``, ``day``, ``actual``, ``expected``, ``lower``, ``upper``, ``score``,
        ``impact`` (money: actual - expected, in cost units; for tokens/requests the excess at the recent cost
        per unit), ``outlier``, ``shift`` and ``reported`` (an outlier whose |impact| reaches the threshold).
    """
    check_options(sensitivity=sensitivity, grain=grain)
    found = get_detector(detector)
    facts = facts.assign(cost=money_floats(facts["cost"]))  # once, not once per series
    threshold = resolve_min_impact(facts, min_impact, grain=grain)
    options = {**GRAINS[grain], **(options or {})}
    frames = []
    dimensions = tuple(d for d in dimensions if found.dimensions is None or d in found.dimensions)
    metrics = tuple(m for m in metrics if found.metrics is None or m in found.metrics)
    for dimension in dimensions:
        for metric in metrics:
            series = build_series(facts, dimension=dimension, metric=metric, grain=grain)
            for key, one in series.groupby("key", sort=True):
                one = one.reset_index(drop=True)
                res = found.func(one["value"].to_numpy(), sensitivity=sensitivity, **options)
                unit = unit_cost(one, metric, options["window"] // 2)
                frames.append(
                    pd.DataFrame(
                        {
                            "dimension": dimension,
                            "key": key,
                            "metric": metric,
                            "day": one["day"],
                            "actual": one["actual"],
                            **{c: res[c].to_numpy() for c in res.columns},
                            "impact": (one["value"].to_numpy() - res["expected"].to_numpy()) * unit,
                        }
                    )
                )
    if not frames:
        return pd.DataFrame(
            columns=[
                "dimension",
                "key",
                "metric",
                "day",
                "actual",
                "expected",
                "lower",
                "upper",
                "score",
                "outlier",
                "shift",
                "impact",
                "reported",
            ]
        )
    out = pd.concat(frames, ignore_index=True)
    out["reported"] = out["outlier"] & (out["impact"].abs() >= threshold)
    return out.assign(threshold=threshold)


def episodes(points: pd.DataFrame, *, grain: Grain = "day") -> pd.DataFrame:
    """Group consecutive reported points of one series and direction into episodes.

    Returns
    -------
    pandas.DataFrame
        ``episode``, ``dimension``, ``key``, ``metric``, ``direction`` (``spike``/``drop``), ``first_seen``,
        ``last_seen``, ``points``, ``impact`` (sum of money impacts), ``peak_score``, ``level_shift`` (bool).
    """
    step = pd.Timedelta(hours=1) if grain == "hour" else pd.Timedelta(days=1)
    rep = points[points["reported"]].copy()
    cols = [
        "episode",
        "dimension",
        "key",
        "metric",
        "direction",
        "first_seen",
        "last_seen",
        "points",
        "impact",
        "peak_score",
        "level_shift",
    ]
    if rep.empty:
        return pd.DataFrame(columns=cols)
    rep["direction"] = np.where(rep["score"] > 0, "spike", "drop")
    rep = rep.sort_values(["dimension", "key", "metric", "direction", "day"])
    same = ["dimension", "key", "metric", "direction"]
    new = (rep[same] != rep[same].shift()).any(axis=1) | (rep["day"].diff() != step)
    rep["episode"] = new.cumsum()
    out = rep.groupby("episode", as_index=False).agg(
        dimension=("dimension", "first"),
        key=("key", "first"),
        metric=("metric", "first"),
        direction=("direction", "first"),
        first_seen=("day", "min"),
        last_seen=("day", "max"),
        points=("day", "size"),
        impact=("impact", "sum"),
        peak_score=("score", lambda s: s.abs().max()),
        level_shift=("shift", "any"),
    )
    return out[cols]


def check_options(*, sensitivity: float, grain: str) -> None:
    if grain not in GRAINS:
        raise ParameterError(f"grain must be one of {', '.join(GRAINS)}, got {grain!r}")
    if not isinstance(sensitivity, int | float) or isinstance(sensitivity, bool) or not 0 < sensitivity <= 50:
        raise ParameterError(f"sensitivity must be a number in (0, 50], got {sensitivity!r}")
