"""Controls of the feature cost page: a feature and a layer redraw its stack, its cost and its unit costs."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import ipywidgets

from finops_lib.rules.feature_map import LAYERS
from finops_lib.views.controls import dropdown, headline, lazy_view
from finops_lib.views.feature_cost import sections
from finops_lib.views.feature_cost.charts import layer_label
from finops_lib.views.theme import fmt_money

__all__ = ["ALL_LAYERS", "make_feature_controls"]

ALL_LAYERS = "all layers"


def make_feature_controls(fc: sections.FeatureCost) -> ipywidgets.Widget:
    """Return feature and layer controls driving one feature's stack, total and unit costs.

    Parameters
    ----------
    fc
        The page's :func:`~finops_lib.views.feature_cost.sections.feature_cost` (its lead feature is the initial
        value, so the first view is the static page's).

    Returns
    -------
    ipywidgets.Widget
        A ``VBox``: the controls above the feature's (and layer's) cost over the window, its stack by month and its
        unit table, redrawn on every change (only once a front end shows it).
    """
    frame = fc.stack.frame
    present = set(frame["layer"])
    layers = [ALL_LAYERS, *(layer_label(k) for k in LAYERS if k in present)]
    by_label = {layer_label(k): k for k in LAYERS}
    controls = {
        "feature": dropdown("Feature", list(fc.shown), fc.feature, width="340px"),
        "layer": dropdown("Layer", layers, ALL_LAYERS, width="260px"),
    }

    def draw(values: dict[str, Any]) -> Iterator[object]:
        feature, layer = values["feature"], by_label.get(values["layer"])
        rows = frame[frame["feature"] == feature]
        if layer:
            rows = rows[rows["layer"] == layer]
        total = sum(rows["cost"], Decimal(0))
        whole = sum(frame.loc[frame["feature"] == feature, "cost"], Decimal(0))
        items = {f"{feature}" + (f", {values['layer']}" if layer else ""): fmt_money(total, fc.currency)}
        if layer:
            items["Share of the feature"] = f"{float(total / whole):.0%}" if whole else "n/a"
        yield headline(items)
        yield sections.feature_chart(fc, feature, layer)
        yield sections.unit_table(fc, feature)

    return lazy_view(controls, draw)
