"""Experiment charts: cost per request, differences, frontier, projection, before/after and its decomposition.

Same contract as :mod:`finops_lib.views.theme`: each ``plot_*`` takes a small aggregated frame (money may be
Decimal; it is drawn as float) and returns an :class:`altair.Chart`, never displays it.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"variant": ["a", "b"], "monthly_cost": [100.0, 300.0], "monthly_low": [90.0, 280.0],
...                   "monthly_high": [110.0, 320.0], "quality_mean": [0.7, 0.9], "on_frontier": [True, True]})
>>> plot_frontier(t, currency="USD").to_dict()["title"]
'Cost-quality frontier: monthly cost at production volume against mean quality'
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from finops_lib.decompose import COMPONENTS
from finops_lib.views.notice import when_empty
from finops_lib.views.theme import INCREASE_COLOR, as_floats, check_frame, fmt_currency_axis, money_expr
from finops_lib.views.waterfall import TOTAL_COLOR, plot_waterfall, waterfall_steps

__all__ = ["distribution_bins", "plot_before_after", "plot_cost_distribution", "plot_decomposition",
           "plot_differences", "plot_frontier", "plot_projection"]  # fmt: skip

SMALL = ",.4~g"  # amounts of a few cents per request
COMPONENT_LABELS = {"volume": "Volume", "mix": "Mix", "tokens_per_request": "Tokens per request",
                    "price": "Price per token", "other": "Other"}  # fmt: skip


def distribution_bins(values: dict[str, np.ndarray], *, bins: int = 40) -> pd.DataFrame:
    """Bin per-request values of several variants on common bins (for :func:`plot_cost_distribution`).

    Parameters
    ----------
    values : dict of str to ndarray
        Per-request values by variant.
    bins : int
        Number of bins between the 0.5th and 99.5th percentiles of all values (outliers go to the end bins).

    Returns
    -------
    DataFrame
        ``variant``, ``value`` (bin middle), ``share`` (of the variant's requests), ``mean`` (the variant's mean).
    """
    allv = np.concatenate(list(values.values()))
    lo, hi = np.percentile(allv, [0.5, 99.5])
    edges = np.linspace(lo, hi if hi > lo else lo + 1e-9, bins + 1)
    rows = []
    for variant, v in sorted(values.items()):
        counts, _ = np.histogram(np.clip(v, edges[0], edges[-1]), bins=edges)
        mids = (edges[:-1] + edges[1:]) / 2
        rows += [{"variant": variant, "value": m, "share": c / v.size, "mean": float(v.mean())}
                 for m, c in zip(mids, counts, strict=True)]  # fmt: skip
    return pd.DataFrame(rows)


@when_empty("No requests with a cost: no distribution to chart.")
def plot_cost_distribution(frame: pd.DataFrame, *, currency: str, label: str = "Cost per request") -> alt.Chart:
    """Return the distribution of a per-request value per variant, with each variant's mean as a rule.

    Parameters
    ----------
    frame : DataFrame
        :func:`distribution_bins`.
    currency : str
        ISO code when the value is money; ``""`` for other units.
    label : str
        What the value is (axis title).
    """
    data = check_frame(frame, ["variant", "value", "share", "mean"], chart="plot_cost_distribution")
    order = sorted(data["variant"].unique())
    data = as_floats(data, ["value", "share", "mean"])
    unit = f"{label} ({currency})" if currency else label
    axis = fmt_currency_axis(currency, label=label, fmt=SMALL) if currency else alt.Axis(title=label)
    color = alt.Color("variant:N", sort=order, title="Variant")
    lines = alt.Chart(data).mark_line(interpolate="step", strokeWidth=2).encode(
        x=alt.X("value:Q", axis=axis), y=alt.Y("share:Q", axis=alt.Axis(title="Share of requests", format=".0%")),
        color=color, tooltip=[alt.Tooltip("variant:N", title="Variant"),
                              alt.Tooltip("value:Q", title=unit, format=SMALL),
                              alt.Tooltip("share:Q", title="Share of requests", format=".1%")])  # fmt: skip
    means = alt.Chart(data.drop_duplicates("variant")).mark_rule(strokeDash=[4, 3]).encode(
        x="mean:Q", color=color, tooltip=[alt.Tooltip("variant:N", title="Variant"),
                                          alt.Tooltip("mean:Q", title=f"Mean {unit[0].lower()}{unit[1:]}",
                                                      format=SMALL)])  # fmt: skip
    return alt.layer(lines, means, title=f"{label} per variant (dashed: mean)").properties(width=680, height=260)


@when_empty("No variant to compare with the baseline.")
def plot_differences(table: pd.DataFrame) -> alt.Chart:
    """Return each variant's relative difference from the baseline with its 95% interval.

    Parameters
    ----------
    table : DataFrame
        :attr:`finops_lib.experiments.comparison.Comparison.table`. An interval that cannot be computed (every
        request of a variant costs the same, so the resamples do not vary) is drawn as the point alone.
    """
    data = check_frame(table, ["variant", "baseline", "metric", "rel_diff", "rel_ci_low", "rel_ci_high", "significant"],
                    chart="plot_differences", nullable=["rel_diff", "rel_ci_low", "rel_ci_high"])  # fmt: skip
    base, metric = data["baseline"].iloc[0], data["metric"].iloc[0]
    data = data.assign(result=np.where(data["significant"], "significant (Holm)", "not significant"))
    enc = {"y": alt.Y("variant:N", sort=alt.EncodingSortField("rel_diff", order="descending"), title="Variant")}
    x = alt.X("rel_ci_low:Q", axis=alt.Axis(title=f"Difference in mean {metric} per request vs {base}", format="+.0%"))
    bars = alt.Chart(data).mark_rule(strokeWidth=3).encode(x=x, x2="rel_ci_high:Q", **enc)
    dots = alt.Chart(data).mark_point(filled=True, size=90).encode(
        x="rel_diff:Q", color=alt.Color("result:N", title="Result", scale=alt.Scale(
            domain=["significant (Holm)", "not significant"], range=[INCREASE_COLOR, "#9d9d9d"])),
        tooltip=[alt.Tooltip("variant:N", title="Variant"),
                 alt.Tooltip("rel_diff:Q", title=f"Difference vs {base}", format="+.1%"),
                 alt.Tooltip("rel_ci_low:Q", title="95% CI low", format="+.1%"),
                 alt.Tooltip("rel_ci_high:Q", title="95% CI high", format="+.1%")], **enc)  # fmt: skip
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="#555").encode(x="x:Q")
    return alt.layer(bars, dots, zero, title=f"{metric.capitalize()} per request against {base}, 95% CI").properties(
        width=640)


@when_empty("No variant with a cost and a quality score: no frontier to chart.")
def plot_frontier(table: pd.DataFrame, *, currency: str) -> alt.Chart:
    """Return monthly cost against mean quality per variant, the frontier drawn through the undominated ones.

    Parameters
    ----------
    table : DataFrame
        :func:`finops_lib.experiments.projection.frontier` of a projection (``variant``, ``monthly_cost``,
        ``monthly_low``, ``monthly_high``, ``quality_mean``, ``on_frontier``).
    currency : str
        ISO code of the projection.
    """
    data = check_frame(table, ["variant", "monthly_cost", "monthly_low", "monthly_high", "quality_mean", "on_frontier"],
                    chart="plot_frontier", nullable=["monthly_cost", "monthly_low", "monthly_high", "quality_mean"])
    data = as_floats(data, ["monthly_cost", "monthly_low", "monthly_high", "quality_mean"])
    data = data.dropna(subset=["monthly_cost", "quality_mean"]).assign(
        status=lambda d: np.where(d["on_frontier"], "on the frontier", "dominated"))
    x = alt.X("monthly_cost:Q", axis=fmt_currency_axis(currency, label="Monthly cost"), scale=alt.Scale(zero=False))
    y = alt.Y("quality_mean:Q", axis=alt.Axis(title="Mean quality score (0-1)", format=".2f"),
              scale=alt.Scale(zero=False, padding=20))  # fmt: skip
    err = alt.Chart(data).mark_rule().encode(x="monthly_low:Q", x2="monthly_high:Q", y=y)
    line = alt.Chart(data[data["on_frontier"]]).mark_line(strokeDash=[5, 3], color="#888").encode(x=x, y=y)
    points = alt.Chart(data).mark_point(filled=True, size=110).encode(
        x=x, y=y, color=alt.Color("status:N", title=None, scale=alt.Scale(
            domain=["on the frontier", "dominated"], range=[TOTAL_COLOR, "#bab0ac"])),
        tooltip=[alt.Tooltip("variant:N", title="Variant"),
                 alt.Tooltip("monthly_cost:Q", title=f"Monthly cost ({currency})", format=",.2f"),
                 alt.Tooltip("quality_mean:Q", title="Mean quality", format=".3f")])  # fmt: skip
    labels = alt.Chart(data).mark_text(dx=8, dy=-8, align="left").encode(x=x, y=y, text="variant:N")
    return alt.layer(line, err, points, labels, title="Cost-quality frontier: monthly cost at production volume "
                     "against mean quality").properties(width=640, height=320)  # fmt: skip


@when_empty("No projection: no variant to project.")
def plot_projection(table: pd.DataFrame, *, currency: str) -> alt.Chart:
    """Return the projected monthly cost per variant with its 95% interval (unpriced variants left out)."""
    data = check_frame(table, ["variant", "monthly_cost", "monthly_low", "monthly_high", "requests_per_day"],
                    chart="plot_projection", nullable=["monthly_cost", "monthly_low", "monthly_high"])
    data = as_floats(data, ["monthly_cost", "monthly_low", "monthly_high"]).dropna(
        subset=["monthly_cost", "monthly_low", "monthly_high"])
    volume = int(table["requests_per_day"].iloc[0]) if len(table) else 0
    y = alt.Y("variant:N", sort=alt.EncodingSortField("monthly_cost", order="descending"), title="Variant")
    bars = alt.Chart(data).mark_bar(color=TOTAL_COLOR).encode(
        x=alt.X("monthly_cost:Q", axis=fmt_currency_axis(currency, label="Projected monthly cost")), y=y,
        tooltip=[alt.Tooltip("variant:N", title="Variant"),
                 alt.Tooltip("monthly_cost:Q", title=f"Monthly cost ({currency})", format=",.2f"),
                 alt.Tooltip("monthly_low:Q", title="95% CI low", format=",.2f"),
                 alt.Tooltip("monthly_high:Q", title="95% CI high", format=",.2f")])  # fmt: skip
    err = alt.Chart(data).mark_rule(strokeWidth=2).encode(x="monthly_low:Q", x2="monthly_high:Q", y=y)
    text = alt.Chart(data).mark_text(align="left", dx=6).encode(x="monthly_high:Q", y=y, text="label:N")
    text = text.transform_calculate(label=money_expr(currency, "monthly_cost", ",.0f"))
    title = f"Projected monthly cost at {volume:,} requests per day ({currency}, 95% CI)"
    return alt.layer(bars, err, text, title=title).properties(width=600)


@when_empty("No change to chart: no requests before and after a change.")
def plot_before_after(daily: pd.DataFrame, *, metric: str = "input_tokens_per_request") -> alt.Chart:
    """Return the daily per-request value around a change, each window's level as a rule.

    Parameters
    ----------
    daily : DataFrame
        :attr:`finops_lib.experiments.changes.BeforeAfter.daily` with the metric's per-day value in a ``value`` column.
    metric : str
        Name shown in the title and axis.
    """
    data = check_frame(daily, ["date", "period", "value", "requests"], chart="plot_before_after", nullable=["value"])
    data = data.dropna(subset=["value"])
    levels = data.groupby("period", as_index=False).agg(start=("date", "min"), end=("date", "max"))
    weighted = data.assign(w=data["value"] * data["requests"]).groupby("period")[["w", "requests"]].sum()
    levels["level"] = levels["period"].map(weighted["w"] / weighted["requests"])
    name = metric.replace("_", " ")
    color = alt.Color("period:N", sort=["before", "after"], title="Window",
                      scale=alt.Scale(domain=["before", "after"], range=["#9d9d9d", INCREASE_COLOR]))  # fmt: skip
    points = alt.Chart(data).mark_circle(size=45).encode(
        x=alt.X("date:T", title="Day (UTC)", axis=alt.Axis(format="%d %b")),
        y=alt.Y("value:Q", title=name.capitalize(), axis=alt.Axis(format=",.0f")),
        color=color, tooltip=[alt.Tooltip("date:T", title="Day (UTC)", format="%Y-%m-%d"),
                              alt.Tooltip("value:Q", title=name.capitalize(), format=",.0f"),
                              alt.Tooltip("requests:Q", title="Requests", format=",.0f")])  # fmt: skip
    rules = alt.Chart(levels).mark_rule(strokeWidth=3).encode(x="start:T", x2="end:T", y="level:Q", color=color)
    return alt.layer(points, rules, title=f"{name.capitalize()} per day, before and after the change (line: window "
                     "level, request-weighted)").properties(width=680, height=260)  # fmt: skip


@when_empty("No change to decompose.")
def plot_decomposition(components: pd.DataFrame, *, currency: str, title: str | None = None) -> alt.Chart:
    """Return a waterfall from 0 to the change of cost through volume, mix, tokens per request, price and other.

    Parameters
    ----------
    components : DataFrame
        ``component``, ``amount`` (e.g. :meth:`finops_lib.experiments.changes.BeforeAfter.per_day` with ``per_day``
        renamed to ``amount``, or ``Decomposition.components``).
    currency : str
        ISO code of the amounts.
    title : str, optional
        Chart title.
    """
    data = check_frame(components, ["component", "amount"], chart="plot_decomposition")
    amounts = dict(zip(data["component"], data["amount"].astype(float), strict=True))
    steps = waterfall_steps([(COMPONENT_LABELS[c], amounts.get(c, 0.0)) for c in COMPONENTS], end="Change")
    return plot_waterfall(steps, currency=currency, fmt="+" + SMALL, label="Change of cost",
                          title=title or "Change of cost: volume x tokens per request x price per token (+ mix, other)")
