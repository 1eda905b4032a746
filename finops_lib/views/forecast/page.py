"""The forecast page (``30_spend_forecast``): its inputs, budget view, MASE wording and ``results.json``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from finops_lib import checks, pricing
from finops_lib.errors import NotEnoughData
from finops_lib.facts import Facts, open_facts
from finops_lib.forecast import backtest as bt
from finops_lib.forecast import budgets as budget_rules
from finops_lib.forecast import calibrate, choice
from finops_lib.forecast.choice import chosen_rows
from finops_lib.forecast.events import Event, catalog_events, read_events
from finops_lib.forecast.models import SEASON, Forecast, Options
from finops_lib.forecast.series import DIMENSIONS, METRICS, build_series, credits_by_day, forecastable, series_map
from finops_lib.fx import fmt_money
from finops_lib.rules import resolve_rules
from finops_lib.views.progress import Work

__all__ = ["MIN_HISTORY_DAYS", "Backtested", "Forecasted", "Inputs", "budget_per_day", "budget_view", "findings",
           "load", "mase_summary", "outlook", "results", "run_backtest", "run_forecasts"]

#: Days of history below which the page shows no forecast (four weeks: four of each weekday).
MIN_HISTORY_DAYS = 4 * SEASON


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
    events_note: str = ""
    shortage: str = ""
    metric: str = "spend"
    con: Any = None  # the warehouse read: a Spark connection fits the models on its workers (forecast.parallel)

    @property
    def ready(self) -> bool:
        """Whether there is enough history to forecast (else :attr:`shortage` says what is missing)."""
        return not self.shortage

    @property
    def days(self) -> int:
        """Days of history (0 without any)."""
        return 0 if self.frame.empty else (self.last - self.first).days + 1

    def note(self) -> str:
        """Say what the series leave out: credits (not projected) and series that cannot be forecast."""
        parts = []
        if len(self.credits):
            total = fmt_money(self.credits["credits"].sum(), self.facts.currency)
            parts.append(f"Credits of {total} on {len(self.credits)} day{'s' if len(self.credits) > 1 else ''} "
                         "are left out of the spend history (one-off: not projected); the facts' spend is the "
                         "history plus the credits.")
        parts += [f"Series {row.series}: {row.reason}." for row in self.left_out.itertuples()]
        if self.shortage:
            return " ".join([self.shortage, *parts])
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
        """Return one line on what is forecast: series, days, known events (and where from), budgets."""
        if self.frame.empty:
            return f"Nothing to forecast by {dimension}."  # note() says why
        events = self.events_note or "no events file"
        budgets = f"{len(self.budgets)} budget line(s)" if len(self.budgets) else "no budgets"
        return (f"{len(self.series)} series by {dimension}, {self.first} to {self.last} ({self.days} day"
                f"{'s' if self.days > 1 else ''}); "
                f"{events}; {budgets}")  # fmt: skip


def load(con: BaseBackend, *, data_dir: str | None = None, rules_file: str = "",
         dimension: str = "team", metric: str = "spend",
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
    facts = open_facts(con, currency=checks.currency_code(currency), rules=resolve_rules(rules_file, data_dir),
                       end_date=end)
    facts = facts.explore()  # the page asks many questions of the same rows: scope them once
    try:
        frame, left_out = forecastable(build_series(facts, by=dimension, metric=metric))  # type: ignore[arg-type]
    except NotEnoughData as exc:
        empty = pd.DataFrame({"day": pd.Series(dtype="datetime64[ns]"), "series": pd.Series(dtype=str),
                              "value": pd.Series(dtype=float)})  # fmt: skip
        return Inputs(facts, empty, {}, shortage=f"Forecasts need {metric} history: {_no_history(facts, exc)}",
                      metric=metric)  # fmt: skip
    if frame.empty:
        return Inputs(facts, frame, {}, left_out=left_out, shortage="No series can be forecast.", metric=metric)
    credits = credits_by_day(facts) if metric == "spend" else pd.DataFrame(columns=["day", "credits"])
    series = {k: v for k, v in series_map(frame).items() if not series_filter or k in series_filter}
    if include_total and dimension != "total":
        series = {"total": frame.groupby("day")["value"].sum().rename("total"), **series}
    def concerned(found: list[Event]) -> list[Event]:
        return [e for e in found if any(e.applies_to(name) for name in series)]

    own = concerned(read_events(events_file)) if events_file else []
    priced = concerned(catalog_events(pricing.catalog_for(data_dir), start=frame["day"].min())) \
        if catalog_events_on else []  # fmt: skip
    events = own + priced
    notes = [f"{len(own)} known event(s) from {Path(events_file).name}"] if events_file else ["no events file"]
    notes += [f"{len(priced)} price change(s) of the catalog for models forecast here"] if priced else []
    table = budget_rules.load_budgets(budget_file, data_dir)
    if series_filter:
        table = table[table["name"].isin(series)]
    days = (frame["day"].max() - frame["day"].min()).days + 1
    first, last = frame["day"].min(), frame["day"].max()
    shortage = (f"Forecasts need {MIN_HISTORY_DAYS} days of history; this data has {days} ({first:%Y-%m-%d} to "
                f"{last:%Y-%m-%d}).") if days < MIN_HISTORY_DAYS else ""  # fmt: skip
    return Inputs(facts, frame, series, events, table, left_out, credits, ", ".join(notes), shortage, metric, con)


def _no_history(facts: Facts, exc: NotEnoughData) -> str:
    """Say why there is no history: nothing loaded, only request logs (no invoice), or nothing in the window."""
    if facts.total("cost") == 0 and facts.has_requests:
        return ("this data has request logs but no invoice or cost export, so no spend history (the logs' "
                "catalog-priced cost is on the reconciliation page).")
    return f"{exc}."


@dataclass(frozen=True)
class Backtested:
    """The backtest of the page: accuracy per series and model, the choice with reasons, calibration, a note."""

    accuracy: pd.DataFrame
    choice: pd.DataFrame
    chosen: dict[str, str]
    calibration: dict[str, Any]
    origins: int
    note: str

    @property
    def scored(self) -> bool:
        """Whether any model was scored on any origin."""
        return bool(len(self.accuracy)) and bool((self.accuracy["origins"] > 0).any())


def run_backtest(inputs: Inputs, *, horizon_days: int, n_origins: int, model: str, country: str = "",
                 calibrate_intervals: bool = True, workers: int = 2,
                 progress: Work | None = None) -> Backtested:  # fmt: skip
    """Backtest every model on the page's series and choose one per series; say when the history is too short.

    ``progress`` (a notebook cell's bar, :func:`finops_lib.views.progress.working`) counts the fits.

    Returns
    -------
    Backtested
        Empty tables and a note saying what is needed when the history cannot be backtested (the models are then
        chosen by rule, their accuracy not measured) or cannot be forecast at all.
    """
    if not inputs.ready:
        return Backtested(_EMPTY_ACCURACY, pd.DataFrame(columns=["series", "model", "reason"]), {}, {}, 0,
                          inputs.shortage)  # fmt: skip
    if progress is not None:
        progress.step("backtesting every model")
    result = bt.backtest(inputs.series, horizon=horizon_days, n_origins=n_origins, options=Options(country=country),
                         events=inputs.events, workers=workers, progress=progress or False, on=inputs.con)  # fmt: skip
    accuracy, chosen_models, chosen = choice.choose(result, inputs.series, model=model, horizon=horizon_days)
    origins = int(result.errors["origin"].nunique()) if len(result.errors) else 0
    if not origins:
        need = max(3 * horizon_days, MIN_HISTORY_DAYS) + horizon_days
        note = (f"Backtests of a {horizon_days}-day horizon need {need} days of history; this data has "
                f"{inputs.days}: each series' model is chosen by rule and its accuracy is not measured yet.")
        return Backtested(_EMPTY_ACCURACY if accuracy.empty else accuracy, chosen_models, chosen, {}, 0, note)
    calibration = calibrate.calibrate(result, chosen) if calibrate_intervals else {}
    return Backtested(accuracy, chosen_models, chosen, calibration, origins, mase_summary(accuracy))


_EMPTY_ACCURACY = pd.DataFrame(columns=["series", "model", "origins", "mae", "smape", "mase", "mase_vs_naive",
                                        "coverage", "coverage_cal", "month_total_error_pct", "band", "chosen"])


@dataclass(frozen=True)
class Forecasted:
    """The page's forecasts: per series, the tidy table, the series charted first and the month of the budgets."""

    forecasts: dict[str, Forecast]
    table: pd.DataFrame
    shown: str
    month: pd.Period | None


def run_forecasts(inputs: Inputs, backtested: Backtested, *, horizon_days: int, country: str = "",
                  workers: int = 2, progress: Work | None = None) -> Forecasted:  # fmt: skip
    """Fit each series' chosen model on its whole history and forecast ``horizon_days`` (nothing when not ready)."""
    if not inputs.ready:
        return Forecasted({}, choice.forecast_table({}, {}), "", None)
    if progress is not None:
        progress.step("forecasting each series with its model")
    forecasts = bt.fit_forecasts(inputs.series, backtested.chosen, horizon=horizon_days,
                                 options=Options(country=country), events=inputs.events, workers=workers,
                                 calibration=backtested.calibration, progress=progress or False,
                                 on=inputs.con)  # fmt: skip
    table = choice.forecast_table(inputs.series, forecasts, horizon=horizon_days)
    shown = next((name for name in inputs.series if name != "total"), "total")
    return Forecasted(forecasts, table, shown, forecasts[shown].frame.index[0].to_period("M"))


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


def outlook(inputs: Inputs, forecasted: Forecasted, *, series: str = "total", level: float = 0.8) -> dict[str, Any]:
    """Return the forecast of ``series`` summed over the horizon and to the end of its first month, with intervals.

    The interval of a sum is taken from the forecast's sample paths (their ``level`` central quantiles), not by
    adding daily bounds (which would overstate it); without paths it is left empty.

    Returns
    -------
    dict
        ``series``, ``days`` and ``next_days`` / ``next_low`` / ``next_high`` (the horizon), ``month``,
        ``month_spent`` (actual so far in that month), ``month_end`` / ``month_low`` / ``month_high`` (spent plus
        the rest of the month); empty when there is no forecast of ``series``.
    """
    name = series if series in forecasted.forecasts else forecasted.shown
    if name not in forecasted.forecasts:
        return {}
    f, history = forecasted.forecasts[name], inputs.series[name]
    month = f.frame.index[0].to_period("M")
    in_month = np.asarray(f.frame.index.to_period("M") == month)
    spent = float(history[history.index.to_period("M") == month].sum())
    tails = ((1 - level) / 2, 1 - (1 - level) / 2)

    def band(rows: np.ndarray, base: float) -> tuple[float, float]:
        if f.samples is None:
            return float("nan"), float("nan")
        low, high = np.quantile(f.samples[rows].sum(axis=0), tails)
        return base + float(low), base + float(high)

    everything = np.ones(len(f.frame), dtype=bool)
    next_low, next_high = band(everything, 0.0)
    month_low, month_high = band(in_month, spent)
    return {"series": name, "days": len(f.frame), "next_days": float(f.frame["forecast"].sum()),
            "next_low": next_low, "next_high": next_high, "month": str(month), "month_spent": spent,
            "month_end": spent + float(f.frame.loc[in_month, "forecast"].sum()), "month_low": month_low,
            "month_high": month_high, "model": f.model, "level": level}  # fmt: skip


def findings(inputs: Inputs, backtested: Backtested, forecasted: Forecasted, risk: pd.DataFrame) -> str:
    """Return the page's answer in two to four sentences, computed from the data (or what it could not show)."""
    if not inputs.ready:
        return inputs.shortage
    currency = inputs.facts.currency
    view = outlook(inputs, forecasted)
    name = view["series"]
    interval = (f" (80% interval {fmt_money(view['next_low'], currency)} to {fmt_money(view['next_high'], currency)})"
                if np.isfinite(view["next_low"]) else "")  # fmt: skip
    parts = [f"{'Total spend' if name == 'total' else name} is forecast at {fmt_money(view['next_days'], currency)} "
             f"over the next {view['days']} days{interval}, {fmt_money(view['month_end'], currency)} for "
             f"{view['month']}."]  # fmt: skip
    if backtested.scored and name in chosen_rows(backtested.accuracy).index:
        row = chosen_rows(backtested.accuracy).loc[name]
        parts.append(f"Forecasts like this one missed the month total by {row['month_total_error_pct']:.1f}% in "
                     f"the backtest ({row['band']}), with the {row['model'].replace('_', ' ')} model.")
    else:
        parts.append(backtested.note)
    breaching = risk[risk["status"].isin(["breach projected", "exceeded"])] if len(risk) else risk
    if len(risk) and len(breaching):
        worst = breaching.sort_values("p_exceed", ascending=False).iloc[0]
        parts.append(f"{len(breaching)} of {len(risk)} budget(s) are exceeded or projected to be; the most likely "
                     f"is {worst['series']} ({worst['p_exceed']:.0%} chance).")
    elif len(risk):
        parts.append(f"No budget of {len(risk)} is projected to be exceeded.")
    else:
        parts.append("No budget file: budget risk is not shown (add config/budgets.csv).")
    return " ".join(parts)


def results(inputs: Inputs, *, backtested: Backtested, forecasted: Forecasted, risk: pd.DataFrame,
            parameters: Mapping[str, object], level: float = 0.8) -> dict[str, object]:
    """Return the ``results.json`` content of the spend-forecast notebook.

    The headline leads with the forecast of ``total`` (the series shown when there is no total): the next days and
    the month end with their intervals, then the budgets breached or projected to be, then the backtest's
    month-total error and band, the chosen model, both MASE readings and interval coverage. Without enough
    history the headline says what is needed. ``actuals`` is the history the forecasts start from: per series,
    the sum of its days (to the cent), and the facts' exact spend over the same days.
    """
    currency = inputs.facts.currency
    exact = inputs.facts.total(METRICS[str(parameters.get("metric", "spend"))])
    base = {"date_range": [str(inputs.first), str(inputs.last)] if inputs.days else [],
            "parameters": dict(parameters), "facts": inputs.facts.describe(), "actual_total": str(exact),
            "actuals": {name: f"{values.sum():.2f}" for name, values in inputs.series.items()},
            "findings": findings(inputs, backtested, forecasted, risk), "interval_level": level}  # fmt: skip
    if not inputs.ready:
        return base | {"headline": {"Forecast": inputs.shortage}, "outlook": {}, "budget_risk": [],
                       "accuracy": [], "choice": [], "calibration": [], "forecast_total_next_days": {}}  # fmt: skip
    view = outlook(inputs, forecasted, level=level)
    top = view["series"]

    def span(low: float, high: float) -> str:
        return (f" ({level:.0%}: {fmt_money(low, currency)} to {fmt_money(high, currency)})"
                if np.isfinite(low) else "")  # fmt: skip

    breaches = risk[risk["status"].isin(["breach projected", "exceeded"])]["series"].tolist() if len(risk) else []
    headline = {f"Forecast, next {view['days']} days ({top})": fmt_money(view["next_days"], currency)
                + span(view["next_low"], view["next_high"]),
                f"Projected {view['month']} ({top})": fmt_money(view["month_end"], currency)
                + span(view["month_low"], view["month_high"]),
                f"Budgets breached or projected to ({view['month']})": (", ".join(breaches) or "none")
                if len(risk) else "no budgets"}  # fmt: skip
    best = chosen_rows(backtested.accuracy) if backtested.scored else pd.DataFrame()
    if top in best.index:
        row = best.loc[top]
        headline |= {f"Month-total error, backtest ({top})": f"{row['month_total_error_pct']:.1f}% ({row['band']})",
                     f"Chosen model ({top})": str(row["model"]),
                     f"MASE vs seasonal naive ({top})": f"{row['mase_vs_naive']:.2f}",
                     f"MASE, standard ({top})": f"{row['mase']:.2f}",
                     f"Interval coverage ({top})": f"{_pct(row['coverage_cal'])} calibrated (leave-one-origin-out), "
                     f"{_pct(row['coverage'])} raw; nominal {level:.0%}"}  # fmt: skip
    else:
        headline |= {f"Chosen model ({top})": f"{view['model'].replace('_', ' ')} (by rule: too little history to "
                     "backtest)"}  # fmt: skip
    ahead = forecasted.table[forecasted.table["kind"] == "forecast"].groupby("series")["value"].sum()
    return base | {"headline": headline, "month": view["month"], "outlook": view,
                   "forecast_total_next_days": {k: float(v) for k, v in ahead.items()},
                   "accuracy": backtested.accuracy.astype(str).to_dict("records"),
                   "choice": backtested.choice.to_dict("records"),
                   "calibration": calibrate.calibration_table(backtested.calibration).astype(str).to_dict("records"),
                   "budget_risk": risk.astype(str).to_dict("records")}  # fmt: skip
