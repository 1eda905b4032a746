"""The ``forecast_interval`` detector: actual outside the forecasting module's prediction band.

The series is forecast one week at a time from weekly origins (history: everything before the origin, with points
already flagged replaced by their forecast, so an anomaly does not bend the next forecast), by a model of
:data:`finops_lib.forecast.models.MODELS` (``ets`` by default: Holt-Winters on ``log1p``, damped trend, weekly
seasonality). The model's 80 % interval gives the scale: ``sigma = (upper - forecast) / 1.2816`` above the point,
``(forecast - lower) / 1.2816`` below it; a point is an outlier when it lies more than ``sensitivity`` such sigmas away.
Each fit takes a fraction of a second, so :func:`finops_lib.anomalies.detectors.scan` runs this detector on the cost
series of the total, providers, teams and applications only (:data:`SCOPE`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from finops_lib.forecast.models import MODELS, Options

__all__ = ["MODEL", "SCOPE", "forecast_band", "interval_function"]

MODEL = "ets"
#: Dimensions and metrics the forecast detector scans (it refits a model every week of every series).
SCOPE: dict[str, tuple[str, ...]] = {"dimensions": ("total", "provider", "team", "application"), "metrics": ("cost",)}
_Z80 = 1.2816


def interval_function() -> Callable[..., Any] | None:
    """Return the forecasting module's fit function of :data:`MODEL`, or None when it is not registered."""
    spec = MODELS.get(MODEL)
    return spec.fit if spec else None


def forecast_band(
    values: np.ndarray, *, sensitivity: float, period: int = 7, window: int = 56, min_history: int = 28, **_: int
) -> pd.DataFrame:
    """Score every point after ``min_history`` against weekly forecasts (see the module docstring).

    Returns the frame of :func:`finops_lib.anomalies.detectors.register_detector` (``shift`` is always False: the
    model adapts).
    """
    fit = interval_function()
    y = np.asarray(values, dtype=float)
    n = len(y)
    out = {k: np.full(n, np.nan) for k in ("expected", "lower", "upper", "score")}
    outlier = np.zeros(n, bool)
    clean = y.copy()
    days = pd.date_range("2000-01-03", periods=n, freq="D")  # positions only: weekday alignment is preserved
    for origin in range(min_history, n, period):
        hist = pd.Series(np.nan_to_num(clean[:origin], nan=0.0).clip(min=0), index=days[:origin])
        steps = min(period, n - origin)
        frame = fit(hist, steps, Options(interval=0.8)).frame  # type: ignore[misc]
        point = frame["forecast"].to_numpy(dtype=float)
        up = np.maximum((frame["upper"].to_numpy(dtype=float) - point) / _Z80, 1e-9)
        down = np.maximum((point - frame["lower"].to_numpy(dtype=float)) / _Z80, 1e-9)
        for i in range(steps):
            t = origin + i
            if np.isnan(y[t]):
                continue
            sigma = up[i] if y[t] >= point[i] else down[i]
            sigma = max(sigma, 0.04 * max(point[i], 0.0))  # a perfectly regular history must not flag noise
            out["expected"][t] = point[i]
            out["upper"][t] = point[i] + sensitivity * max(up[i], 0.04 * point[i])
            out["lower"][t] = max(0.0, point[i] - sensitivity * max(down[i], 0.04 * point[i]))
            out["score"][t] = (y[t] - point[i]) / sigma
            if abs(out["score"][t]) > sensitivity:
                outlier[t] = True
                clean[t] = point[i]
    return pd.DataFrame({**out, "outlier": outlier, "shift": np.zeros(n, bool)})
