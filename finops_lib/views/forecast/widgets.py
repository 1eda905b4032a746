"""Forecast controls for notebooks: dimension, series, horizon and model redraw the forecast chart.

Thin wiring over :mod:`finops_lib.forecast`, as the other controls (:mod:`finops_lib.views.controls`): every
control is a parameter of ``30_spend_forecast`` (``dimension``, ``series``, ``horizon_days``, ``model``), and the
view draws only once a front end shows it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import ipywidgets

from finops_lib.forecast import backtest as bt
from finops_lib.forecast import calibrate
from finops_lib.forecast.choice import forecast_table
from finops_lib.forecast.models import MODELS
from finops_lib.forecast.series import DIMENSIONS, METRICS, build_series, series_map
from finops_lib.views.controls import dropdown, headline, lazy_view
from finops_lib.views.forecast.charts import fmt_accuracy, plot_forecast
from finops_lib.views.forecast.page import Inputs, budget_per_day
from finops_lib.views.theme import fmt_money

__all__ = ["make_forecast_controls"]


def make_forecast_controls(inputs: Inputs, *, dimension: str = "team", series: str = "", horizon_days: int = 30,
                           model: str = "auto", metric: str = "spend") -> ipywidgets.Widget:  # fmt: skip
    """Return dimension, series, horizon and model controls driving one series' forecast chart.

    Parameters
    ----------
    inputs
        The page's inputs (:func:`finops_lib.views.forecast.page.load`): facts, series and budgets.
    dimension, series, horizon_days, model, metric
        Initial values: the notebook parameters of the same names (``model="auto"`` backtests and chooses).

    Returns
    -------
    ipywidgets.Widget
        A ``VBox``: the controls above the history's spend, the chart and the backtest accuracy of the shown series
        (with ``auto``, the interval is calibrated on the chosen model's backtest errors).
    """
    facts, currency = inputs.facts, inputs.facts.currency
    cache: dict[str, dict[str, Any]] = {dimension: inputs.series}

    def series_of(dim: str) -> dict[str, Any]:
        if dim not in cache:
            cache[dim] = series_map(build_series(facts, by=dim, metric=metric))  # type: ignore[arg-type]
        return cache[dim]

    names = list(series_of(dimension))
    dim = dropdown("Dimension", list(DIMENSIONS), dimension, width="240px")
    pick = dropdown("Series", names, series if series in names else names[0], width="240px")
    horizon = ipywidgets.BoundedIntText(description="Horizon", value=horizon_days, min=1, max=365,
                                        layout=ipywidgets.Layout(width="240px"))  # fmt: skip
    mod = dropdown("Model", ["auto", *MODELS], model, width="240px")
    dim.observe(lambda change: setattr(pick, "options", list(series_of(change["new"]))), names="value")
    history = facts.total(METRICS[metric])

    @functools.lru_cache(maxsize=32)
    def fitted(dimension: str, name: str, horizon: int, model: str) -> tuple[Any, ...]:  # a control seen again
        one = {name: series_of(dimension)[name]}
        chosen, accuracy, calibration = model, None, None
        if chosen == "auto":  # backtest, choose, and calibrate the interval on the chosen model's errors
            result = bt.backtest(one, horizon=horizon, workers=1)
            accuracy = result.accuracy()
            chosen = bt.choose_models(accuracy, one, horizon=horizon)["model"].iloc[0]
            calibration = calibrate.calibrate(result, {name: chosen})
        forecasts = bt.fit_forecasts(one, chosen, horizon=horizon, workers=1, calibration=calibration)
        return one, chosen, accuracy, forecasts, forecast_table(one, forecasts, horizon=horizon)

    def draw(values: dict[str, Any]) -> Iterator[object]:
        name = values["series"]
        one, chosen, accuracy, forecasts, table = fitted(values["dimension"], name, values["horizon"], values["model"])
        month = forecasts[name].frame.index[0].to_period("M")
        rule = budget_per_day(inputs, dimension=values["dimension"], name=name, month=month) \
            if metric == "spend" else None  # fmt: skip
        amount = (lambda v: fmt_money(v, currency)) if metric == "spend" else (lambda v: f"{v:,.0f} tokens")
        yield headline({f"History to {inputs.last}": amount(history), name: amount(one[name].sum())})
        yield plot_forecast(table, series=name, currency=currency if metric == "spend" else None,
                            budget_per_day=rule, title=f"{name}: {chosen}")  # fmt: skip
        if accuracy is not None:
            yield fmt_accuracy(accuracy.drop(columns="note"))

    return lazy_view({"dimension": dim, "series": pick, "horizon": horizon, "model": mod}, draw)
