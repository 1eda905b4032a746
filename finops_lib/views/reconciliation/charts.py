"""Reconciliation charts: invoiced against estimated over time, the gap's decomposition, agreement per day.

Same contract as :mod:`finops_lib.views.theme` (its theme, currency axes and frame checks are reused): each
``plot_*`` takes a small aggregated frame from :class:`finops_lib.reconcile.reconciliation.Reconciliation` (money may be
:class:`~decimal.Decimal`; it is drawn as float) and returns an :class:`altair.Chart`.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"component": ["volume", "rate"], "amount": [90.0, -5.0], "estimated": [10.0] * 2,
...                       "invoiced": [95.0] * 2})
>>> spec = plot_gap_waterfall(frame, currency="USD").to_dict()
>>> [row["step"] for row in spec["datasets"][spec["data"]["name"]]]
['Estimated', 'Volume', 'Rate', 'Invoiced']
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from finops_lib.views.notice import when_empty
from finops_lib.views.tables import fmt_headers
from finops_lib.views.theme import (
    PALETTE,
    as_dates,
    as_floats,
    by_total,
    check_frame,
    fmt_currency_axis,
)
from finops_lib.views.waterfall import plot_waterfall, waterfall_steps

__all__ = ["COLUMN_LABELS", "COMPONENT_LABELS", "fmt_table", "plot_agreement", "plot_gap_components",
           "plot_gap_waterfall", "plot_invoiced_vs_estimated"]  # fmt: skip

#: Display names of the gap components, in waterfall order.
COMPONENT_LABELS: dict[str, str] = {
    "volume": "Volume", "rate": "Rate", "cache": "Cache", "tier": "Tier", "capacity": "Provisioned capacity",
    "unpriced": "Unpriced",
    "unmatched_invoice": "Unmatched invoice", "unmatched_estimate": "Unmatched estimate", "non_ai": "Non-AI services",
}  # fmt: skip
#: Display names of the reconciliation frames' columns (:func:`fmt_table`).
COLUMN_LABELS: dict[str, str] = {
    "ProviderName": "Provider", "model": "Model", "BillingCurrency": "Currency", "period": "Period",
    "invoiced": "Invoiced", "estimated": "Estimated", "gap": "Gap", "gap_pct": "Gap %", **COMPONENT_LABELS,
    "unexplained": "Unexplained", "token_coverage": "Tokens seen", "periods": "Periods",
    "worst_period": "Worst period", "worst_unexplained": "Worst unexplained", "cause": "Largest component",
    "days": "Days", "within": "Days within", "max_abs_gap_pct": "Worst day |gap %|", "share_within": "Share within",
    "token_type": "Bucket", "service_tier": "Service tier", "context_tier": "Context tier",
    "invoice_tokens": "Invoice tokens", "estimated_tokens": "Estimated tokens",
}  # fmt: skip
_MONEY = {"invoiced", "estimated", "gap", "unexplained", "worst_unexplained", *COMPONENT_LABELS}
_PERCENT = {"gap_pct": "{:+.2%}", "token_coverage": "{:.2%}", "max_abs_gap_pct": "{:.4%}", "share_within": "{:.1%}"}
SERIES_COLORS = {"Invoiced": "#4e79a7", "Estimated": "#f28e2b"}
_AXIS_DATE = {"day": ("yearmonthdate", "%d %b"), "month": ("yearmonth", "%b %Y")}


def fmt_table(frame: pd.DataFrame, *, caption: str = "") -> pd.io.formats.style.Styler:
    """Return ``frame`` styled for a report: display column names, money ``1,234.56``, percentages, no index.

    Component names in ``cause`` are shown by their display names; the input is not changed.
    """
    data = frame.copy()
    if "cause" in data.columns:
        data["cause"] = data["cause"].map(COMPONENT_LABELS).fillna(data["cause"])
    formats = {c: "{:,.2f}" for c in data.columns if c in _MONEY}
    formats |= {c: f for c, f in _PERCENT.items() if c in data.columns}
    formats |= {c: "{:,.0f}" for c in ("invoice_tokens", "estimated_tokens") if c in data.columns}
    styled = data.style.format(formats, na_rep="-", escape="html").hide()
    return fmt_headers(styled, [COLUMN_LABELS.get(c, c) for c in data.columns], caption=caption)


_TIP_DATE = {"day": "%Y-%m-%d", "month": "%b %Y"}


def _time_axis(granularity: str) -> tuple[str, alt.Axis]:
    unit, fmt = _AXIS_DATE.get(granularity, _AXIS_DATE["day"])
    return unit, alt.Axis(title="Month" if granularity == "month" else "Date", format=fmt, labelAngle=0)


@when_empty("Nothing to compare: this window has no invoiced or estimated cost side by side.")
def plot_invoiced_vs_estimated(
    frame: pd.DataFrame, *, currency: str, granularity: str = "day", title: str | None = None
) -> alt.Chart:
    """Return two lines over time: the invoiced amount and the estimate, in ``currency``.

    Parameters
    ----------
    frame
        Columns ``period`` (date), ``invoiced`` and ``estimated``, one row per period (e.g.
        ``Reconciliation.summarize(granularity, by=())``).
    currency
        ISO 4217 code of the amounts.
    granularity
        ``day`` or ``month``: the time axis' unit.
    title
        Chart title; default ``"Invoiced and estimated cost per <granularity>"``.

    Returns
    -------
    alt.Chart
        Legend ``Invoiced`` then ``Estimated``.
    """
    data = as_floats(check_frame(frame, ["period", "invoiced", "estimated"], chart="plot_invoiced_vs_estimated"),
                   ["invoiced", "estimated"])  # fmt: skip
    data = as_dates(data, ["period"], chart="plot_invoiced_vs_estimated")
    long = data.melt(id_vars="period", value_vars=["invoiced", "estimated"], var_name="series", value_name="cost")
    long["series"] = long["series"].str.capitalize()
    unit, axis = _time_axis(granularity)
    order = list(SERIES_COLORS)
    dashes = alt.Scale(domain=order, range=[[1, 0], [6, 3]])
    return (
        alt.Chart(long, title=title or f"Invoiced and estimated cost per {granularity}")
        .mark_line(point=granularity == "month", strokeWidth=2)
        .encode(
            strokeDash=alt.StrokeDash("series:N", sort=order, legend=None, scale=dashes),
            x=alt.X(f"{unit}(period):T", axis=axis),
            y=alt.Y("sum(cost):Q", axis=fmt_currency_axis(currency), scale=alt.Scale(zero=True)),
            color=alt.Color("series:N", title="Series", sort=order,
                            scale=alt.Scale(domain=order, range=[SERIES_COLORS[s] for s in order])),
            tooltip=[alt.Tooltip(f"{unit}(period):T", title="Period", format=_TIP_DATE.get(granularity, "%Y-%m-%d")),
                     alt.Tooltip("series:N", title="Series"),
                     alt.Tooltip("sum(cost):Q", title=f"Cost ({currency})", format=",.2f")],
        )
    )  # fmt: skip


@when_empty("No gap to break down: the invoice and the estimate have no line in common in this window.")
def plot_gap_waterfall(frame: pd.DataFrame, *, currency: str, title: str | None = None) -> alt.Chart:
    """Return a waterfall from the estimate to the invoice through the gap's components.

    Parameters
    ----------
    frame
        Columns ``component`` (keys of :data:`COMPONENT_LABELS`), ``amount``, ``estimated`` and ``invoiced``
        (the same totals on every row), one currency: ``Reconciliation.components()`` of one currency.
    currency
        ISO 4217 code of the amounts.
    title
        Chart title; default ``"From estimate to invoice"``.

    Returns
    -------
    alt.Chart
        Totals in blue, components that raise the invoice above the estimate in red, those that lower it in
        green, each labelled with its amount.
    """
    data = as_floats(check_frame(frame, ["component", "amount", "estimated", "invoiced"], chart="plot_gap_waterfall"),
                   ["amount", "estimated", "invoiced"])  # fmt: skip
    start, end = (float(data["estimated"].iloc[0]), float(data["invoiced"].iloc[0])) if len(data) else (0.0, 0.0)
    present = set(data["component"])
    parts = [(label, float(data.loc[data["component"] == c, "amount"].sum()))
             for c, label in COMPONENT_LABELS.items() if c in present]  # fmt: skip
    steps = waterfall_steps(parts, start=("Estimated", start), end=("Invoiced", end))
    return plot_waterfall(steps, currency=currency, title=title or "From estimate to invoice", width=700)


@when_empty("No gap components to chart in this window.")
def plot_gap_components(
    frame: pd.DataFrame, *, currency: str, granularity: str = "day", title: str | None = None
) -> alt.Chart:
    """Return stacked bars of the gap's components per period (above zero they raise the invoice).

    Parameters
    ----------
    frame
        Columns ``period`` (date), ``component`` and ``amount`` (long, one currency).
    currency, granularity, title
        As :func:`plot_invoiced_vs_estimated`; default title ``"Gap components per <granularity>"``.

    Returns
    -------
    alt.Chart
        Legend sorted by each component's total absolute amount, largest first; all-zero components left out.
    """
    data = as_floats(check_frame(frame, ["period", "component", "amount"], chart="plot_gap_components"), ["amount"])
    data = as_dates(data, ["period"], chart="plot_gap_components")
    data["component"] = data["component"].map(COMPONENT_LABELS).fillna(data["component"])
    data = data.assign(size=data["amount"].abs())
    order = [c for c in by_total(data, "component", "size") if data.loc[data["component"] == c, "size"].sum() > 0]
    data = data[data["component"].isin(order)]
    unit, axis = _time_axis(granularity)
    palette = {label: PALETTE[i] for i, label in enumerate(COMPONENT_LABELS.values())}
    return (
        alt.Chart(data, title=title or f"Gap components per {granularity}", width=640)
        .mark_bar()
        .encode(
            x=alt.X(f"{unit}(period):{'O' if granularity == 'month' else 'T'}", axis=axis),
            y=alt.Y("sum(amount):Q", axis=fmt_currency_axis(currency, label="Gap")),
            color=alt.Color("component:N", title="Component", sort=order,
                            scale=alt.Scale(domain=order, range=[palette.get(c, PALETTE[-1]) for c in order])),
            tooltip=[alt.Tooltip(f"{unit}(period):T", title="Period", format=_TIP_DATE.get(granularity, "%Y-%m-%d")),
                     alt.Tooltip("component:N", title="Component"),
                     alt.Tooltip("sum(amount):Q", title=f"Amount ({currency})", format=",.2f")],
        )
    )  # fmt: skip


@when_empty("No agreement to chart: no day has both an invoice and an estimate.")
def plot_agreement(frame: pd.DataFrame, *, tolerance: float = 0.001, title: str | None = None) -> alt.Chart:
    """Return the daily gap in percent of the invoice per provider, with the ``tolerance`` band.

    Parameters
    ----------
    frame
        Columns ``period`` (date), ``ProviderName`` and ``gap_pct`` (a fraction; rows without invoice dropped).
    tolerance
        Half-width of the band (0.001 = ±0.1 %).
    title
        Chart title; default ``"Gap per day in % of the invoice"``.

    Returns
    -------
    alt.Chart
        Points per provider-day, legend sorted by name, dashed lines at ±tolerance.
    """
    data = check_frame(frame, ["period", "ProviderName", "gap_pct"], chart="plot_agreement", nullable=["gap_pct"])
    data = as_dates(as_floats(data.dropna(subset=["gap_pct"]), ["gap_pct"]), ["period"], chart="plot_agreement")
    order = sorted(data["ProviderName"].astype(str).unique())
    points = alt.Chart(data, title=title or "Gap per day in % of the invoice").mark_circle(size=28).encode(
        x=alt.X("yearmonthdate(period):T", axis=alt.Axis(title="Date", format="%d %b", labelAngle=0)),
        y=alt.Y("gap_pct:Q", axis=alt.Axis(title="Gap (% of invoice)", format=".2%")),
        color=alt.Color("ProviderName:N", title="Provider", sort=order),
        tooltip=[alt.Tooltip("yearmonthdate(period):T", title="Date", format="%Y-%m-%d"),
                 alt.Tooltip("ProviderName:N", title="Provider"),
                 alt.Tooltip("gap_pct:Q", title="Gap (%)", format="+.4%")])  # fmt: skip
    band = pd.DataFrame({"limit": [-tolerance, tolerance]})
    rules = alt.Chart(band).mark_rule(strokeDash=[4, 4], color="#888").encode(y="limit:Q")
    return alt.layer(points, rules)
