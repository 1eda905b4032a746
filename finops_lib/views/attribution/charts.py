"""Attribution charts: spend by the owner hierarchy, showback by month, coverage, unallocated keys, unit costs.

Same contract as :mod:`finops_lib.views.theme` (its theme, currency axes and frame checks are reused): each
``plot_*`` takes a small aggregated frame (money may be :class:`~decimal.Decimal`; it is drawn as float)
and returns an :class:`altair.Chart`; legends are sorted by total, largest first.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"team": ["a", "b"], "application": ["x", "y"], "cost": [2.0, 5.0]})
>>> chart = plot_hierarchy(frame, levels=("team", "application"), currency="USD")
>>> chart.to_dict()["encoding"]["y"]["sort"]
['b', 'a']
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from finops_lib.errors import SchemaError
from finops_lib.views.notice import when_empty
from finops_lib.views.theme import PALETTE, as_floats, by_total, check_frame, fmt_currency_axis, money_format

__all__ = ["KIND_COLORS", "plot_coverage_by_provider", "plot_hierarchy", "plot_showback", "plot_unallocated_keys",
           "plot_unit_cost"]  # fmt: skip

#: Colour of each allocation kind (direct in the palette's blue, unallocated in grey).
KIND_COLORS: dict[str, str] = {"direct": "#4e79a7", "metered": "#76b7b2", "shared": "#f28e2b", "spread": "#edc948",
                               "unallocated": "#bab0ac"}  # fmt: skip
OTHER = "Other"
OTHER_COLOR = "#bab0ac"


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _top(frame: pd.DataFrame, column: str, value: str, top: int) -> pd.DataFrame:
    """Keep the ``top`` largest groups of ``column`` by total ``value``; the others become ``Other``.

    At most as many groups as the palette has distinct hues (nine; grey is Other's), so no two share a colour.
    """
    keep = set(by_total(frame, column, value)[:min(top, len(PALETTE) - 1)])
    return frame.assign(**{column: frame[column].where(frame[column].isin(keep), OTHER)})


def _legend_order(frame: pd.DataFrame, column: str, value: str) -> list[str]:
    order = by_total(frame, column, value)
    return [g for g in order if g != OTHER] + ([OTHER] if OTHER in order else [])


def _scale(legend: list[str]) -> alt.Scale:
    """Return palette colours in legend order (cycled, grey left out) and grey for ``Other``."""
    named = [g for g in legend if g != OTHER]
    hues = [c for c in PALETTE if c != OTHER_COLOR]  # grey is kept for Other
    colours = [hues[i % len(hues)] for i in range(len(named))] + ([OTHER_COLOR] if OTHER in legend else [])
    return alt.Scale(domain=legend, range=colours)


@when_empty("No allocated cost in this window: nothing to break down by owner.")
def plot_hierarchy(frame: pd.DataFrame, *, levels: Sequence[str] = ("business_unit", "team", "application"),
                   currency: str, top: int = 10, title: str | None = None) -> alt.Chart:  # fmt: skip
    """Return horizontal bars of cost per owner path, stacked by the last level.

    Parameters
    ----------
    frame
        The ``levels`` columns and ``cost`` (one row per path; e.g. :func:`finops_lib.allocation.hierarchy`).
    levels
        Two or three owner levels, top first: bars are the first levels (``business unit › team``), the stack
        is the last one (``application``), its ``top`` largest named and the rest summed as ``Other``.
    currency
        ISO 4217 code of ``cost``.
    title
        Chart title; default ``"Spend by <bar levels> and <last level>"``.

    Returns
    -------
    alt.Chart
        Bars sorted by their parent's total, then their own, largest first.

    Raises
    ------
    SchemaError
        On a missing column or fewer than two levels.
    """
    levels = list(levels)
    if len(levels) < 2:
        raise SchemaError("plot_hierarchy", "levels", "give at least two levels (bars, stack)")
    data = as_floats(check_frame(frame, [*levels, "cost"], chart="plot_hierarchy"), ["cost"])
    data[levels] = data[levels].astype(str)
    bars, stack = levels[:-1], levels[-1]
    data["path"] = data[bars].agg(" › ".join, axis=1)
    data = _top(data, stack, "cost", top)
    data = data.groupby([*bars, "path", stack], as_index=False)["cost"].sum()
    parent = data.groupby(bars[0])["cost"].transform("sum")
    own = data.groupby("path")["cost"].transform("sum")
    order = data.assign(_p=-parent, _o=-own).sort_values(["_p", bars[0], "_o", "path"])["path"].drop_duplicates()
    legend = _legend_order(data, stack, "cost")
    path = " › ".join(_title(b).lower() for b in bars)
    return (
        alt.Chart(data, title=alt.Title(title or f"Spend by {path} and {_title(stack).lower()}",
                                        subtitle=f"Bars: {path}; colours: {_title(stack).lower()}"))
        .mark_bar()
        .encode(
            x=alt.X("sum(cost):Q", axis=fmt_currency_axis(currency)),
            y=alt.Y("path:N", title=None, sort=order.tolist(), axis=alt.Axis(labelLimit=320)),
            color=alt.Color(f"{stack}:N", title=_title(stack), sort=legend, scale=_scale(legend)),
            order=alt.Order("sum(cost):Q", sort="descending"),
            tooltip=[*(alt.Tooltip(f"{lv}:N", title=_title(lv)) for lv in levels),
                     alt.Tooltip("sum(cost):Q", title=f"Cost ({currency})", format=",.2f")],
        )
    )  # fmt: skip


@when_empty("No allocated cost in this window: no showback to chart.")
def plot_showback(frame: pd.DataFrame, *, by: str = "team", currency: str, top: int = 10,
                  title: str | None = None) -> alt.Chart:  # fmt: skip
    """Return monthly stacked bars of total allocated cost (direct plus shared) per owner.

    Parameters
    ----------
    frame
        Columns ``month`` (date), ``<by>`` and ``total`` in one currency (:func:`finops_lib.allocation.showback`).
    by
        The owner column.
    currency
        ISO 4217 code of ``total``.
    top
        Owners named; the others are summed as ``Other``.
    title
        Chart title; default ``"Monthly showback by <by>"``.
    """
    data = as_floats(check_frame(frame, ["month", by, "total"], chart="plot_showback"), ["total"])
    data["month"] = pd.to_datetime(data["month"])
    data[by] = data[by].astype(str)
    data = _top(data, by, "total", top).groupby(["month", by], as_index=False)["total"].sum()
    legend = _legend_order(data, by, "total")
    data["_rank"] = data[by].map({g: i for i, g in enumerate(legend)})
    return (
        alt.Chart(data, title=title or f"Monthly showback by {_title(by).lower()}", width=560)
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(month):O", title="Month", axis=alt.Axis(format="%b %Y", labelAngle=0)),
            y=alt.Y("sum(total):Q", axis=fmt_currency_axis(currency, label="Allocated cost")),
            color=alt.Color(f"{by}:N", title=_title(by), sort=legend, scale=_scale(legend)),
            order=alt.Order("_rank:Q", sort="ascending"),
            tooltip=[alt.Tooltip("yearmonth(month):O", title="Month", format="%b %Y"),
                     alt.Tooltip(f"{by}:N", title=_title(by)),
                     alt.Tooltip("sum(total):Q", title=f"Allocated cost ({currency})", format=",.2f")],
        )
    )  # fmt: skip


@when_empty("No cost in this window: no allocation coverage to chart.")
def plot_coverage_by_provider(frame: pd.DataFrame, *, currency: str, title: str | None = None) -> alt.Chart:
    """Return 100% stacked bars per provider: the share of cost by allocation kind, in one currency.

    Parameters
    ----------
    frame
        :func:`finops_lib.allocation.coverage` output (``currency``, ``provider``, one column per kind).
    currency
        The currency shown (rows of other currencies are left out).
    title
        Chart title; default ``"Allocation coverage by provider (<currency>)"``.
    """
    kinds = list(KIND_COLORS)
    data = as_floats(check_frame(frame, ["currency", "provider", *kinds], chart="plot_coverage_by_provider"), kinds)
    data = data[data["currency"] == currency]
    long = data.melt(id_vars=["provider"], value_vars=kinds, var_name="kind", value_name="cost")
    total = long.groupby("provider")["cost"].transform("sum")
    long["share"] = (long["cost"] / total.where(total != 0)).fillna(0.0)
    long["_rank"] = long["kind"].map({k: i for i, k in enumerate(kinds)})
    order = [p for p in data["provider"] if p != "All providers"] + ["All providers"] * ("All providers" in
                                                                                          set(data["provider"]))
    return (
        alt.Chart(long, title=title or f"Allocation coverage by provider ({currency})")
        .mark_bar()
        .encode(
            x=alt.X("share:Q", title="Share of cost (%)", axis=alt.Axis(format=".0%"), scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("provider:N", title="Provider", sort=order),
            color=alt.Color("kind:N", title="Allocation", sort=kinds,
                            scale=alt.Scale(domain=kinds, range=[KIND_COLORS[k] for k in kinds])),
            order=alt.Order("_rank:Q", sort="ascending"),
            tooltip=[alt.Tooltip("provider:N", title="Provider"), alt.Tooltip("kind:N", title="Allocation"),
                     alt.Tooltip("cost:Q", title=f"Cost ({currency})", format=",.2f"),
                     alt.Tooltip("share:Q", title="Share", format=".1%")],
        )
    )  # fmt: skip


@when_empty("No unallocated cost: every amount has an owner.")
def plot_unallocated_keys(frame: pd.DataFrame, *, currency: str, title: str | None = None) -> alt.Chart:
    """Return horizontal bars of the unallocated cost each raw key would cover, largest on top.

    Parameters
    ----------
    frame
        :func:`finops_lib.allocation.unallocated_keys` output (``currency``, ``provider``, ``key``, ``value``,
        ``name``, ``cost``).
    currency
        The currency shown.
    title
        Chart title; default ``"Unallocated cost by raw key (<currency>)"``.
    """
    data = as_floats(check_frame(frame, ["currency", "provider", "key", "value", "name", "cost"],
                            chart="plot_unallocated_keys", nullable=["name"]), ["cost"])  # fmt: skip
    data = data[data["currency"] == currency]
    named = data["name"].fillna("").astype(str)
    data["label"] = data["provider"] + " " + data["key"] + " " + data["value"].astype(str) + \
        named.map(lambda n: f" ({n})" if n else "")
    order = data.sort_values(["cost", "label"], ascending=[False, True])["label"].tolist()
    return (
        alt.Chart(data, title=alt.Title(title or f"Unallocated cost by raw key ({currency})",
                                        subtitle="Bars: provider, match field and value (sub-account name)"))
        .mark_bar(color=KIND_COLORS["unallocated"])
        .encode(
            x=alt.X("cost:Q", axis=fmt_currency_axis(currency, label="Unallocated cost")),
            y=alt.Y("label:N", title=None, sort=order, axis=alt.Axis(labelLimit=420)),
            tooltip=[alt.Tooltip("provider:N", title="Provider"), alt.Tooltip("key:N", title="Key"),
                     alt.Tooltip("value:N", title="Value"), alt.Tooltip("name:N", title="Name"),
                     alt.Tooltip("cost:Q", title=f"Cost ({currency})", format=",.2f")],
        )
    )  # fmt: skip


#: KPI columns of :func:`finops_lib.allocation.unit_costs.unit_economics` and how they are labelled and formatted.
UNIT_METRICS: dict[str, tuple[str, str]] = {
    "cost_per_1m_tokens": ("Cost per 1M tokens", "money"),
    "cost_per_1m_input": ("Cost per 1M input tokens", "money"),
    "cost_per_1m_output": ("Cost per 1M output tokens", "money"),
    "cost_per_request": ("Cost per request", "money"),
    "cost_per_metric": ("Cost per business unit of work", "money"),
    "cache_hit_rate": ("Cache hit rate (%)", "share"),
    "batch_share": ("Batch share of token cost (%)", "share"),
    "output_input_ratio": ("Output tokens per input token", "ratio"),
}


@when_empty("No unit costs: no tokens or requests with a cost in this window.")
def plot_unit_cost(frame: pd.DataFrame, *, by: str, metric: str = "cost_per_1m_tokens", currency: str,
                   top: int = 8, title: str | None = None) -> alt.Chart:  # fmt: skip
    """Return one line per group of a unit-economics KPI over periods.

    Parameters
    ----------
    frame
        :func:`finops_lib.allocation.unit_costs.unit_economics` output: ``period``, ``<by>`` and ``metric``.
    by
        The group column.
    metric
        A key of :data:`UNIT_METRICS`.
    currency
        ISO 4217 code of money metrics.
    top
        Groups drawn (largest ``cost`` first when the frame has it).
    title
        Chart title; default ``"<metric label> by <by>"``.

    Raises
    ------
    SchemaError
        On a missing column or an unknown metric.
    """
    if metric not in UNIT_METRICS:
        raise SchemaError("plot_unit_cost", metric, f"unknown metric; choose one of {', '.join(UNIT_METRICS)}")
    label, kind = UNIT_METRICS[metric]
    columns = ["period", by, metric] + (["cost"] if "cost" in frame.columns else [])
    data = as_floats(check_frame(frame, columns, chart="plot_unit_cost", nullable=[metric]),
                   [metric, *columns[3:]])  # fmt: skip
    data["period"] = pd.to_datetime(data["period"])
    data[by] = data[by].astype(str)
    data = data.dropna(subset=[metric])
    ranked = by_total(data, by, "cost" if "cost" in data.columns else metric)[:top]
    data = data[data[by].isin(ranked)]
    money = kind == "money"
    axis = (fmt_currency_axis(currency, title=f"{label} ({currency})", fmt=money_format(data[metric])) if money else
            alt.Axis(title=label, format=".0%" if kind == "share" else ",.2~f"))  # fmt: skip
    fmt = ",.4f" if money else (".1%" if kind == "share" else ",.3f")
    tip = f"{label} ({currency})" if money else label
    return (
        alt.Chart(data, title=title or f"{label.split(' (')[0]} by {_title(by).lower()}", width=560)
        .mark_line(point=True)
        .encode(
            x=alt.X("yearmonthdate(period):O", title="Period (start)", axis=alt.Axis(format="%d %b %Y", labelAngle=0)),
            y=alt.Y(f"{metric}:Q", axis=axis),
            color=alt.Color(f"{by}:N", title=_title(by), sort=ranked, scale=_scale(ranked)),
            tooltip=[alt.Tooltip("yearmonthdate(period):O", title="Period (start)", format="%Y-%m-%d"),
                     alt.Tooltip(f"{by}:N", title=_title(by)),
                     alt.Tooltip(f"{metric}:Q", title=tip, format=fmt)],
        )
    )  # fmt: skip
