"""Feature cost charts: a feature's stack by layer and month, features side by side, unit costs, self-hosted $/1M.

Same contract as :mod:`finops_lib.views.theme`: each ``plot_*`` takes a small aggregated frame (money may be
:class:`~decimal.Decimal`; drawn as float) and returns an :class:`altair.Chart`. Layers keep one colour on every
chart (model inference blue, embeddings orange, ...), stacked in :data:`~finops_lib.rules.feature_map.LAYERS` order
with model tokens at the bottom; other legends are sorted by total, largest first.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"month": ["2026-05-01", "2026-05-01"], "layer": ["compute", "model_inference"],
...                       "cost": [2.0, 5.0]})
>>> spec = plot_layer_stack(frame, currency="USD", title="t").to_dict()
>>> spec["encoding"]["color"]["scale"]["domain"]
['model inference', 'compute']
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from finops_lib.rules.feature_map import LAYERS
from finops_lib.views.notice import Notice, when_empty
from finops_lib.views.theme import PALETTE, as_floats, by_total, check_frame, fmt_currency_axis, money_format

__all__ = ["LAYER_COLORS", "layer_label", "plot_feature_layers", "plot_layer_stack", "plot_selfhosted",
           "plot_unit_trend"]  # fmt: skip

#: Colour of each layer, the same on every chart.
LAYER_COLORS: dict[str, str] = dict(zip(LAYERS.values(), (*PALETTE[: len(LAYERS) - 1], "#bab0ac"), strict=True))


def layer_label(layer: str) -> str:
    """Return how pages show a layer (``retrieval`` -> ``retrieval / vector DB``); an unknown name as it is."""
    return LAYERS.get(str(layer), str(layer))


def _layers(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str], alt.Scale]:
    data = frame.assign(layer=frame["layer"].map(layer_label))
    present = set(data["layer"])
    domain = [name for name in LAYER_COLORS if name in present] + sorted(present - set(LAYER_COLORS))
    colours = [LAYER_COLORS.get(name, "#bab0ac") for name in domain]
    data["_order"] = data["layer"].map({name: i for i, name in enumerate(domain)})
    return data, domain, alt.Scale(domain=domain, range=colours)


@when_empty("No cost in this window: no stack to chart.")
def plot_layer_stack(frame: pd.DataFrame, *, currency: str, title: str) -> alt.Chart:
    """Return monthly bars of cost stacked by layer (model tokens at the bottom).

    ``frame``: ``month``, ``layer`` (names of :data:`LAYERS`), ``cost`` in ``currency``.
    """
    data = as_floats(check_frame(frame, ["month", "layer", "cost"], chart="plot_layer_stack"), ["cost"])
    data["month"] = pd.to_datetime(data["month"])
    data, domain, scale = _layers(data.groupby(["month", "layer"], as_index=False)["cost"].sum())
    return (
        alt.Chart(data, title=alt.Title(title, subtitle="Stacked by layer; model tokens at the bottom"), width=560)
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(month):O", title="Month", axis=alt.Axis(format="%b %Y", labelAngle=0)),
            y=alt.Y("sum(cost):Q", axis=fmt_currency_axis(currency, fmt=money_format(data["cost"]))),
            color=alt.Color("layer:N", title="Layer", sort=domain, scale=scale),
            order=alt.Order("_order:Q", sort="ascending"),
            tooltip=[alt.Tooltip("yearmonth(month):O", title="Month", format="%B %Y"),
                     alt.Tooltip("layer:N", title="Layer"),
                     alt.Tooltip("sum(cost):Q", title=f"Cost ({currency})", format=",.2f")],
        )
    )  # fmt: skip


@when_empty("No feature has cost in this window.")
def plot_feature_layers(frame: pd.DataFrame, *, currency: str, top: int = 10, title: str) -> alt.Chart:
    """Return horizontal bars of each feature's cost over the window, stacked by layer, largest feature first.

    ``frame``: ``feature``, ``layer``, ``cost``. Features beyond the ``top`` largest are summed as ``Other
    features`` (at the bottom).
    """
    data = as_floats(check_frame(frame, ["feature", "layer", "cost"], chart="plot_feature_layers"), ["cost"])
    data["feature"] = data["feature"].astype(str)
    keep = by_total(data, "feature", "cost")[:top]
    data["feature"] = data["feature"].where(data["feature"].isin(keep), "Other features")
    data, domain, scale = _layers(data.groupby(["feature", "layer"], as_index=False)["cost"].sum())
    order = [*keep, *(["Other features"] if (data["feature"] == "Other features").any() else [])]
    return (
        alt.Chart(data, title=alt.Title(title, subtitle="Every layer of each feature, shared services split"))
        .mark_bar()
        .encode(
            x=alt.X("sum(cost):Q", axis=fmt_currency_axis(currency)),
            y=alt.Y("feature:N", title=None, sort=order, axis=alt.Axis(labelLimit=320)),
            color=alt.Color("layer:N", title="Layer", sort=domain, scale=scale),
            order=alt.Order("_order:Q", sort="ascending"),
            tooltip=[alt.Tooltip("feature:N", title="Feature"), alt.Tooltip("layer:N", title="Layer"),
                     alt.Tooltip("sum(cost):Q", title=f"Cost ({currency})", format=",.2f")],
        )
    )  # fmt: skip


@when_empty("No unit cost to chart: no feature has both cost and the unit in this window.")
def plot_unit_trend(frame: pd.DataFrame, *, value: str, label: str, currency: str, title: str) -> alt.Chart:
    """Return one line per feature of a unit cost by month (``per_request``, ``per_active_user``, ...).

    ``frame``: ``month``, ``feature`` and ``value`` (None where the unit is missing: the point is left out).
    """
    data = as_floats(frame, [value]).dropna(subset=[value])
    if data.empty:
        return Notice("No unit cost to chart: no feature has both cost and the unit in this window.")
    data = check_frame(data, ["month", "feature", value], chart="plot_unit_trend")
    data["month"] = pd.to_datetime(data["month"])
    legend = by_total(data, "feature", value)
    fmt = money_format(data[value])
    return (
        alt.Chart(data, title=alt.Title(title, subtitle="All layers included; a month without the unit is left out"),
                  width=560)
        .mark_line(point=True)
        .encode(
            x=alt.X("yearmonth(month):O", title="Month", axis=alt.Axis(format="%b %Y", labelAngle=0)),
            y=alt.Y(f"{value}:Q", axis=fmt_currency_axis(currency, title=f"{label} ({currency})", fmt=fmt)),
            color=alt.Color("feature:N", title="Feature", sort=legend),
            tooltip=[alt.Tooltip("yearmonth(month):O", title="Month", format="%B %Y"),
                     alt.Tooltip("feature:N", title="Feature"),
                     alt.Tooltip(f"{value}:Q", title=f"{label} ({currency})", format=",.4f")],
        )
    )  # fmt: skip


@when_empty("No self-hosted day has both GPU cost and tokens: no price per token to chart.")
def plot_selfhosted(days: pd.DataFrame, api: pd.DataFrame, *, currency: str) -> alt.Chart:
    """Return each deployment's blended cost per 1M tokens by day, and its API model's price as a dashed line.

    ``days``: ``deployment``, ``day``, ``per_1m_blended`` (priced days only); ``api``: ``deployment``,
    ``api_model``, ``api_per_1m`` (at the deployment's mix), empty when no model is compared.
    """
    data = as_floats(days[["deployment", "day", "per_1m_blended"]], ["per_1m_blended"]).dropna()
    if data.empty:
        return Notice("No self-hosted day has both GPU cost and tokens: no price per token to chart.")
    data = check_frame(data, ["deployment", "day", "per_1m_blended"], chart="plot_selfhosted")
    data["day"] = pd.to_datetime(data["day"])
    legend = sorted(data["deployment"].astype(str).unique())
    fmt = money_format(data["per_1m_blended"])
    axis = fmt_currency_axis(currency, title=f"Cost per 1M tokens ({currency})", fmt=fmt)
    lines = alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("day:T", title="Day", axis=alt.Axis(format="%d %b")),
        y=alt.Y("per_1m_blended:Q", axis=axis),
        color=alt.Color("deployment:N", title="Deployment", sort=legend),
        tooltip=[alt.Tooltip("deployment:N", title="Deployment"), alt.Tooltip("day:T", title="Day"),
                 alt.Tooltip("per_1m_blended:Q", title=f"Per 1M tokens ({currency})", format=",.4f")],
    )  # fmt: skip
    title = alt.Title("Self-hosted cost per 1M tokens, by day",
                      subtitle="GPU cost over every token served (blended); dashed: the compared API model")
    compared = api[["deployment", "api_model", "api_per_1m"]].dropna(subset=["api_per_1m"]) if len(api) else api
    compared = as_floats(compared, ["api_per_1m"]) if len(compared) else compared
    if not len(compared):
        return lines.properties(title=title)
    rule = alt.Chart(compared).mark_rule(strokeDash=[6, 4]).encode(
        y=alt.Y("api_per_1m:Q", axis=axis),
        color=alt.Color("deployment:N", title="Deployment", sort=legend),
        tooltip=[alt.Tooltip("deployment:N", title="Deployment"), alt.Tooltip("api_model:N", title="API model"),
                 alt.Tooltip("api_per_1m:Q", title=f"API per 1M tokens ({currency})", format=",.4f")],
    )  # fmt: skip
    return alt.layer(lines, rule).properties(title=title)
