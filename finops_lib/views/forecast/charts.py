"""Forecast charts and tables: history with forecast band and budget, month burn-down, accuracy and risk tables.

Same contract as :mod:`finops_lib.views.theme` (its theme, currency axes and frame checks are reused): each ``plot_*``
takes a small frame from :mod:`finops_lib.forecast.backtest` or :mod:`finops_lib.forecast.budgets` and returns an
:class:`altair.Chart`; ``fmt_*`` return styled tables.

Examples
--------
>>> import pandas as pd
>>> days = pd.date_range("2026-06-01", periods=4)
>>> table = pd.DataFrame({"series": "total", "day": days, "kind": ["actual", "actual", "forecast", "forecast"],
...                       "value": [1.0, 2.0, 3.0, 4.0], "lower": [None, None, 2.0, 3.0], "upper": [None, None, 4, 5]})
>>> spec = plot_forecast(table, series="total", currency="USD", budget_per_day=3.5).to_dict()
>>> [layer["mark"]["type"] for layer in spec["layer"]]
['area', 'line', 'rule']
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from finops_lib.views.notice import when_empty
from finops_lib.views.tables import fmt_headers
from finops_lib.views.theme import check_frame, fmt_currency_axis

__all__ = ["ACCURACY_LABELS", "RISK_LABELS", "fmt_accuracy", "fmt_budget_risk", "fmt_choice", "plot_burn_down",
           "plot_forecast"]

ACTUAL_COLOR, FORECAST_COLOR, BUDGET_COLOR = "#4e79a7", "#f28e2b", "#d1495b"
_SERIES = {"Actual": ACTUAL_COLOR, "Forecast": FORECAST_COLOR}
_DASHES = {"Actual": [1, 0], "Forecast": [6, 3]}
ACCURACY_LABELS = {
    "series": "Series", "model": "Model", "origins": "Origins", "mae": "MAE", "smape": "sMAPE %", "mase": "MASE",
    "mase_vs_naive": "MASE vs naive", "coverage": "Coverage, raw", "coverage_cal": "Coverage, calibrated (LOO)",
    "cum_coverage": "Month-to-go coverage, raw", "cum_coverage_cal": "Month-to-go coverage, calibrated (LOO)",
    "month_total_error_pct": "Month-total error %",
    "anomaly_days": "Anomaly days left out", "band": "FinOps band", "chosen": "Chosen", "reason": "Why", "note": "Note",
}  # fmt: skip
RISK_LABELS = {
    "series": "Series", "month": "Month", "budget": "Budget", "spent_to_date": "Spent to date",
    "projected_month_end": "Projected month-end", "projected_pct": "Projected % of budget",
    "p_exceed": "P(exceed)", "p_exceed_raw": "P(exceed), model's own paths", "breach_date": "Projected breach",
    "status": "Status", "note": "Note",
}  # fmt: skip
_CHOICE_LABELS = {
    "series": "Series", "model": "Model", "reason": "Why", "method": "Calibration", "factors": "Interval factor",
    "path_factor": "Path factor", "residuals": "Residuals", "origins": "Origins", "note": "Note",
}  # fmt: skip


def _axis(currency: str | None, label: str) -> alt.Axis:
    return fmt_currency_axis(currency, label=label) if currency else alt.Axis(title=label, format="~s")


def _unit(currency: str | None) -> str:
    return f"({currency})" if currency else "(tokens)"


def _lines(data: pd.DataFrame, value: str, y_axis: alt.Axis, fmt: str, title: str) -> alt.Chart:
    # only the kinds drawn: a month without actual days yet shows no "Actual" legend entry without a line
    order = [k for k in _SERIES if k in set(data["kind_label"])] or list(_SERIES)
    return alt.Chart(data).mark_line(strokeWidth=2).encode(
        x=alt.X("day:T", title="Date", axis=alt.Axis(format="%d %b", labelAngle=0)),
        y=alt.Y(f"{value}:Q", axis=y_axis, scale=alt.Scale(zero=True)),
        color=alt.Color("kind_label:N", title=None, sort=order,
                        scale=alt.Scale(domain=order, range=[_SERIES[k] for k in order])),
        strokeDash=alt.StrokeDash("kind_label:N", sort=order, title=None,
                                  scale=alt.Scale(domain=order, range=[_DASHES[k] for k in order])),
        tooltip=[alt.Tooltip("day:T", title="Date", format="%Y-%m-%d"), alt.Tooltip("kind_label:N", title="Kind"),
                 alt.Tooltip(f"{value}:Q", title=title, format=fmt)],
    )  # fmt: skip


def plot_forecast(table: pd.DataFrame, *, series: str, currency: str | None = "USD",
                  budget_per_day: float | None = None, history_days: int | None = 90,
                  title: str | None = None) -> alt.Chart:  # fmt: skip
    """Return one series' daily history, forecast line and interval band, and the budget's daily run rate.

    Parameters
    ----------
    table
        :func:`finops_lib.forecast.backtest.forecast_table` rows (``series``, ``day``, ``kind``, ``value``, ``lower``,
        ``upper``; optional ``lower_raw``, ``upper_raw``: the model's own bounds, drawn dotted when they differ);
        other series are ignored.
    series
        The series to draw.
    currency
        ISO 4217 code of spend; None for token series.
    budget_per_day
        The month's budget divided by its days, drawn as a rule (None: no rule).
    history_days
        Days of history shown before the forecast (None: all).
    title
        Chart title; default ``"<series>: daily spend and forecast"``.
    """
    bounds = ["lower", "upper"] + [c for c in ("lower_raw", "upper_raw") if c in table.columns]
    data = check_frame(table[table["series"] == series], ["day", "kind", "value", *bounds], chart="plot_forecast",
                    nullable=bounds)  # fmt: skip
    data["day"] = pd.to_datetime(data["day"])
    if history_days:
        first_forecast = data.loc[data["kind"] == "forecast", "day"].min()
        start = (first_forecast if pd.notna(first_forecast) else data["day"].max()) - pd.Timedelta(days=history_days)
        data = data[data["day"] >= start]
    data["kind_label"] = data["kind"].map({"actual": "Actual", "forecast": "Forecast"})
    label = "Spend" if currency else "Tokens"
    axis = _axis(currency, f"{label} per day")
    fmt = ",.2f" if currency else ",.0f"
    band = alt.Chart(data[data["kind"] == "forecast"]).mark_area(opacity=0.25, color=FORECAST_COLOR).encode(
        x="day:T", y=alt.Y("lower:Q", axis=axis), y2="upper:Q",
        tooltip=[alt.Tooltip("day:T", title="Date", format="%Y-%m-%d"),
                 alt.Tooltip("lower:Q", title=f"80% interval low {_unit(currency)}", format=fmt),
                 alt.Tooltip("upper:Q", title=f"80% interval high {_unit(currency)}", format=fmt)])  # fmt: skip
    layers = [band, _lines(data, "value", axis, fmt, f"{label} per day {_unit(currency)}")]
    calibrated = "upper_raw" in data.columns and not np.allclose(
        data[["lower", "upper"]].to_numpy(float), data[["lower_raw", "upper_raw"]].to_numpy(float), equal_nan=True)
    if calibrated:
        ahead = data[data["kind"] == "forecast"]
        raw = ahead.melt("day", ["lower_raw", "upper_raw"], var_name="bound", value_name="raw")
        layers.append(alt.Chart(raw).mark_line(color=FORECAST_COLOR, strokeDash=[1, 2], strokeWidth=1.5).encode(
            x="day:T", y="raw:Q", detail="bound:N",
            tooltip=[alt.Tooltip("day:T", title="Date", format="%Y-%m-%d"),
                     alt.Tooltip("raw:Q", title=f"Model's own bound {_unit(currency)}", format=fmt)]))  # fmt: skip
    if budget_per_day is not None:
        rule = pd.DataFrame({"budget": [float(budget_per_day)]})
        layers.append(alt.Chart(rule).mark_rule(color=BUDGET_COLOR, strokeDash=[2, 2], strokeWidth=2).encode(
            y="budget:Q", tooltip=[alt.Tooltip("budget:Q", title=f"Budget run rate per day {_unit(currency)}",
                                               format=fmt)]))  # fmt: skip
    kind = "spend" if currency else "tokens"
    subtitle = ("Band: 80% prediction interval, calibrated on backtest errors; dotted: the model's own interval"
                if calibrated else "Band: 80% prediction interval")  # fmt: skip
    subtitle += "; red dotted rule: monthly budget / days" if budget_per_day else ""
    return alt.layer(*layers).properties(
        title=alt.Title(title or f"{series}: daily {kind} and forecast", subtitle=subtitle), width=680)


@when_empty("No burn-down: no budget of this month has a forecast.")
def plot_burn_down(frame: pd.DataFrame, *, currency: str, title: str | None = None) -> alt.Chart:
    """Return the month's cumulative spend (actual, then forecast with its band) against the budget.

    Parameters
    ----------
    frame
        :func:`finops_lib.forecast.budgets.burn_down` (``day``, ``kind``, ``cumulative``, ``lower``, ``upper``,
        ``budget``).
    currency
        ISO 4217 code.
    title
        Chart title; default ``"Month-to-date spend against budget"``.
    """
    data = check_frame(frame, ["day", "kind", "cumulative", "lower", "upper", "budget"], chart="plot_burn_down",
                    nullable=["budget"])  # fmt: skip
    data["day"] = pd.to_datetime(data["day"])
    data["kind_label"] = data["kind"].map({"actual": "Actual", "forecast": "Forecast"})
    last_actual = data[data["kind"] == "actual"].tail(1)
    data = pd.concat([data, last_actual.assign(kind="forecast", kind_label="Forecast")], ignore_index=True)
    axis = fmt_currency_axis(currency, label="Cumulative spend")
    band = alt.Chart(data[data["kind"] == "forecast"]).mark_area(opacity=0.25, color=FORECAST_COLOR).encode(
        x="day:T", y=alt.Y("lower:Q", axis=axis), y2="upper:Q")
    layers = [band, _lines(data, "cumulative", axis, ",.2f", f"Cumulative spend ({currency})")]
    if data["budget"].notna().any():
        rule = pd.DataFrame({"budget": [float(data["budget"].dropna().iloc[0])]})
        layers.append(alt.Chart(rule).mark_rule(color=BUDGET_COLOR, strokeWidth=2).encode(
            y="budget:Q", tooltip=[alt.Tooltip("budget:Q", title=f"Budget ({currency})", format=",.2f")]))
    return alt.layer(*layers).properties(
        title=alt.Title(title or "Month-to-date spend against budget",
                        subtitle="Band: 80% of sample paths; red rule: the month's budget"), width=680)


def fmt_accuracy(frame: pd.DataFrame, *, caption: str = "") -> pd.io.formats.style.Styler:
    """Return the backtest accuracy table styled: display names, rounded metrics, percentages, no index."""
    data = frame.copy()
    formats = {"mae": "{:,.2f}", "smape": "{:.1f}", "mase": "{:.2f}", "mase_vs_naive": "{:.2f}",
               "coverage": "{:.0%}", "coverage_cal": "{:.0%}", "cum_coverage": "{:.0%}", "cum_coverage_cal": "{:.0%}",
               "month_total_error_pct": "{:.1f}"}  # fmt: skip
    styled = data.style.format({k: v for k, v in formats.items() if k in data.columns}, na_rep="n/a",
                               escape="html")
    if "chosen" in data.columns:
        styled = styled.apply(lambda row: ["font-weight: bold" if row["chosen"] else "" for _ in row], axis=1)
    return fmt_headers(styled.hide(), [ACCURACY_LABELS.get(c, c) for c in data.columns], caption=caption)


def fmt_budget_risk(frame: pd.DataFrame, *, currency: str, caption: str = "") -> pd.io.formats.style.Styler:
    """Return the budget-risk table styled: money in ``currency``, percentages, breach dates as days."""
    data = frame.copy()
    data["breach_date"] = pd.to_datetime(data["breach_date"]).dt.strftime("%Y-%m-%d")
    money = {c: "{:,.2f}" for c in ("budget", "spent_to_date", "projected_month_end")}
    styled = data.style.format({**money, "projected_pct": "{:.0f}%", "p_exceed": "{:.0%}", "p_exceed_raw": "{:.0%}"},
                               na_rep="-", escape="html")  # fmt: skip
    return fmt_headers(styled.hide(), [RISK_LABELS.get(c, c) for c in data.columns],
                       caption=caption or f"Budget risk, {currency}")


def fmt_choice(choice: pd.DataFrame, calibration: pd.DataFrame | None = None, *,
               caption: str = "Model chosen per series, and why") -> pd.io.formats.style.Styler:  # fmt: skip
    """Return the model choice (:func:`finops_lib.forecast.backtest.choose_models`) styled, with each series' interval
    calibration beside it (:func:`finops_lib.forecast.calibrate.calibration_table`; None: choice only)."""  # noqa: D205, D209
    data = choice.copy()
    if calibration is not None and len(calibration):
        data = data.merge(calibration.drop(columns=["model", "note"]), on="series", how="left")
    styled = data.style.format({"path_factor": "{:.2f}", "residuals": "{:.0f}", "origins": "{:.0f}"}, na_rep="-",
                               escape="html")
    return fmt_headers(styled.hide(), [_CHOICE_LABELS.get(c, c) for c in data.columns], caption=caption)
