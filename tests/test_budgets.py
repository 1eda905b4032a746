"""Budgets: the file reader's errors, burn-down, projected month-end, P(exceed) and breach dates by hand."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from finops_lib import paths
from finops_lib.errors import ParameterError, SourceError
from finops_lib.forecast import budgets
from finops_lib.forecast.models import Forecast

DATA = Path(__file__).parent / "data"


def constant_forecast(start: str, end: str, per_day: float, samples: np.ndarray | None = None) -> Forecast:
    days = pd.date_range(start, end)
    frame = pd.DataFrame({"forecast": per_day, "lower": per_day, "upper": per_day}, index=days)
    return Forecast(frame, samples if samples is not None else np.full((len(days), 10), per_day), model="const")


def test_constructed_breach_matches_hand_calculation() -> None:
    # June has 30 days; 600 spent by day 15 (40 a day), then 40 a day forecast: 600 + 10 * 40 = 1000 on June 25.
    history = pd.Series(40.0, index=pd.date_range("2026-06-01", "2026-06-15"))
    forecast = constant_forecast("2026-06-16", "2026-07-15", 40.0)
    status = budgets.month_status(history, forecast, budget=1000.0, month="2026-06")
    assert status["spent_to_date"] == 600.0
    assert status["projected_month_end"] == 1200.0
    assert status["breach_date"] == pd.Timestamp("2026-06-25")
    assert status["p_exceed"] == 1.0


def test_breach_uses_actuals_when_already_used_up() -> None:
    history = pd.Series([300.0, 300.0, 500.0, 10.0], index=pd.date_range("2026-06-01", periods=4))
    forecast = constant_forecast("2026-06-05", "2026-06-30", 1.0)
    assert budgets.breach_date(history, forecast.frame["forecast"], budget=1000.0, month="2026-06") == \
        pd.Timestamp("2026-06-03")


def test_no_breach_when_projection_stays_below() -> None:
    history = pd.Series(10.0, index=pd.date_range("2026-06-01", "2026-06-10"))
    forecast = constant_forecast("2026-06-11", "2026-06-30", 10.0)
    status = budgets.month_status(history, forecast, budget=301.0, month="2026-06")
    assert status["projected_month_end"] == 300.0 and status["breach_date"] is None and status["p_exceed"] == 0.0


def test_probability_counts_sample_paths_above_budget() -> None:
    history = pd.Series(40.0, index=pd.date_range("2026-06-01", "2026-06-15"))
    # 15 forecast days, 4 paths at 20, 30, 40, 50 a day: month totals 900, 1050, 1200, 1350 -> 3 of 4 above 1000
    paths = np.tile([20.0, 30.0, 40.0, 50.0], (15, 1))
    forecast = constant_forecast("2026-06-16", "2026-06-30", 40.0, samples=paths)
    assert budgets.month_status(history, forecast, budget=1000.0, month="2026-06")["p_exceed"] == 0.75


def test_burn_down_is_cumulative_and_ends_at_projection() -> None:
    history = pd.Series(40.0, index=pd.date_range("2026-06-01", "2026-06-15"))
    burn = budgets.burn_down(history, constant_forecast("2026-06-16", "2026-06-30", 40.0), month="2026-06",
                             budget=1000.0)
    assert len(burn) == 30 and (burn["kind"] == "actual").sum() == 15
    assert burn["cumulative"].iloc[14] == 600.0 and burn["cumulative"].iloc[-1] == 1200.0
    assert burn["remaining"].iloc[24] == 0.0


def test_read_budgets_and_risk_table() -> None:
    table = budgets.read_budgets(DATA / "budgets_small.csv")
    assert table["amount"].tolist() == [Decimal("1000"), Decimal("5000"), Decimal("100")]
    series = {"alpha": pd.Series(40.0, index=pd.date_range("2026-06-01", "2026-06-15")),
              "beta": pd.Series(40.0, index=pd.date_range("2026-06-01", "2026-06-15"))}
    forecasts = {name: constant_forecast("2026-06-16", "2026-07-15", 40.0) for name in series}
    risk = budgets.budget_risk(series, forecasts, table, dimension="team", currency="USD").set_index("series")
    assert risk.loc["alpha", "status"] == "breach projected"
    assert risk.loc["alpha", "breach_date"] == pd.Timestamp("2026-06-25")
    assert risk.loc["alpha", "projected_pct"] == pytest.approx(120.0)
    assert risk.loc["beta", "status"] == "on track" and pd.isna(risk.loc["beta", "breach_date"])
    assert risk.loc["gamma", "status"] == "no data"
    with pytest.raises(ParameterError, match="in USD, the forecast in EUR"):
        budgets.budget_risk(series, forecasts, table, dimension="team", currency="EUR")


@pytest.mark.parametrize(("name", "line", "column"), [("budgets_bad_amount.csv", 3, "amount"),
                                                      ("budgets_bad_month.csv", 2, "month"),
                                                      ("budgets_duplicate.csv", 4, "name")])
def test_read_budgets_errors_name_file_line_and_column(name: str, line: int, column: str) -> None:
    with pytest.raises(SourceError) as info:
        budgets.read_budgets(DATA / name)
    assert info.value.line == line and info.value.column == column and name in str(info.value)


def test_without_a_folder_no_budget_applies_not_even_the_samples(tmp_path) -> None:
    assert budgets.load_budgets("", None).empty
    assert budgets.load_budgets("", tmp_path).empty  # a folder without config/budgets.csv


def test_sample_budgets_file() -> None:
    table = budgets.load_budgets("", paths.SAMPLE_DIR)
    assert set(table["name"]) == {"search", "sales", "legal", "data-science", "support", "marketing", "engineering",
                                  "platform"}
    assert sorted(table["month"].unique())[0] == "2026-05" and sorted(table["month"].unique())[-1] == "2026-11"
    assert budgets.budget_for(table, dimension="team", name="search", month="2026-11") == 3000.0
