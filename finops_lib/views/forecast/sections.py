"""What each section of the forecast page shows: the answer, a chart or a table, or a sentence saying why not.

Every function here takes the page's objects (:mod:`finops_lib.views.forecast.page`) and returns something a
notebook displays as is: an Altair chart, a styled table, or a :class:`~finops_lib.views.notice.Notice` when the
data cannot show it (too little history, no budget, no backtest).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from finops_lib.forecast import calibrate
from finops_lib.views.forecast import charts, page
from finops_lib.views.notice import Findings, Notice, stack
from finops_lib.views.tables import fmt_table

#: What a section says when the page has no forecast at all (the answer above says why, once).
SEE_ABOVE = "No forecast: the data is too thin (the answer at the top of the page says what is missing)."

__all__ = ["SEE_ABOVE", "accuracy_table", "burn_down_chart", "choice_table", "findings_view", "forecast_chart",
           "risk_table"]


def findings_view(inputs: page.Inputs, backtested: page.Backtested, forecasted: page.Forecasted,
                  risk: pd.DataFrame) -> Findings:  # fmt: skip
    """Return the page's answer (:func:`page.findings`) as the paragraph that opens the page."""
    return Findings(page.findings(inputs, backtested, forecasted, risk))


def forecast_chart(inputs: page.Inputs, forecasted: page.Forecasted, *, dimension: str, series: str) -> Any:
    """Return the forecast chart of ``series`` (with its budget run rate), or why there is none."""
    if not inputs.ready:
        return Notice(SEE_ABOVE)
    if series not in forecasted.forecasts:
        return Notice(f"No {series} series: the page forecasts by {dimension}.")
    per_day = page.budget_per_day(inputs, dimension=dimension, name=series, month=forecasted.month)
    return charts.plot_forecast(forecasted.table, series=series, currency=_unit(inputs), budget_per_day=per_day)


def _unit(inputs: page.Inputs) -> str | None:
    """Return the currency of the series, None for token series."""
    return inputs.facts.currency if inputs.metric == "spend" else None


def risk_table(inputs: page.Inputs, forecasted: page.Forecasted, risk: pd.DataFrame) -> Any:
    """Return the budget-risk table, riskiest first, or why there is none."""
    if inputs.budgets.empty:
        return Notice("No budgets: add config/budgets.csv to the data folder (month, dimension, name, amount, "
                      "currency; see docs/config.md) to see which budgets will be exceeded.")
    if not inputs.ready:
        return Notice(f"Budget risk needs a forecast. {SEE_ABOVE}")
    currency = inputs.facts.currency
    return fmt_table(risk.drop(columns=[c for c in ("month",) if c in risk.columns]), labels=charts.RISK_LABELS,
                     currency=currency, money=["budget", "spent_to_date", "projected_month_end"],
                     pct=["p_exceed", "p_exceed_raw"], numbers={"projected_pct": "{:.0f}%"},
                     caption=f"Budget risk for {forecasted.month}, {currency}, most likely to be exceeded first")


def burn_down_chart(inputs: page.Inputs, forecasted: page.Forecasted, burn: pd.DataFrame | None,
                    worst: str | None) -> Any:  # fmt: skip
    """Return the riskiest budget's burn-down, or why there is none."""
    if burn is None or worst is None:
        if inputs.budgets.empty or not inputs.ready:
            return Notice("No burn-down: it needs a budget and a forecast (see above).")
        return Notice(f"No budget of {forecasted.month} has a series to burn down.")
    return charts.plot_burn_down(burn, currency=inputs.facts.currency,
                                 title=f"{worst}: {forecasted.month} spend against budget")  # fmt: skip


def accuracy_table(backtested: page.Backtested, *, horizon_days: int) -> Any:
    """Return the backtest accuracy table (chosen models in bold), or why there is none."""
    if not backtested.scored:
        return Notice(backtested.note if backtested.choice.size else SEE_ABOVE)
    acc = backtested.accuracy
    point = ["series", "model", "origins", "mae", "smape", "mase", "mase_vs_naive", "month_total_error_pct", "band"]
    spread = ["series", "model", "coverage", "coverage_cal", "cum_coverage", "cum_coverage_cal", "anomaly_days"]
    chosen = acc["chosen"].astype(bool).to_numpy()
    where = f"{horizon_days}-day horizon, {backtested.origins} origins; the chosen model in bold"
    tables = [fmt_table(acc[[c for c in columns if c in acc.columns]], labels=charts.ACCURACY_LABELS,
                        pct=["coverage", "coverage_cal", "cum_coverage", "cum_coverage_cal"],
                        counts=["origins", "anomaly_days"],
                        numbers={"mae": "{:,.2f}", "smape": "{:.1f}", "mase": "{:.2f}", "mase_vs_naive": "{:.2f}",
                                 "month_total_error_pct": "{:.1f}"}, caption=caption)
              .apply(lambda row: ["font-weight: bold" if chosen[row.name] else "" for _ in row], axis=1)
              for columns, caption in ((point, f"Point accuracy, {where}"),
                                       (spread, f"Interval coverage (nominal 80%), {where}"))]  # fmt: skip
    return stack(Findings(backtested.note), *tables)


def choice_table(backtested: page.Backtested) -> Any:
    """Return the model chosen per series with its reason and interval calibration, or why there is none."""
    if backtested.choice.empty:
        return Notice(SEE_ABOVE)
    return charts.fmt_choice(backtested.choice, calibrate.calibration_table(backtested.calibration),
                             caption="Model chosen per series, and why; interval calibration (per forecast week)")
