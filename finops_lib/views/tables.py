"""Tables for people: labelled columns, money, percentages, p-values and dates formatted, no index, no raw values.

Every table a page shows goes through :func:`fmt_table` (or a page's own ``fmt_*`` built on it): column names become
display labels, money gets thousands separators and two decimals (unit costs four significant digits), shares
become percentages, p-values read ``< 0.001`` instead of ``1.9e-39``, booleans read yes/no, missing values a dash,
and dicts or lists are written out as ``key=value`` text. Nothing shows a pandas index.

Data text is escaped everywhere a table shows it: pandas escapes the cells (``escape="html"``) but neither the
caption nor the column labels, which may hold data text too (a pivot by team, a caption naming an experiment), so
every styled table of the pages sets both through :func:`fmt_headers`, which escapes them.

Examples
--------
>>> print(fmt_p(1.9e-39), fmt_p(0.0), fmt_p(0.0432), fmt_p(float("nan")))
< 0.001 < 0.001 0.043 -
>>> print(fmt_unit_money(0.000655318, "USD"), fmt_unit_money(12.5, "EUR"), fmt_unit_money(1.612e-05, "USD"))
$0.0006553 €12.50 $0.00001612
>>> print(fmt_value({"team": "search", "app": "qa"}), fmt_value(True), fmt_value(None))
team=search, app=qa yes -
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pandas as pd

from finops_lib.fx import currency_symbol, fmt_money
from finops_lib.views.notice import Notice

__all__ = ["fmt_headers", "fmt_p", "fmt_rates", "fmt_table", "fmt_unit_money", "fmt_value"]

#: Display labels of the exchange-rate tables (``Facts.rates_used``).
RATE_LABELS = {"from_currency": "From", "to_currency": "To", "rate": "Rate", "effective_from": "From day",
               "effective_to": "To day", "source": "Source", "derivation": "Derivation", "exact": "Exact",
               "rows_converted": "Rows converted", "applied_to": "Applied to", "count": "Count"}  # fmt: skip


def fmt_p(value: Any) -> str:
    """Return a p-value for people: ``< 0.001`` below a thousandth, else three decimals; a dash when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    value = float(value)
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def fmt_unit_money(value: Any, currency: str) -> str:
    """Return a unit cost (per request, per token, per point): two decimals from 1 up, else four significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    amount = float(value)
    if abs(amount) >= 1 or amount == 0:
        return fmt_money(amount, currency)
    sign = "−" if amount < 0 else ""
    places = 3 - math.floor(math.log10(abs(amount)))  # four significant digits, never e-notation
    return f"{sign}{currency_symbol(currency)}{abs(amount):.{places}f}"


def fmt_value(value: Any) -> str:
    """Return any cell as text for people: dicts and lists spelled out, booleans yes/no, missing a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={fmt_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return ", ".join(fmt_value(v) for v in value)
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if value == value.normalize() else value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def fmt_table(frame: pd.DataFrame, *, labels: Mapping[str, str] | None = None, currency: str = "USD",
              money: Sequence[str] = (), unit_money: Sequence[str] = (), pct: Sequence[str] = (),
              signed_pct: Sequence[str] = (), p_values: Sequence[str] = (), counts: Sequence[str] = (),
              numbers: Mapping[str, str] | None = None, caption: str = "",
              ) -> pd.io.formats.style.Styler:  # fmt: skip
    """Return ``frame`` styled for people (see the module docstring); columns not named are shown as text.

    Columns with no value in any row are left out.

    Parameters
    ----------
    frame
        The table (its index is dropped).
    labels
        Column -> display label; other columns get their name with underscores as spaces, capitalised.
    currency
        Currency of the ``money`` and ``unit_money`` columns.
    money, unit_money, pct, signed_pct, p_values, counts
        Columns formatted as money (two decimals), unit costs, shares (``12.5%``), changes (``+12.5%``), p-values,
        counts (thousands separators).
    numbers
        Column -> a ``str.format`` pattern for other numeric columns (``{:.2f}``).
    caption
        The table's caption.
    """
    data = frame.reset_index(drop=True).copy()
    empty = [c for c in data.columns if len(data) and all(_missing(v) or v == "" for v in data[c])]
    data = data.drop(columns=empty)  # a column with nothing in it tells the reader nothing
    formats: dict[str, Any] = {}
    for column in data.columns:
        if column in money:
            formats[column] = lambda v: "-" if _missing(v) else fmt_money(v, currency)
        elif column in unit_money:
            formats[column] = lambda v: fmt_unit_money(v, currency)
        elif column in pct:
            formats[column] = lambda v: "-" if _missing(v) else f"{float(v):.1%}"
        elif column in signed_pct:
            formats[column] = lambda v: "-" if _missing(v) else ("new" if math.isinf(float(v)) else f"{float(v):+.1%}")
        elif column in p_values:
            formats[column] = fmt_p
        elif column in counts:
            formats[column] = lambda v: "-" if _missing(v) else f"{float(v):,.0f}"
        elif numbers and column in numbers:
            formats[column] = lambda v, f=numbers[column]: "-" if _missing(v) else f.format(float(v))
        else:
            formats[column] = fmt_value
    names = {c: (labels or {}).get(c, str(c).replace("_", " ").strip().capitalize()) for c in data.columns}
    styled = data.style.format(formats, escape="html").hide()
    return fmt_headers(styled, [names[c] for c in data.columns], caption=caption)


def fmt_headers(styled: pd.io.formats.style.Styler, labels: Sequence[Any], *,
                caption: str = "") -> pd.io.formats.style.Styler:  # fmt: skip
    """Return ``styled`` with its column ``labels`` and ``caption`` set, both HTML-escaped.

    pandas escapes a ``Styler``'s cells (``format(escape="html")``) but not its caption or column labels; a label or
    caption can hold data text (a column per team, an experiment's name), so every page's table sets them here.

    Parameters
    ----------
    styled
        A styled table with as many columns as ``labels``.
    labels
        The display label of each column, in order.
    caption
        The table's caption (empty: none).

    Returns
    -------
    pandas.io.formats.style.Styler

    Examples
    --------
    >>> styled = fmt_headers(pd.DataFrame({"a": [1]}).style.hide(), ["<b>team</b>"], caption="R&D <i>")
    >>> html_text = styled.to_html()
    >>> "&lt;b&gt;team&lt;/b&gt;" in html_text and "R&amp;D &lt;i&gt;" in html_text and "<b>" not in html_text
    True
    """
    escaped = styled.set_caption(html.escape(str(caption))) if caption else styled
    return escaped.relabel_index([html.escape(str(label)) for label in labels], axis=1)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, Decimal):
        return value.is_nan()
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def fmt_rates(rates: pd.DataFrame, *, currency: str, caption: str = "") -> Any:
    """Return the exchange rates used (six significant digits, yes/no), or a sentence when nothing was converted."""
    if rates.empty:
        return Notice(f"No conversion: every amount is billed in {currency}.")
    return fmt_table(rates, labels=RATE_LABELS, numbers={"rate": "{:.6g}"}, counts=["rows_converted", "count"],
                     caption=caption or f"Exchange rates used to report in {currency} (charge day's rate)")

