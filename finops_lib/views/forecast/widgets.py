"""Forecast controls for notebooks: dimension, series, horizon and model redraw the forecast chart.

Thin wiring over :mod:`finops_lib.forecast`, as the other controls (:mod:`finops_lib.views.controls`): every
control is a parameter of ``30_spend_forecast`` (``dimension``, ``series``, ``horizon_days``, ``model``), and the
view draws only once a front end shows it (see :mod:`finops_lib.views.controls` on headless runs).
"""

from __future__ import annotations

from typing import Any

import ipywidgets
from IPython.display import display

__all__ = ["make_forecast_controls"]


def make_forecast_controls(con: Any, *, dimension: str = "team", series: str = "", horizon_days: int = 30,
                           model: str = "auto", metric: str = "spend", currency: str = "USD",
                           data_dir: str | None = None, budgets: Any = None) -> ipywidgets.Widget:  # fmt: skip
    """Return dimension, series, horizon and model controls driving one series' forecast chart.

    Parameters
    ----------
    con
        The warehouse (:func:`finops_lib.warehouse.ingestion.open_data`).
    dimension, series, horizon_days, model, metric, currency
        Initial values: the notebook parameters of the same names (``model="auto"`` backtests and chooses).
    data_dir
        Data folder (its allocation rules make the team and application series).
    budgets
        :func:`finops_lib.forecast.budgets.read_budgets` frame, for the budget rule (None: no rule).

    Returns
    -------
    ipywidgets.Widget
        A ``VBox``: the controls above the chart and the backtest accuracy of the shown series (with ``auto``,
        the interval is calibrated on the chosen model's backtest errors, :mod:`finops_lib.forecast.calibrate`).
    """
    from finops_lib import forecast as fc
    from finops_lib.forecast import backtest as bt
    from finops_lib.forecast import calibrate
    from finops_lib.forecast import choice as forecast_report
    from finops_lib.forecast.models import MODELS
    from finops_lib.views.forecast import charts as cf

    cache: dict[str, dict[str, Any]] = {}

    def series_of(dim: str) -> dict[str, Any]:
        if dim not in cache:
            frame = fc.build_series(con, by=dim, metric=metric, currency=currency, data_dir=data_dir)
            cache[dim] = fc.series_map(frame)
        return cache[dim]

    layout = {"layout": ipywidgets.Layout(width="240px"), "style": {"description_width": "80px"}}
    dim = ipywidgets.Dropdown(description="Dimension", options=list(fc.DIMENSIONS), value=dimension, **layout)
    names = list(series_of(dimension))
    pick = ipywidgets.Dropdown(description="Series", options=names,
                               value=series if series in names else names[0], **layout)  # fmt: skip
    horizon = ipywidgets.BoundedIntText(description="Horizon", value=horizon_days, min=1, max=365, **layout)
    mod = ipywidgets.Dropdown(description="Model", options=["auto", *MODELS], value=model, **layout)
    output = ipywidgets.Output()
    output._view_count = 0  # draw only when a front end shows the view

    def on_dimension(change: dict) -> None:
        pick.options = list(series_of(change["new"]))

    def redraw(change: dict | None = None) -> None:
        if not output._view_count or (change and change["name"] == "_view_count" and change["old"]):
            return
        one = {pick.value: series_of(dim.value)[pick.value]}
        chosen, accuracy, calibration = mod.value, None, None
        if chosen == "auto":  # backtest, choose, and calibrate the interval on the chosen model's errors
            result = bt.backtest(one, horizon=horizon.value, workers=1)
            accuracy = result.accuracy()
            chosen = bt.choose_models(accuracy, one, horizon=horizon.value)["model"].iloc[0]
            calibration = calibrate.calibrate(result, {pick.value: chosen})
        forecasts = bt.fit_forecasts(one, chosen, horizon=horizon.value, workers=1, calibration=calibration)
        table = forecast_report.forecast_table(one, forecasts, horizon=horizon.value)
        rule = None
        if budgets is not None and metric == "spend":
            month = forecasts[pick.value].frame.index[0].to_period("M")
            row = budgets[(budgets["dimension"] == dim.value) & (budgets["name"] == pick.value)
                          & (budgets["month"] == str(month))]  # fmt: skip
            rule = float(row["amount"].iloc[0]) / month.days_in_month if len(row) else None
        output.clear_output(wait=True)
        with output:
            display(cf.plot_forecast(table, series=pick.value, currency=currency if metric == "spend" else None,
                                     budget_per_day=rule, title=f"{pick.value}: {chosen}"))  # fmt: skip
            if accuracy is not None:
                display(cf.fmt_accuracy(accuracy.drop(columns="note")))

    dim.observe(on_dimension, names="value")
    for control in (pick, horizon, mod):
        control.observe(redraw, names="value")
    output.observe(redraw, names="_view_count")
    return ipywidgets.VBox([ipywidgets.HBox([dim, pick, horizon, mod]), output])
