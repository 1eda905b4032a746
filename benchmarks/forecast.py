"""Benchmark: fit and forecast 100 daily series of 180 days (Prophet, 30 days ahead) with 2 worker processes.

Run ``python benchmarks/forecast.py``; prints the wall time, then the time of the interval calibration of the
same 100 series (a seasonal-naive backtest, its leave-one-origin-out coverage and the calibrated refit). The
series are synthetic spend (weekly pattern, growth, noise, some zero days), so the figures do not depend on the
warehouse.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from finops_lib.forecast import backtest as bt
from finops_lib.forecast import calibrate


def synthetic(n_series: int = 100, days: int = 180, seed: int = 1) -> dict[str, pd.Series]:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2026-05-04", periods=days)
    week = np.array([1, 1, 1, 1, 0.95, 0.4, 0.35])
    out = {}
    for i in range(n_series):
        level = rng.uniform(5, 500)
        trend = 1 + rng.uniform(0, 0.6) * np.arange(days) / days
        values = level * np.resize(week, days) * trend * rng.lognormal(0, 0.08, days)
        if i % 10 == 0:
            values[rng.random(days) < 0.1] = 0.0  # sparse series with zero days
        out[f"series_{i:03d}"] = pd.Series(values, index=index)
    return out


def main() -> int:
    series = synthetic()
    model = sys.argv[1] if len(sys.argv) > 1 else "prophet"
    start = time.perf_counter()
    forecasts = bt.fit_forecasts(series, model, horizon=30, workers=2, progress=True)
    wall = time.perf_counter() - start
    assert len(forecasts) == 100 and all(len(f.frame) >= 30 for f in forecasts.values())
    print(f"{model}: 100 series x 180 days, 30-day forecasts with 2 workers: {wall:.1f} s wall "
          f"({wall / 100:.2f} s per series)")
    # calibration overhead: a seasonal-naive backtest (3 origins), LOO coverage, factors, calibrated refit
    start = time.perf_counter()
    result = bt.backtest(series, horizon=30, models=("seasonal_naive",), workers=2)
    accuracy = result.accuracy()
    calibration = calibrate.calibrate(result, "seasonal_naive")
    calibrated = bt.fit_forecasts(series, "seasonal_naive", horizon=30, workers=2, calibration=calibration)
    wall = time.perf_counter() - start
    assert all("interval calibrated" in f.note for f in calibrated.values()) and accuracy["coverage_cal"].notna().all()
    print(f"calibration (seasonal naive backtest, leave-one-origin-out coverage, calibrated refit) of 100 series: "
          f"{wall:.1f} s wall; mean coverage raw {accuracy['coverage'].mean():.0%}, calibrated (LOO) "
          f"{accuracy['coverage_cal'].mean():.0%}, nominal 80%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
