"""The forecast page (``30_spend_forecast``): its inputs, budget view, MASE wording and ``results.json``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from finops_lib import checks, pricing
from finops_lib.errors import ParameterError
from finops_lib.facts import Facts, open_facts
from finops_lib.forecast import budgets as budget_rules
from finops_lib.forecast import calibrate
from finops_lib.forecast.choice import chosen_rows
from finops_lib.forecast.events import Event, catalog_events, read_events
from finops_lib.forecast.models import Forecast
from finops_lib.forecast.series import DIMENSIONS, METRICS, build_series, credits_by_day, forecastable, series_map
from finops_lib.fx import fmt_money
from finops_lib.rules import resolve_rules

__all__ = ["Inputs", "budget_per_day", "budget_view", "load", "mase_summary", "results"]


@dataclass(frozen=True)
class Inputs:
    """What the forecast page forecasts: the facts, the series, the known events and the budgets."""

    facts: Facts
    frame: pd.DataFrame
    series: dict[str, pd.Series]
    events: list[Event] = field(default_factory=list)
    budgets: pd.DataFrame = field(default_factory=pd.DataFrame)
    left_out: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["series", "reason"]))
    credits: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["day", "credits"]))

    def note(self) -> str:
        """Say what the series leave out: credits (not projected) and series that cannot be forecast."""
        parts = []
        if len(self.credits):
            total = fmt_money(self.credits["credits"].sum(), self.facts.currency)
            parts.append(f"Credits of {total} on {len(self.credits)} day{'s' if len(self.credits) > 1 else ''} "
                         "are left out of the spend history (one-off: not projected); the facts' spend is the "
                         "history plus the credits.")
        parts += [f"Series {row.series}: {row.reason}." for row in self.left_out.itertuples()]
        return " ".join(parts) or "Every series is forecast; the history holds no credits."

    @property
    def first(self) -> date:
        """First day of the history."""
        return self.frame["day"].min().date()

    @property
    def last(self) -> date:
        """Last day of the history."""
        return self.frame["day"].max().date()

    def describe(self, dimension: str) -> str:
        """Return one line on what is forecast."""
        return (f"{len(self.series)} series by {dimension}, {self.first} to {self.last}; {len(self.events)} known "
                f"event(s); {len(self.budgets)} budget line(s)")  # fmt: skip


def load(con: BaseBackend, *, data_dir: str | None = None, dimension: str = "team", metric: str = "spend",
         currency: str = "USD", as_of: str = "", series_filter: Sequence[str] = (), include_total: bool = True,
         events_file: str = "", catalog_events_on: bool = True, budget_file: str = "") -> Inputs:  # fmt: skip
    """Return the page's inputs: series through the facts, events from a file and the catalog, budgets.

    Parameters
    ----------
    con
        The warehouse (:func:`finops_lib.warehouse.open_data`).
    data_dir
        The data folder (its allocation rules, its ``config/budgets.csv``); None: a warehouse without its folder.
    dimension, metric, currency, as_of, series_filter, include_total, events_file, budget_file
        The notebook parameters of the same names.
    catalog_events_on
        Price changes of the price catalog become events of their model's series (the sample's fictional price
        change is added for the committed sample only).

    Raises
    ------
    ParameterError, SourceError
        On a bad parameter, or a malformed events or budget file (naming its line).
    """
    checks.one_of("dimension", dimension, DIMENSIONS)
    checks.one_of("metric", metric, METRICS)
    end = checks.iso_day("as_of", as_of)
    facts = open_facts(con, currency=checks.currency_code(currency), rules=resolve_rules("", data_dir), end_date=end)
    frame, left_out = forecastable(build_series(facts, by=dimension, metric=metric))  # type: ignore[arg-type]
    if frame.empty:
        raise ParameterError("no series to forecast: " + "; ".join(left_out["reason"]))
    credits = credits_by_day(facts) if metric == "spend" else pd.DataFrame(columns=["day", "credits"])
    series = {k: v for k, v in series_map(frame).items() if not series_filter or k in series_filter}
    if include_total and dimension != "total":
        series = {"total": frame.groupby("day")["value"].sum().rename("total"), **series}
    events = read_events(events_file) if events_file else []
    if catalog_events_on:
        events += catalog_events(pricing.catalog_for(data_dir), start=frame["day"].min())
    table = budget_rules.load_budgets(budget_file, data_dir)
    if series_filter:
        table = table[table["name"].isin(series)]
    return Inputs(facts, frame, series, events, table, left_out, credits)


def budget_per_day(inputs: Inputs, *, dimension: str, name: str, month: pd.Period) -> float | None:
    """Return the monthly budget of a series as a daily run rate, None without one."""
    amount = budget_rules.budget_for(inputs.budgets, dimension=dimension, name=name, month=month)
    return amount / month.days_in_month if amount else None


def budget_view(inputs: Inputs, forecasts: Mapping[str, Forecast], *, dimension: str,
                metric: str) -> tuple[pd.DataFrame, pd.DataFrame | None, str | None]:  # fmt: skip
    """Return the budget risk of every budgeted series, the burn-down of the riskiest and its name.

    Budgets are money: with the token metric the risk table lists the budgets without projections.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame or None, str or None)
        :func:`finops_lib.forecast.budgets.budget_risk`, :func:`finops_lib.forecast.budgets.burn_down` of the
        first series at risk (None without one) and that series' name.
    """
    currency = inputs.facts.currency
    if metric == "spend":
        risk = budget_rules.budget_risk(inputs.series, dict(forecasts), inputs.budgets, dimension=dimension,
                                        currency=currency)  # fmt: skip
    else:
        risk = budget_rules.budget_risk({}, {}, inputs.budgets, dimension=dimension, currency=currency)
    at_risk = risk[risk["status"] != "no data"]["series"].head(1).tolist()
    if not at_risk:
        return risk, None, None
    name = at_risk[0]
    month = forecasts[name].frame.index[0].to_period("M")
    budget = float(risk.loc[risk["series"] == name, "budget"].iloc[0])
    return risk, budget_rules.burn_down(inputs.series[name], forecasts[name], month=month, budget=budget), name


def mase_summary(accuracy: pd.DataFrame) -> str:
    """Return one sentence on both MASE readings of the chosen models (see the module docstring).

    Examples
    --------
    >>> acc = pd.DataFrame({"series": ["a", "b"], "model": "m", "mase": [1.3, 0.8], "mase_vs_naive": [0.7, 0.9],
    ...                     "chosen": True})
    >>> print(mase_summary(acc))
    Chosen models: MASE vs weekly seasonal naive below 1 for 2 of 2 series (median 0.80); standard MASE below 1 for 1 of 2 (median 1.05; above 1: a).
    """  # noqa: E501
    best = chosen_rows(accuracy)
    vs, std = best["mase_vs_naive"].dropna(), best["mase"].dropna()
    above = ", ".join(std[std >= 1].index) or "none"
    return (f"Chosen models: MASE vs weekly seasonal naive below 1 for {int((vs < 1).sum())} of {len(vs)} series "
            f"(median {vs.median():.2f}); standard MASE below 1 for {int((std < 1).sum())} of {len(std)} "
            f"(median {std.median():.2f}; above 1: {above}).")  # fmt: skip


def _pct(value: float) -> str:
    return f"{value:.0%}" if np.isfinite(value) else "n/a"


def results(inputs: Inputs, *, accuracy: pd.DataFrame, choice: pd.DataFrame, risk: pd.DataFrame,
            table: pd.DataFrame, calibration: Mapping[str, Any], parameters: Mapping[str, object], month: object,
            shown: str, level: float = 0.8) -> dict[str, object]:  # fmt: skip
    """Return the ``results.json`` content of the spend-forecast notebook.

    The headline describes ``total`` (``shown`` when there is no total series): chosen model, month-total error
    and band, both MASE readings, interval coverage (raw, calibrated leave-one-origin-out, nominal) and the budgets
    breached or projected to be. ``actuals`` is the history the forecasts start from: per series, the sum of its
    days (to the cent), and the facts' exact spend over the same days. Tables are written as records of text values.
    """
    best = chosen_rows(accuracy)
    top = "total" if "total" in best.index else shown
    row = best.loc[top]
    ahead = table[table["kind"] == "forecast"].groupby("series")["value"].sum()
    breaches = risk[risk["status"].isin(["breach projected", "exceeded"])]["series"].tolist()
    coverage = (f"{_pct(row['coverage_cal'])} calibrated (leave-one-origin-out), {_pct(row['coverage'])} raw; "
                f"nominal {level:.0%}")  # fmt: skip
    headline = {f"Chosen model ({top})": str(row["model"]),
                f"Month-total error ({top})": f"{row['month_total_error_pct']:.1f}% ({row['band']})",
                f"MASE vs seasonal naive ({top})": f"{row['mase_vs_naive']:.2f}",
                f"MASE, standard ({top})": f"{row['mase']:.2f}", f"Interval coverage ({top})": coverage,
                f"Budgets breached or projected to ({month})": ", ".join(breaches) or "none"}  # fmt: skip
    actuals = {name: f"{values.sum():.2f}" for name, values in inputs.series.items()}
    exact = inputs.facts.total(METRICS[str(parameters.get("metric", "spend"))])
    return {"headline": headline, "date_range": [str(inputs.first), str(inputs.last)], "parameters": dict(parameters),
            "actuals": actuals, "actual_total": str(exact), "facts": inputs.facts.describe(),
            "month": str(month), "interval_level": level,
            "forecast_total_next_days": {k: float(v) for k, v in ahead.items()},
            "accuracy": accuracy.astype(str).to_dict("records"), "choice": choice.to_dict("records"),
            "calibration": calibrate.calibration_table(calibration).astype(str).to_dict("records"),
            "budget_risk": risk.astype(str).to_dict("records")}  # fmt: skip
