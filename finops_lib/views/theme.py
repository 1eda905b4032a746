"""The workbench's chart theme and formats: one Altair theme, currency symbols and axes, frame checks.

Every ``plot_*`` function of the page packages takes a small, already aggregated tidy frame, checks it with
:func:`check_frame` and returns an :class:`altair.Chart`; nothing is displayed here. :func:`use_theme` enables the
workbench theme and the offline renderer (see :mod:`finops_lib.offline`), so a notebook calls it once after
its imports.

Examples
--------
>>> fmt_currency_axis("EUR").to_dict()["title"]
'Cost (EUR)'
>>> fmt_money(-162.375, "USD")
'−$162.38'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import altair as alt
import pandas as pd

from finops_lib import offline
from finops_lib.errors import ParameterError, SchemaError
from finops_lib.fx import currency_symbol, fmt_money

__all__ = [
    "DATE_FORMAT",
    "DECREASE_COLOR",
    "INCREASE_COLOR",
    "MAX_ROWS",
    "PALETTE",
    "THEME_NAME",
    "as_dates",
    "as_floats",
    "by_total",
    "chart_spec",
    "check_frame",
    "currency_symbol",
    "enable_offline",
    "fmt_currency_axis",
    "fmt_money",
    "money_expr",
    "money_format",
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




DATE_FORMAT = "%Y-%m-%d"


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
    fallback that calls the ``vegaEmbed`` which :mod:`finops_lib.offline` inlines once per page.
    """
    alt.renderers.register(offline.RENDERER_NAME, offline.offline_mimebundle)
    alt.renderers.enable(offline.RENDERER_NAME)


def use_theme(*, offline: bool = True) -> None:
    """Enable the workbench theme and, by default, the offline renderer; every styled table escapes its cells.

    Data text (team names, tags, models) reaches the HTML report through pandas ``Styler`` tables too: the
    ``styler.format.escape`` option makes a plain ``frame.style`` escape ``<``, ``>``, ``&`` and quotes. It is only
    a default: a later ``.format(...)`` without ``escape="html"`` resets every column's formatter, unescaped, and
    captions and column labels are never escaped by pandas. Pages therefore build every table with
    :func:`finops_lib.views.tables.fmt_table` (or :func:`~finops_lib.views.tables.fmt_headers`).

    Parameters
    ----------
    offline
        Also call :func:`enable_offline` (the default; needed for offline HTML reports).
    """
    alt.theme.enable(THEME_NAME)
    pd.set_option("styler.format.escape", "html")
    if offline:
        enable_offline()


def as_floats(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Return a copy of ``frame`` with ``columns`` (Decimal money, None for missing) as floats, NaN when missing."""
    out = frame.copy()
    for column in columns:
        out[column] = pd.to_numeric(out[column].map(lambda v: None if v is None else float(v)), errors="coerce")
    return out


def money_format(values: Sequence[float] | pd.Series) -> str:
    """Return the d3 format for amounts like ``values``: ``",.4~g"`` below 10 (cents show), else ``",.2~f"``.

    Examples
    --------
    >>> money_format([0.0012, 0.003]), money_format([12.5, 3])
    (',.4~g', ',.2~f')
    """
    finite = [abs(float(v)) for v in values if v is not None and v == v]
    return ",.4~g" if finite and max(finite) < 10 else ",.2~f"


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
    return alt.Axis(title=title or f"{label} ({currency})", format=fmt, labelExpr=money_expr(currency, "value", fmt))


def money_expr(currency: str, field: str, fmt: str = ",.2~f") -> str:
    """Return a Vega expression that writes ``datum[field]`` as money: ``€1,250``, ``−€30`` (a true minus).

    For axis labels (``field="value"``) and text marks (a ``transform_calculate`` of the label).

    Examples
    --------
    >>> print(money_expr("EUR", "x", ",.0f"))
    (datum.x < 0 ? '−' : '') + "€" + format(abs(datum.x), ',.0f')
    """
    symbol = json.dumps(currency_symbol(currency), ensure_ascii=False)
    return f"(datum.{field} < 0 ? '−' : '') + {symbol} + format(abs(datum.{field}), '{fmt}')"


def check_frame(
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


def as_dates(frame: pd.DataFrame, columns: Sequence[str], *, chart: str) -> pd.DataFrame:
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


def by_total(frame: pd.DataFrame, by: str, value: str) -> list[str]:
    """Return the groups of ``by`` ordered by their total ``value``, largest first, then by name."""
    totals = frame.groupby(by, sort=False)[value].sum()
    ranked = sorted(totals.items(), key=lambda item: (-float(item[1]), str(item[0])))
    return [str(group) for group, _ in ranked]


def chart_spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """Return the Vega-Lite spec of ``chart`` with the workbench theme applied (for tests and export)."""
    with alt.theme.enable(THEME_NAME):
        return chart.to_dict()
