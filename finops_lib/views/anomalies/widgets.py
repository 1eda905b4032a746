"""Controls of the anomaly review notebook: detector, sensitivity, dimension, series, dates and the anomaly shown.

Thin wiring only (:mod:`finops_lib.views.controls`): every control is also a notebook parameter of the same name,
and the views are drawn by the anomaly package and the page's charts, only once a front end shows the widget.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import ipywidgets
import pandas as pd

from finops_lib.anomalies import DETECTORS, DIMENSIONS, METRICS, run_detection
from finops_lib.anomalies.explain import explain_alert
from finops_lib.errors import FinopsError
from finops_lib.views.anomalies.charts import (
    fmt_alerts,
    plot_anomaly_series,
    plot_decomposition_waterfall,
    plot_drilldown,
    series_points,
)
from finops_lib.views.anomalies.page import default_key, pick_alert
from finops_lib.views.controls import date_picker, dropdown, headline, lazy_view, parse_day
from finops_lib.views.theme import fmt_money

__all__ = ["make_anomaly_controls"]


def make_anomaly_controls(cells: pd.DataFrame, *, detector: str = "robust_seasonal", sensitivity: float = 4.0,
                          dimension: str = "team", series_key: str = "", metric: str = "cost", start_date: str = "",
                          end_date: str = "", anomaly_index: int = -1,
                          currency: str = "USD") -> ipywidgets.Widget:  # fmt: skip
    """Return the controls and views of the anomaly review.

    Parameters
    ----------
    cells
        The page's cell facts (:func:`finops_lib.facts.build_cells`).
    detector, sensitivity, dimension, series_key, metric, start_date, end_date, anomaly_index, currency
        Initial values: the notebook parameters of the same names.

    Returns
    -------
    ipywidgets.Widget
        A ``VBox``: the controls above the spend of the window, the series chart with its anomalies, the alert table
        and the chosen anomaly's waterfall and drill-down.
    """
    first, last = cells["day"].min().date(), cells["day"].max().date()
    width = "230px"
    controls = {
        "detector": dropdown("Detector", list(DETECTORS), detector, width=width),
        "sensitivity": ipywidgets.FloatSlider(description="Sensitivity", min=2.0, max=8.0, step=0.5, value=sensitivity,
                                              layout=ipywidgets.Layout(width=width)),
        "dimension": dropdown("Dimension", list(DIMENSIONS), dimension, width=width),
        "series_key": ipywidgets.Text(description="Series", value=series_key, placeholder="largest",
                                      layout=ipywidgets.Layout(width=width)),
        "metric": dropdown("Metric", list(METRICS), metric, width=width),
        "start_date": date_picker("From", parse_day(start_date) or first, width=width),
        "end_date": date_picker("To", parse_day(end_date) or last, width=width),
        "anomaly_index": ipywidgets.BoundedIntText(description="Anomaly #", min=-1, max=999, value=anomaly_index,
                                                   layout=ipywidgets.Layout(width=width)),
    }  # fmt: skip

    @functools.lru_cache(maxsize=8)
    def detect(name: str, level: float) -> tuple[pd.DataFrame, pd.DataFrame]:  # the other controls only pick
        return run_detection(cells, detector=name, sensitivity=level, currency=currency)

    def draw(v: dict[str, Any]) -> Iterator[object]:
        days = (cells["day"] >= pd.Timestamp(v["start_date"])) & (cells["day"] <= pd.Timestamp(v["end_date"]))
        spend = sum((c for c in cells.loc[days, "cost"] if c is not None and not pd.isna(c)), Decimal(0))
        yield headline({f"Spend ({currency})": fmt_money(spend, currency), "From": str(v["start_date"]),
                        "To": str(v["end_date"])})  # fmt: skip
        try:
            points, alerts = detect(v["detector"], v["sensitivity"])
        except FinopsError as exc:  # an unavailable detector is shown, not raised, in a widget
            yield str(exc)
            return
        key = v["series_key"] or default_key(alerts, points, v["dimension"], v["metric"])
        series = series_points(points, dimension=v["dimension"], key=key, metric=v["metric"],
                               start_date=str(v["start_date"]), end_date=str(v["end_date"]))  # fmt: skip
        yield plot_anomaly_series(series, currency=currency, metric=v["metric"],
                                  title=f"{v['dimension']} {key}: {v['metric']} per day")  # fmt: skip
        yield fmt_alerts(alerts)
        if len(alerts):
            row = pick_alert(alerts, anomaly_index=min(v["anomaly_index"], len(alerts) - 1))
            ex = explain_alert(cells, row)
            yield plot_decomposition_waterfall(ex.components, baseline=ex.baseline, current=ex.current,
                                               currency=currency, title=f"{row['anomaly_id']}: {row['scope']}")
            yield plot_drilldown(ex.drilldown, currency=currency, skip=tuple(ex.scope))

    box = lazy_view(controls, draw)
    names = list(controls)
    rows = [ipywidgets.HBox([controls[n] for n in names[:4]]),
            ipywidgets.HBox([*(controls[n] for n in names[4:]), box.status])]
    box.children = [*rows, box.children[1]]
    return box
