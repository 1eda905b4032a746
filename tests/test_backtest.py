"""Backtests: metrics by hand, rolling origins, zero days and short histories, the model choice and its reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from finops_lib.forecast import backtest as bt
from finops_lib.forecast import choice as forecast_report
from finops_lib.forecast.models import Forecast


def window(actual: list[float], forecast: list[float], *, history: list[float] | None = None,
           lower: list[float] | None = None, upper: list[float] | None = None) -> bt.Window:
    days = pd.date_range("2026-06-01", periods=len(actual))
    frame = pd.DataFrame({"forecast": forecast, "lower": lower or forecast, "upper": upper or forecast}, index=days)
    hist = pd.Series(history or [1.0] * 14, index=pd.date_range(end="2026-05-31", periods=len(history or [1] * 14)))
    return bt.Window(hist, pd.Series(actual, index=days), frame, pd.Series(actual, index=days), frame["forecast"])


def test_metrics_by_hand() -> None:
    # history: weekly changes |y_t - y_{t-7}| are all 2 -> MASE scale 2
    w = window([10.0, 0.0, 5.0], [12.0, 0.0, 4.0], history=[1.0] * 7 + [3.0] * 7, lower=[11.0, 0.0, 4.5],
               upper=[13.0, 1.0, 6.0])
    assert bt.ACCURACY_METRICS["mae"](w) == (1.0, "")
    # sMAPE terms: 200*2/22, 0 (both zero), 200*1/9
    assert bt.ACCURACY_METRICS["smape"](w)[0] == pytest.approx((400 / 22 + 200 / 9) / 3)
    assert bt.ACCURACY_METRICS["mase"](w) == (0.5, "")
    assert bt.ACCURACY_METRICS["coverage"](w)[0] == pytest.approx(2 / 3)


def test_mase_undefined_on_constant_history_is_stated() -> None:
    value, note = bt.ACCURACY_METRICS["mase"](window([1.0], [2.0], history=[5.0] * 14))
    assert np.isnan(value) and "constant" in note


def test_month_total_error_definition() -> None:
    days = pd.date_range("2026-06-01", "2026-06-30")
    actual = pd.Series(np.arange(1.0, 31.0), index=days)  # June total 465
    forecast = pd.Series(20.0, index=pd.date_range("2026-06-11", "2026-07-10"))
    # projected = 1..10 (55) + 20 x 20 days (400) = 455 -> (455 - 465) / 465
    value, note = bt.month_total_error(actual, pd.Timestamp("2026-06-10"), forecast)
    assert value == pytest.approx(-10 / 465 * 100) and note == ""
    value, note = bt.month_total_error(actual[:20], pd.Timestamp("2026-06-10"), forecast)
    assert np.isnan(value) and "not complete" in note
    value, note = bt.month_total_error(actual * 0, pd.Timestamp("2026-06-10"), forecast)
    assert np.isnan(value) and "no actual spend" in note


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=20), st.lists(st.floats(0, 1e6), min_size=1, max_size=20))
def test_smape_bounded_and_symmetric(a: list[float], f: list[float]) -> None:
    n = min(len(a), len(f))
    smape = bt.ACCURACY_METRICS["smape"]
    one, two = smape(window(a[:n], f[:n]))[0], smape(window(f[:n], a[:n]))[0]
    assert 0 <= one <= 200 + 1e-9 and one == pytest.approx(two)


def test_bands() -> None:
    assert [bt.finops_band(x) for x in (0.0, -12.0, 12.01, 20.0, -35.0, float("nan"))] == \
        ["<=12% (Run)", "<=12% (Run)", "<=20% (Crawl)", "<=20% (Crawl)", ">20%", "n/a"]


def weekly(days: int, *, start: str = "2026-05-04", growth: float = 0.0, zeros: bool = False) -> pd.Series:
    index = pd.date_range(start, periods=days)
    pattern = np.tile([100.0, 100, 100, 100, 100, 0 if zeros else 40, 0 if zeros else 40], days // 7 + 1)[:days]
    return pd.Series(pattern * (1 + growth * np.arange(days)), index=index)


def test_backtest_baselines_on_pure_weekly_pattern_with_zero_days() -> None:
    series = {"flat": weekly(126, zeros=True)}
    result = bt.backtest(series, horizon=14, models=("seasonal_naive", "drift"), n_origins=3, spacing=14, workers=1)
    e = result.errors
    assert len(e) == 6 and e["origin"].nunique() == 3
    assert (e["mae"] == 0).all() and (e["smape"] == 0).all() and (e["coverage"] == 1).all()
    assert e[["mae", "smape", "coverage"]].notna().all().all()  # zero weekend days drop no metric
    assert e["mase"].isna().all() and e["note"].str.contains("MASE undefined").all()  # constant week to week: said
    acc = result.accuracy()
    choice = bt.choose_models(acc, series, horizon=14)
    assert choice.loc[0, "model"] == "seasonal_naive" and "lowest mean MAE 0.00 over 3 origin(s)" in \
        choice.loc[0, "reason"]


def test_short_history_falls_back_with_a_reason() -> None:
    series = {"new": weekly(20), "tiny": weekly(5)}
    result = bt.backtest(series, horizon=30, workers=1)
    assert result.errors.empty
    choice = bt.choose_models(result.accuracy(), series, horizon=30).set_index("series")
    assert choice.loc["new", "model"] == "seasonal_naive" and "20 days is too short" in choice.loc["new", "reason"]
    assert choice.loc["tiny", "model"] == "mean"
    forecasts = bt.fit_forecasts(series, dict(choice["model"]), horizon=10, workers=1)
    assert forecasts["tiny"].note.startswith("only 5 day(s)")
    assert forecasts["new"].frame["forecast"].iloc[:7].tolist() == weekly(20).iloc[-7:].tolist()


def test_models_below_their_history_are_listed_not_dropped() -> None:
    from finops_lib.forecast.models import MODELS, register_model, seasonal_naive

    register_model("needs_100", description="test model", min_history=100)(seasonal_naive)
    try:
        errors = bt.backtest({"s": weekly(112)}, horizon=14, models=("seasonal_naive", "needs_100"), n_origins=2,
                             spacing=14, workers=1).errors
    finally:
        MODELS.pop("needs_100")
    late = errors[errors["model"] == "needs_100"].set_index("origin")
    assert late["note"].tolist() == ["needs_100 needs 100 days of history, has 84",
                                     "needs_100 needs 100 days of history, has 98"]  # listed with why, not dropped
    assert late["mae"].isna().all() and set(late["band"]) == {"n/a"}
    assert errors[errors["model"] == "seasonal_naive"]["mae"].notna().all()


def test_growth_is_better_caught_by_drift_than_naive() -> None:
    series = {"grow": weekly(140, growth=0.01)}
    acc = bt.backtest(series, horizon=28, models=("seasonal_naive", "drift"), n_origins=2, workers=1).accuracy()
    acc = acc.set_index("model")
    assert acc.loc["drift", "mae"] < acc.loc["seasonal_naive", "mae"]
    assert acc.loc["drift", "mase_vs_naive"] < 1 and acc.loc["seasonal_naive", "mase_vs_naive"] == 1


def test_forecast_table_shape() -> None:
    history = weekly(14)
    days = pd.date_range("2026-05-18", periods=5)
    f = Forecast(pd.DataFrame({"forecast": 1.0, "lower": 0.5, "upper": 2.0}, index=days), model="m", note="n")
    table = forecast_report.forecast_table({"a": history}, {"a": f}, horizon=3)
    assert (table["kind"] == "actual").sum() == 14 and (table["kind"] == "forecast").sum() == 3
    assert table[table["kind"] == "forecast"]["model"].unique().tolist() == ["m"]
