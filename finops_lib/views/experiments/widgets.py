"""Interactive controls of the experiment notebook: experiment, metric and projected volume.

Same wiring as :mod:`finops_lib.views.controls` (draw only once a front end shows the view); each control is a notebook
parameter of the same name, and the view calls the same library functions as the notebook's static cells.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ipywidgets
import pandas as pd

from finops_lib.experiments import comparison as experiments
from finops_lib.experiments import projection
from finops_lib.views.controls import dropdown, headline, lazy_view
from finops_lib.views.experiments.charts import (
    distribution_bins,
    plot_cost_distribution,
    plot_differences,
    plot_frontier,
)

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
    width = "300px"
    controls = {
        "experiment": dropdown("Experiment", names, experiment, width=width),
        "metric": dropdown("Metric", sorted(experiments.REQUEST_METRICS), metric, width=width),
        "requests_per_day": ipywidgets.IntSlider(description="Requests/day", min=100, max=1_000_000, step=100,
                                                 value=int(requests_per_day), layout=ipywidgets.Layout(width=width)),
    }  # fmt: skip

    def draw(v: dict[str, Any]) -> Iterator[object]:
        cmp_ = experiments.compare(requests, v["experiment"], metric=v["metric"], n_boot=n_boot)
        values = experiments.per_request(requests, v["experiment"], metric=v["metric"])
        money = currency if v["metric"].endswith("cost") else ""
        proj = projection.frontier(projection.project(
            requests, v["experiment"], requests_per_day=v["requests_per_day"], cache_hit_rate=cache_hit_rate,
            batch_share=batch_share, price_date=price_date, n_boot=n_boot))  # fmt: skip
        logged = summary.loc[summary["experiment"] == v["experiment"], "requests"].sum()
        yield headline({"Experiment": str(v["experiment"]), "Requests logged": f"{int(logged):,}",
                        "Verdict": cmp_.verdict})  # fmt: skip
        yield plot_differences(cmp_.table)
        yield plot_cost_distribution(distribution_bins(values), currency=money,
                                     label=f"{v['metric']} per request".capitalize())  # fmt: skip
        yield plot_frontier(proj, currency=currency)

    return lazy_view(controls, draw)
