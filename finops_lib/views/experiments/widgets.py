"""Interactive controls of the experiment notebook: experiment, metric and projected volume.

Same wiring as :mod:`finops_lib.views.controls` (draw only once a front end shows the view); each control is a notebook
parameter of the same name, and the view calls the same library functions as the notebook's static cells.
"""

from __future__ import annotations

import ipywidgets
import pandas as pd
from IPython.display import display

from finops_lib.experiments import comparison as experiments
from finops_lib.experiments import projection
from finops_lib.views.experiments import charts as charts_experiments

__all__ = ["make_experiment_controls"]


def make_experiment_controls(requests: object, summary: pd.DataFrame, *, experiment: str, metric: str = "cost",
                             requests_per_day: float = 10_000, cache_hit_rate: float | None = None,
                             batch_share: float = 0.0, price_date: object = None, currency: str = "USD",
                             n_boot: int = 2000) -> ipywidgets.Widget:  # fmt: skip
    """Return experiment, metric and volume controls driving the comparison, distribution and frontier views.

    Parameters
    ----------
    requests : ibis Table
        The request logs (:func:`finops_lib.views.experiments.page.load_requests`).
    summary : DataFrame
        :func:`finops_lib.experiments.comparison.variants` of every experiment (the experiment list).
    experiment, metric, requests_per_day, cache_hit_rate, batch_share, price_date, n_boot
        Initial values: the notebook parameters of the same names.
    currency : str
        Currency of the logged costs and of the catalog.

    Returns
    -------
    ipywidgets.Widget
        A ``VBox``: the controls above the verdict, the differences chart, the distribution and the frontier.
    """
    names = sorted(summary["experiment"].unique())
    layout = {"layout": ipywidgets.Layout(width="300px"), "style": {"description_width": "110px"}}
    controls = {
        "experiment": ipywidgets.Dropdown(description="Experiment", options=names, value=experiment, **layout),
        "metric": ipywidgets.Dropdown(description="Metric", options=sorted(experiments.METRICS), value=metric,
                                      **layout),
        "requests_per_day": ipywidgets.IntSlider(description="Requests/day", min=100, max=1_000_000, step=100,
                                                 value=int(requests_per_day), **layout),
    }  # fmt: skip
    output = ipywidgets.Output()
    output._view_count = 0  # draw only when a front end shows the view (see finops_lib.views.controls)

    def redraw(change: dict | None = None) -> None:
        if not output._view_count or (change and change["name"] == "_view_count" and change["old"]):
            return
        v = {name: control.value for name, control in controls.items()}
        cmp_ = experiments.compare(requests, v["experiment"], metric=v["metric"], n_boot=n_boot)
        values = experiments.per_request(requests, v["experiment"], metric=v["metric"])
        money = currency if v["metric"].endswith("cost") else ""
        proj = projection.frontier(projection.project(
            requests, v["experiment"], requests_per_day=v["requests_per_day"], cache_hit_rate=cache_hit_rate,
            batch_share=batch_share, price_date=price_date, n_boot=n_boot))  # fmt: skip
        output.clear_output(wait=True)
        with output:
            print(cmp_.verdict)
            display(charts_experiments.plot_differences(cmp_.table))
            display(charts_experiments.plot_cost_distribution(charts_experiments.distribution_bins(values),
                                                              currency=money,
                                                              label=f"{v['metric']} per request".capitalize()))
            display(charts_experiments.plot_frontier(proj, currency=currency))

    for control in controls.values():
        control.observe(redraw, names="value")
    output.observe(redraw, names="_view_count")
    return ipywidgets.VBox([ipywidgets.HBox(list(controls.values())), output])
