"""Controls of the anomaly review notebook: detector, sensitivity, dimension, series, dates and the anomaly shown.

Thin wiring only: every control is also a notebook parameter of the same name, and the views are drawn by
:mod:`finops_lib.anomalies.run`, :mod:`finops_lib.anomalies.explain` and :mod:`finops_lib.views.anomalies.charts` (only
once a front end shows the widget, as the other ``make_*_controls``).
"""

from __future__ import annotations

import ipywidgets
import pandas as pd
from IPython.display import display

from finops_lib.errors import FinopsError

__all__ = ["make_anomaly_controls"]


def make_anomaly_controls(facts: pd.DataFrame, *, detector: str = "robust_seasonal", sensitivity: float = 4.0,
                          dimension: str = "team", series_key: str = "", metric: str = "cost", start_date: str = "",
                          end_date: str = "", anomaly_index: int = -1,
                          currency: str = "USD") -> ipywidgets.Widget:  # fmt: skip
    """Return the controls and views of the anomaly review.

    Parameters
    ----------
    facts
        Cell facts (:func:`finops_lib.facts.cells.build_facts`).
    detector, sensitivity, dimension, series_key, metric, start_date, end_date, anomaly_index, currency
        Initial values: the notebook parameters of the same names.

    Returns
    -------
    ipywidgets.Widget
        A ``VBox``: two rows of controls above the series chart with its anomalies, the alert table and the chosen
        anomaly's waterfall and drill-down.
    """
    from finops_lib.anomalies import detectors as detect
    from finops_lib.anomalies import explain
    from finops_lib.anomalies.run import run_detection
    from finops_lib.views.anomalies import charts as charts_anomaly
    from finops_lib.views.anomalies import page as anomaly_review

    layout = {"layout": ipywidgets.Layout(width="230px"), "style": {"description_width": "80px"}}
    first, last = facts["day"].min().date(), facts["day"].max().date()
    controls = {
        "detector": ipywidgets.Dropdown(description="Detector", options=list(detect.DETECTORS), value=detector,
                                        **layout),
        "sensitivity": ipywidgets.FloatSlider(description="Sensitivity", min=2.0, max=8.0, step=0.5,
                                              value=sensitivity, **layout),
        "dimension": ipywidgets.Dropdown(description="Dimension", options=list(detect.DIMENSIONS), value=dimension,
                                         **layout),
        "series_key": ipywidgets.Text(description="Series", value=series_key, placeholder="largest", **layout),
        "metric": ipywidgets.Dropdown(description="Metric", options=list(detect.METRICS), value=metric, **layout),
        "start_date": ipywidgets.DatePicker(description="From", value=pd.Timestamp(start_date or first).date(),
                                            **layout),
        "end_date": ipywidgets.DatePicker(description="To", value=pd.Timestamp(end_date or last).date(), **layout),
        "anomaly_index": ipywidgets.BoundedIntText(description="Anomaly #", min=-1, max=999, value=anomaly_index,
                                                   **layout),
    }  # fmt: skip
    output = ipywidgets.Output()
    output._view_count = 0

    def redraw(change: dict | None = None) -> None:
        if not output._view_count or (change and change["name"] == "_view_count" and change["old"]):
            return
        v = {name: control.value for name, control in controls.items()}
        output.clear_output(wait=True)
        with output:
            try:
                points, alerts = run_detection(facts, detector=v["detector"], sensitivity=v["sensitivity"],
                                               currency=currency)  # fmt: skip
            except FinopsError as exc:  # an unavailable detector is shown, not raised, in a widget
                print(exc)
                return
            key = v["series_key"] or anomaly_review.default_key(alerts, points, v["dimension"], v["metric"])
            series = charts_anomaly.series_points(
                points,
                dimension=v["dimension"],
                key=key,
                metric=v["metric"],
                start_date=str(v["start_date"]),
                end_date=str(v["end_date"]),
            )
            display(
                charts_anomaly.plot_anomaly_series(
                    series,
                    currency=currency,
                    metric=v["metric"],
                    title=f"{v['dimension']} {key}: {v['metric']} per day",
                )
            )
            display(charts_anomaly.fmt_alerts(alerts))
            if len(alerts):
                row = anomaly_review.pick_alert(alerts, anomaly_index=min(v["anomaly_index"], len(alerts) - 1))
                ex = explain.explain_alert(facts, row)
                display(
                    charts_anomaly.plot_decomposition_waterfall(
                        ex.components,
                        baseline=ex.baseline,
                        current=ex.current,
                        currency=currency,
                        title=f"{row['anomaly_id']}: {row['scope']}",
                    )
                )
                display(charts_anomaly.plot_drilldown(ex.drilldown, currency=currency, skip=tuple(ex.scope)))

    for control in controls.values():
        control.observe(redraw, names="value")
    output.observe(redraw, names="_view_count")
    names = list(controls)
    return ipywidgets.VBox(
        [ipywidgets.HBox([controls[n] for n in names[:4]]), ipywidgets.HBox([controls[n] for n in names[4:]]), output]
    )
