"""Altair charts of the workbench: one theme, currency-aware axes and ``plot_*`` builders.

Every ``plot_*`` function takes a small, already aggregated tidy frame and returns an
:class:`altair.Chart`; nothing is displayed here. :func:`use_theme` enables the workbench
theme and the offline renderer (see :mod:`finops_lib.htmlexport`), so a notebook calls it once
after its imports.

Examples
--------
>>> import pandas as pd
>>> from finops_lib import charts
>>> frame = pd.DataFrame({"day": pd.to_datetime(["2025-01-01"] * 2), "team": ["a", "b"], "cost": [2.0, 5.0]})
>>> chart = charts.plot_spend_over_time(frame, by="team", currency="EUR")
>>> chart.to_dict()["encoding"]["color"]["scale"]["domain"]
['b', 'a']
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import altair as alt
import pandas as pd

from finops_lib.errors import ParameterError, SchemaError

__all__ = [
    "MAX_ROWS",
    "PALETTE",
    "THEME_NAME",
    "chart_spec",
    "currency_symbol",
    "enable_offline",
    "fmt_currency_axis",
    "plot_coverage",
    "plot_spend_over_time",
    "plot_tokens_over_time",
    "plot_top_movers",
    "use_theme",
]

#: Name of the registered Altair theme.
THEME_NAME = "finops"
#: Largest frame a ``plot_*`` function accepts: charts are fed aggregated frames.
MAX_ROWS = 5_000
#: Categorical palette (Tableau 10: distinct hues, readable on white).
PALETTE: tuple[str, ...] = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
#: Increase (worse) and decrease (better) colours of cost changes.
INCREASE_COLOR, DECREASE_COLOR = "#d1495b", "#2e7d5b"
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
_CURRENCY_SYMBOLS = {
    "EUR": "€",
    "USD": "$",
    "GBP": "£",
    "JPY": "¥",
    "CNY": "¥",
    "INR": "₹",
}
_DATE_FORMAT = "%Y-%m-%d"


@alt.theme.register(THEME_NAME, enable=False)
def _finops_theme() -> alt.theme.ThemeConfig:
    """Return the workbench theme: report-page width, readable text, Tableau 10 palette."""
    axis = {
        "labelFontSize": 12,
        "titleFontSize": 13,
        "titleFontWeight": "normal",
        "titlePadding": 8,
    }
    return alt.theme.ThemeConfig(
        config={
            "font": _FONT,
            "background": "white",
            "numberFormat": ",",
            "view": {"continuousWidth": 640, "continuousHeight": 300, "stroke": None},
            "title": {
                "fontSize": 16,
                "anchor": "start",
                "offset": 12,
                "subtitleFontSize": 12,
            },
            "axis": {
                **axis,
                "gridColor": "#e6e6e6",
                "domainColor": "#888",
                "tickColor": "#888",
            },
            "legend": {
                "labelFontSize": 12,
                "titleFontSize": 12,
                "orient": "right",
                "labelLimit": 220,
            },
            "range": {"category": list(PALETTE)},
            "bar": {"continuousBandSize": 10},
        }
    )


def enable_offline() -> None:
    """Enable the workbench's offline Altair renderer (no CDN, page-global ``vegaEmbed``).

    Charts then carry the Vega-Lite mimetype (drawn by JupyterLab itself) and a ``text/html``
    fallback that calls the ``vegaEmbed`` which :mod:`finops_lib.htmlexport` inlines once per page.
    """
    from finops_lib import htmlexport  # lazy: nbconvert is not needed to build charts

    alt.renderers.register(htmlexport.RENDERER_NAME, htmlexport.offline_mimebundle)
    alt.renderers.enable(htmlexport.RENDERER_NAME)


def use_theme(*, offline: bool = True) -> None:
    """Enable the workbench theme and, by default, the offline renderer.

    Parameters
    ----------
    offline
        Also call :func:`enable_offline` (the default; needed for offline HTML reports).
    """
    alt.theme.enable(THEME_NAME)
    if offline:
        enable_offline()


def currency_symbol(currency: str) -> str:
    """Return the symbol shown before amounts of an ISO 4217 ``currency`` (``EUR`` -> ``€``).

    Raises
    ------
    ParameterError
        If ``currency`` is not a three-letter upper-case code.
    """
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise ParameterError(f"currency must be an ISO 4217 code such as 'EUR', got {currency!r}")
    return _CURRENCY_SYMBOLS.get(currency, f"{currency} ")


def fmt_currency_axis(currency: str, *, title: str | None = None, label: str = "Cost", fmt: str = ",.2~f") -> alt.Axis:
    """Return an axis titled ``"Cost (EUR)"`` whose labels read ``€1,250`` or ``−€30``.

    Parameters
    ----------
    currency
        ISO 4217 code of the amounts.
    title
        Axis title; default ``f"{label} ({currency})"``.
    label
        What the amount is (``Cost``, ``Change`` ...), used in the default title.
    fmt
        d3 number format of the amounts (``",.4~g"`` for amounts of a few cents).

    Returns
    -------
    alt.Axis
        With ``format`` ``",.2~f"`` and a ``labelExpr`` that adds the currency symbol.

    Examples
    --------
    >>> fmt_currency_axis("EUR").to_dict()["title"]
    'Cost (EUR)'
    """
    symbol = json.dumps(currency_symbol(currency), ensure_ascii=False)
    expr = f"(datum.value < 0 ? '−' : '') + {symbol} + format(abs(datum.value), '{fmt}')"
    return alt.Axis(title=title or f"{label} ({currency})", format=fmt, labelExpr=expr)


def _checked(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    chart: str,
    nullable: Sequence[str] = (),
) -> pd.DataFrame:
    """Return a copy of ``frame`` after checking its columns and size (the input is never mutated)."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise SchemaError(chart, missing[0], f"missing column(s) {missing}; got {list(frame.columns)}")
    if len(frame) > MAX_ROWS:
        raise ParameterError(
            f"{chart}: {len(frame):,} rows exceed the chart limit of {MAX_ROWS:,}; "
            "aggregate the frame first (one row per day and group)"
        )
    out = frame.loc[:, list(columns)].copy()
    for column in columns:
        if column not in nullable and out[column].isna().any():
            raise SchemaError(
                chart,
                column,
                "contains missing values",
                out.index[out[column].isna()][:5],
            )
    return out


def _as_dates(frame: pd.DataFrame, columns: Sequence[str], *, chart: str) -> pd.DataFrame:
    """Return ``frame`` with ``columns`` parsed as dates (midnight timestamps)."""
    out = frame.copy()
    for column in columns:
        try:
            out[column] = pd.to_datetime(out[column]).dt.normalize()
        except (TypeError, ValueError) as exc:
            raise SchemaError(chart, column, f"not a date column: {exc}") from exc
        if out[column].isna().any():
            raise SchemaError(chart, column, "contains missing dates")
    return out


def _by_total(frame: pd.DataFrame, by: str, value: str) -> list[str]:
    """Return the groups of ``by`` ordered by their total ``value``, largest first, then by name."""
    totals = frame.groupby(by, sort=False)[value].sum()
    ranked = sorted(totals.items(), key=lambda item: (-float(item[1]), str(item[0])))
    return [str(group) for group, _ in ranked]


def _stacked_by_day(
    frame: pd.DataFrame,
    *,
    by: str,
    value: str,
    y: alt.Y,
    tooltip_value: alt.Tooltip,
    title: str,
) -> alt.Chart:
    """Return stacked daily bars of ``value`` per ``by``, legend and stack sorted by total."""
    order = _by_total(frame, by, value)
    data = frame.assign(**{by: frame[by].astype(str)})
    data["_rank"] = data[by].map({group: rank for rank, group in enumerate(order)})
    return (
        alt.Chart(data, title=title)
        .mark_bar()
        .encode(
            x=alt.X("yearmonthdate(day):T", title="Date", axis=alt.Axis(format="%d %b", labelAngle=0)),
            y=y,
            color=alt.Color(f"{by}:N", title=by.replace("_", " ").capitalize(), sort=order,
                            scale=alt.Scale(domain=order)),
            order=alt.Order("_rank:Q", sort="ascending"),
            tooltip=[
                alt.Tooltip("yearmonthdate(day):T", title="Date", format=_DATE_FORMAT),
                alt.Tooltip(f"{by}:N", title=by.replace("_", " ").capitalize()),
                tooltip_value,
            ],
        )
    )  # fmt: skip


def plot_spend_over_time(frame: pd.DataFrame, *, by: str, currency: str, title: str | None = None) -> alt.Chart:
    """Return stacked daily cost bars per group, legend sorted by total cost, largest first.

    Parameters
    ----------
    frame
        Columns ``day`` (date), ``<by>`` (string) and ``cost`` (float), one row per day and group.
    by
        The grouping column (``team``, ``model``, ``provider`` ...).
    currency
        ISO 4217 code of ``cost``; shown in the axis title and labels.
    title
        Chart title; default ``"Daily spend by <by>"``.

    Returns
    -------
    alt.Chart

    Raises
    ------
    SchemaError
        On a missing column, missing values or unparsable dates.
    ParameterError
        On more than :data:`MAX_ROWS` rows or an invalid currency code.
    """
    data = _as_dates(_checked(frame, ["day", by, "cost"], chart="plot_spend_over_time"), ["day"],
                     chart="plot_spend_over_time")  # fmt: skip
    return _stacked_by_day(
        data,
        by=by,
        value="cost",
        y=alt.Y("sum(cost):Q", axis=fmt_currency_axis(currency)),
        tooltip_value=alt.Tooltip("sum(cost):Q", title=f"Cost ({currency})", format=",.2f"),
        title=title or f"Daily spend by {by.replace('_', ' ')}",
    )


def plot_tokens_over_time(frame: pd.DataFrame, *, by: str, title: str | None = None) -> alt.Chart:
    """Return stacked daily token bars per group, in millions, legend sorted by total tokens.

    Parameters
    ----------
    frame
        Columns ``day`` (date), ``<by>`` (string) and ``tokens`` (int), one row per day and group.
    by
        The grouping column.
    title
        Chart title; default ``"Daily tokens by <by>"``.

    Returns
    -------
    alt.Chart

    Raises
    ------
    SchemaError, ParameterError
        As :func:`plot_spend_over_time`.
    """
    data = _as_dates(_checked(frame, ["day", by, "tokens"], chart="plot_tokens_over_time"), ["day"],
                     chart="plot_tokens_over_time")  # fmt: skip
    data["tokens_m"] = data["tokens"].astype(float) / 1e6
    return _stacked_by_day(
        data,
        by=by,
        value="tokens",
        y=alt.Y("sum(tokens_m):Q", axis=alt.Axis(title="Tokens (millions)", format=",.2~f")),
        tooltip_value=alt.Tooltip("sum(tokens):Q", title="Tokens", format=","),
        title=title or f"Daily tokens by {by.replace('_', ' ')}",
    )


def plot_top_movers(frame: pd.DataFrame, *, by: str, currency: str, title: str | None = None) -> alt.Chart:
    """Return diverging horizontal bars of the cost change per group, largest increase on top.

    Parameters
    ----------
    frame
        Columns ``<by>``, ``previous``, ``current``, ``change`` (``current - previous``) and
        ``change_pct`` (a fraction: ``0.25`` is +25 %), one row per group.
    by
        The grouping column.
    currency
        ISO 4217 code of the amounts.
    title
        Chart title; default ``"Top movers by <by>"``.

    Returns
    -------
    alt.Chart
        Increases in red, decreases in green.

    Raises
    ------
    SchemaError, ParameterError
        As :func:`plot_spend_over_time`.
    """
    columns = [by, "previous", "current", "change", "change_pct"]
    # change_pct may be NaN: a group without previous spend
    data = _checked(frame, columns, chart="plot_top_movers", nullable=["change_pct"])
    data[by] = data[by].astype(str)
    data = data.sort_values(["change", by], ascending=[False, True], kind="stable")
    label = by.replace("_", " ").capitalize()
    money = {"format": ",.2f"}
    return (
        alt.Chart(data, title=title or f"Top movers by {by.replace('_', ' ')}")
        .mark_bar()
        .encode(
            x=alt.X("change:Q", axis=fmt_currency_axis(currency, label="Change")),
            y=alt.Y(f"{by}:N", title=label, sort=data[by].tolist()),
            color=alt.condition("datum.change > 0", alt.value(INCREASE_COLOR), alt.value(DECREASE_COLOR)),
            tooltip=[
                alt.Tooltip(f"{by}:N", title=label),
                alt.Tooltip("previous:Q", title=f"Previous ({currency})", **money),
                alt.Tooltip("current:Q", title=f"Current ({currency})", **money),
                alt.Tooltip("change:Q", title=f"Change ({currency})", **money),
                alt.Tooltip("change_pct:Q", title="Change (%)", format="+.1%"),
            ],
        )
    )


def plot_coverage(frame: pd.DataFrame, *, title: str | None = None) -> alt.Chart:
    """Return a Gantt-like bar per source spanning the days it covers (end day included).

    Parameters
    ----------
    frame
        Columns ``source`` (string), ``start`` and ``end`` (dates, inclusive) and ``rows`` (int).
    title
        Chart title; default ``"Data coverage by source"``.

    Returns
    -------
    alt.Chart
        Sources sorted by first day, then name.

    Raises
    ------
    SchemaError
        Also when an ``end`` precedes its ``start``.
    """
    chart = "plot_coverage"
    data = _as_dates(
        _checked(frame, ["source", "start", "end", "rows"], chart=chart),
        ["start", "end"],
        chart=chart,
    )
    if (data["end"] < data["start"]).any():
        raise SchemaError(
            chart,
            "end",
            "precedes start",
            data.loc[data["end"] < data["start"], "source"].tolist(),
        )
    data["source"] = data["source"].astype(str)
    data["end_exclusive"] = data["end"] + pd.Timedelta(days=1)
    order = data.sort_values(["start", "source"], kind="stable")["source"].drop_duplicates().tolist()
    return (
        alt.Chart(data, title=title or "Data coverage by source")
        .mark_bar(cornerRadius=2)
        .encode(
            x=alt.X("start:T", title="Date", axis=alt.Axis(format="%d %b %Y", labelAngle=0)),
            x2="end_exclusive:T",
            y=alt.Y("source:N", title="Source", sort=order),
            color=alt.Color("source:N", legend=None, sort=order),
            tooltip=[
                alt.Tooltip("source:N", title="Source"),
                alt.Tooltip("start:T", title="First day", format=_DATE_FORMAT),
                alt.Tooltip("end:T", title="Last day", format=_DATE_FORMAT),
                alt.Tooltip("rows:Q", title="Rows", format=","),
            ],
        )
    )


def chart_spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """Return the Vega-Lite spec of ``chart`` with the workbench theme applied (for tests and export)."""
    with alt.theme.enable(THEME_NAME):
        return chart.to_dict()
