"""Interval calibration: conformal factors by hand, coverage on fresh draws, P(exceed) by hand, fallbacks, LOO."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from finops_lib.forecast import backtest as bt
from finops_lib.forecast import budgets, calibrate
from finops_lib.forecast import choice as forecast_report
from finops_lib.forecast.models import Forecast

Z80 = norm.ppf(0.9)  # half-width of a central 80 % normal interval, in standard deviations


def residuals(log_errors: np.ndarray, *, half_width: float = 0.1, n_origins: int = 2, level: float = 5.0,
              cum_scores: np.ndarray | None = None) -> pd.DataFrame:  # fmt: skip
    """Residual rows with a constant point ``expm1(level)``, raw half-width ``half_width`` (log1p) and the given
    log errors, spread over ``n_origins`` origins (steps 1, 2, ... within each)."""
    n = len(log_errors)
    per = n // n_origins
    origins = pd.Timestamp("2026-05-01") + pd.to_timedelta(np.repeat(np.arange(n_origins) * 30, per), unit="D")
    steps = np.tile(np.arange(1, per + 1), n_origins)
    cum_f = 100.0
    cum = np.zeros(n) if cum_scores is None else np.asarray(cum_scores, float)
    return pd.DataFrame({"series": "s", "model": "m", "origin": origins, "step": steps,
                         "day": origins + pd.to_timedelta(steps, unit="D"),
                         "actual": np.expm1(level + log_errors), "forecast": np.expm1(level),
                         "lower": np.expm1(level - half_width), "upper": np.expm1(level + half_width),
                         "anomaly": False, "cum_actual": np.expm1(np.log1p(cum_f) + 0.02 * cum),
                         "cum_forecast": cum_f, "cum_lower": np.expm1(np.log1p(cum_f) - 0.02),
                         "cum_upper": np.expm1(np.log1p(cum_f) + 0.02)})  # fmt: skip


def test_conformal_rank() -> None:
    # n = 20 scores 1..20, level 0.8: the ceil(21 * 0.8) = 17th smallest; n = 3 is too few for the rank: largest
    assert calibrate.conformal_factor(np.arange(20.0, 0, -1), level=0.8) == 17.0
    assert calibrate.conformal_factor(np.array([3.0, 1.0, 2.0]), level=0.9) == 3.0


def test_too_narrow_interval_is_widened_by_the_computable_factor() -> None:
    # every log error is +-0.3 and the raw half-width 0.1: every score is 3, so the factor is exactly 3
    errors = np.tile([0.3, -0.3], 20)
    cal = calibrate.fit_calibration(residuals(errors), level=0.8)
    assert cal.method == "pooled" and cal.factors == pytest.approx((3.0, 3.0, 3.0)) and cal.n_origins == 2
    days = pd.date_range("2026-07-01", periods=3)
    frame = pd.DataFrame({"forecast": np.expm1(5.0), "lower": np.expm1(4.9), "upper": np.expm1(5.1)}, index=days)
    out = calibrate.apply_calibration(Forecast(frame, model="m"), cal).frame
    assert np.log1p(out["upper"].to_numpy()) == pytest.approx(5.3)
    assert np.log1p(out["lower"].to_numpy()) == pytest.approx(4.7)
    assert out["upper_raw"].tolist() == frame["upper"].tolist()
    assert out["forecast"].tolist() == frame["forecast"].tolist()  # the point forecast is unchanged
    # the raw interval held none of these actuals, the calibrated one holds all (every score equals the factor)
    score = calibrate.scores(residuals(errors))["score"]
    assert (score > 1).all() and np.allclose(score, 3.0)


def test_calibrated_interval_covers_nominal_share_of_fresh_draws() -> None:
    # log errors ~ N(0, 0.3) while the raw 80 % half-width is 0.1: raw coverage P(|Z| < 1/3) = 26 %
    rng = np.random.default_rng(7)
    cal = calibrate.fit_calibration(residuals(rng.normal(0, 0.3, 300), n_origins=10), level=0.8)
    assert cal.method == "by step"  # 70, 70 and 160 scores per bucket
    for factor in cal.factors:  # the true factor is 0.3 * z_0.9 / 0.1 = 3.84
        assert factor == pytest.approx(0.3 * Z80 / 0.1, rel=0.2)
    fresh = np.abs(rng.normal(0, 0.3, 20_000)) / 0.1
    for factor in cal.factors:
        assert abs(np.mean(fresh <= factor) - 0.8) < 0.07  # sd of a 70-score conformal coverage is about 0.05
    assert np.mean(fresh <= 1) == pytest.approx(2 * norm.cdf(1 / 3) - 1, abs=0.01)


def test_conformal_coverage_is_valid_on_average() -> None:
    # exchangeable continuous scores: the expected coverage of the rank-17 score of 20 is exactly 17 / 21
    rng = np.random.default_rng(11)
    hits = [np.abs(rng.standard_t(3)) <= calibrate.conformal_factor(np.abs(rng.standard_t(3, 20)), level=0.8)
            for _ in range(4000)]  # fmt: skip
    assert np.mean(hits) == pytest.approx(17 / 21, abs=0.015)


def test_p_exceed_moves_from_zero_to_the_hand_calculation() -> None:
    # daily scores 2 (log errors +-0.2, half-width 0.1); month-to-go scores all 5: path factor 5
    rows = residuals(np.tile([0.2, -0.2], 15), cum_scores=np.full(30, 5.0))
    cal = calibrate.fit_calibration(rows, level=0.8)
    assert cal.factors == pytest.approx((2.0,) * 3) and cal.path_factor == pytest.approx(5.0)
    # June: 600 spent by the 15th; 15 forecast days at 40 (total 600); 2000 paths whose totals deviate from it by
    # 0.02 * z in log1p, z the normal quantiles; budget 1300: the rest of June must exceed 700
    n = 2000
    z = norm.ppf((np.arange(n) + 0.5) / n)
    totals = np.expm1(np.log1p(600.0) + 0.02 * z)
    days = pd.date_range("2026-06-16", "2026-06-30")
    frame = pd.DataFrame({"forecast": 40.0, "lower": 38.0, "upper": 42.0}, index=days)
    forecast = Forecast(frame, np.tile(totals / 15, (15, 1)), model="m")
    history = pd.Series(40.0, index=pd.date_range("2026-06-01", "2026-06-15"))
    calibrated = calibrate.apply_calibration(forecast, cal)
    status = budgets.month_status(history, calibrated, budget=1300.0, month="2026-06")
    threshold = np.log1p(700.0) - np.log1p(600.0)  # 0.1540
    assert status["p_exceed_raw"] == 0.0  # raw: z > 7.7
    assert status["p_exceed"] == pytest.approx(1 - norm.cdf(threshold / (5 * 0.02)), abs=1.5 / n)  # 0.0618
    assert status["projected_month_end"] == 1200.0  # the point forecast is unchanged
    assert (calibrated.samples >= 0).all() and calibrated.samples_raw is forecast.samples


def test_too_few_residuals_or_one_origin_keep_the_models_interval() -> None:
    for rows, why in ((residuals(np.full(18, 0.5)), "18 backtest residual(s) from 2 origin(s)"),
                      (residuals(np.full(40, 0.5), n_origins=1), "40 backtest residual(s) from 1 origin(s)")):
        cal = calibrate.fit_calibration(rows, level=0.8)
        assert cal.method == "none" and why in cal.note and "uncalibrated" in cal.note
        days = pd.date_range("2026-07-01", periods=2)
        frame = pd.DataFrame({"forecast": 10.0, "lower": 8.0, "upper": 12.0}, index=days)
        out = calibrate.apply_calibration(Forecast(frame, np.ones((2, 3)), model="m"), cal)
        assert out.frame["lower"].tolist() == [8.0, 8.0] and out.frame["upper_raw"].tolist() == [12.0, 12.0]
        assert "uncalibrated" in out.note and (out.samples == 1).all()


def test_calibration_of_another_model_is_not_applied() -> None:
    cal = calibrate.Calibration("s", "prophet", 0.8, factors=(3.0, 3.0, 3.0), method="pooled")
    frame = pd.DataFrame({"forecast": 10.0, "lower": 8.0, "upper": 12.0}, index=pd.date_range("2026-07-01", periods=2))
    out = calibrate.apply_calibration(Forecast(frame, model="seasonal_naive"), cal)
    assert out.frame["upper"].tolist() == [12.0, 12.0] and "calibration of prophet not applied" in out.note


def test_leave_one_origin_out_by_hand() -> None:
    # three origins of 20 days with scores 1, 2 and 3 (log errors 0.1, 0.2, 0.3; half-width 0.1). Holding out the
    # first: the factor from 2s and 3s is the 33rd of 40 = 3, covered; the second: from 1s and 3s, 3, covered; the
    # third: from 1s and 2s, 2, not covered. Raw: only the first origin's scores are <= 1.
    rows = residuals(np.repeat([0.1, 0.2, 0.3], 20), n_origins=3)
    out = calibrate.loo_coverage(rows, level=0.8).iloc[0]
    assert out["coverage_cal"] == pytest.approx(2 / 3)
    raw = calibrate.scores(rows).groupby("origin")["score"].apply(lambda s: np.mean(s <= 1 + 1e-9)).mean()
    assert raw == pytest.approx(1 / 3)


def weekly_noisy(days: int, seed: int = 3) -> pd.Series:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2026-01-05", periods=days)
    base = np.resize([100.0, 100, 100, 100, 95, 40, 35], days) * (1 + 0.002 * np.arange(days))
    return pd.Series(base * rng.lognormal(0, 0.15, days), index=index)


def test_backtest_residuals_match_its_coverage_and_calibrate_the_forecast() -> None:
    series = {"s": weekly_noisy(210)}
    result = bt.backtest(series, horizon=14, models=("seasonal_naive", "drift"), n_origins=6, spacing=14, workers=1)
    res = result.residuals
    assert len(res) == 2 * 6 * 14 and set(res["step"]) == set(range(1, 15))
    # the score <= 1 share per origin is the backtest's coverage metric (same days, same interval)
    scored = calibrate.scores(res)
    raw = scored.groupby(["model", "origin"])["score"].apply(lambda s: float(np.mean(s <= 1 + 1e-9)))
    errors = result.errors.set_index(["model", "origin"])["coverage"]
    assert raw.sort_index().to_numpy() == pytest.approx(errors.sort_index().to_numpy())
    accuracy, _, chosen = forecast_report.choose(result, series, horizon=14)
    # raw intervals hold 87 % of the days (nominal 80 %); calibrated on the other five origins, each held-out origin
    # is covered 80 +- 3 % on average (84 days: one day is 1.2 points)
    for row in accuracy.itertuples():
        assert row.coverage > 0.85 and abs(row.coverage_cal - 0.8) < 0.03, row
    cal = calibrate.calibrate(result, chosen)
    assert cal["s"].method in ("by step", "pooled") and cal["s"].n_residuals == 6 * 14
    forecasts = bt.fit_forecasts(series, chosen, horizon=14, workers=1, calibration=cal)
    table = forecast_report.forecast_table(series, forecasts, horizon=14)
    ahead = table[table["kind"] == "forecast"]
    k = cal["s"].factor_at(np.arange(1, 15))
    z = np.log1p(ahead["value"].to_numpy())
    assert np.log1p(ahead["upper"].to_numpy()) - z == pytest.approx(k * (np.log1p(ahead["upper_raw"].to_numpy()) - z))
    assert "interval calibrated" in forecasts["s"].note
