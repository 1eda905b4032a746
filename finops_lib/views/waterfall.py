"""One waterfall chart for every decomposition: estimate to invoice, baseline to anomaly, before to after.

Examples
--------
>>> steps = waterfall_steps([("Volume", 2.0), ("Price", -0.5)], start=("Before", 10.0), end="After")
>>> steps[["step", "low", "high", "kind"]].to_dict("records")[-1]
{'step': 'After', 'low': 0.0, 'high': 11.5, 'kind': 'total'}
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from finops_lib.views.theme import DECREASE_COLOR, INCREASE_COLOR, fmt_currency_axis, money_expr

__all__ = ["TOTAL_COLOR", "plot_waterfall", "waterfall_steps"]

TOTAL_COLOR = "#4e79a7"
NONE_COLOR = "#bab0ac"


def waterfall_steps(components: Sequence[tuple[str, float]], *, start: tuple[str, float] | None = None,
                    end: str | tuple[str, float] = "Change") -> pd.DataFrame:  # fmt: skip
    """Return the bars of a waterfall: an optional starting total, one step per component, the closing total.

    Parameters
    ----------
    components : sequence of (label, amount)
        In drawing order.
    start : (label, value), optional
        Starting total (e.g. the estimate, the baseline); without it the steps start at 0.
    end : str or (label, value)
        Label of the closing total, at the level the steps reach; or ``(label, value)`` for a total given
        separately (e.g. the invoice).

    Returns
    -------
    DataFrame
        ``step``, ``low``, ``high``, ``amount``, ``kind`` (``total``, ``increase``, ``decrease``, ``none``).
    """
    rows, level = [], 0.0
    if start is not None:
        level = float(start[1])
        rows.append({"step": start[0], "low": 0.0, "high": level, "amount": level, "kind": "total"})
    for label, amount in components:
        amount = float(amount)
        kind = "increase" if amount > 0 else "decrease" if amount < 0 else "none"
        rows.append({"step": label, "low": level, "high": level + amount, "amount": amount, "kind": kind})
        level += amount
    label, value = (end, level) if isinstance(end, str) else (end[0], float(end[1]))
    rows.append({"step": label, "low": 0.0, "high": value, "amount": value, "kind": "total"})
    return pd.DataFrame(rows)


def plot_waterfall(steps: pd.DataFrame, *, currency: str, title: str, fmt: str = ",.2f",
                   increase: str = INCREASE_COLOR, decrease: str = DECREASE_COLOR, width: int = 640,
                   label: str = "Cost") -> alt.Chart:  # fmt: skip
    """Return the waterfall of :func:`waterfall_steps`: totals in blue, increases and decreases colored, labelled.

    Parameters
    ----------
    steps : DataFrame
        :func:`waterfall_steps`.
    currency : str
        ISO 4217 code of the amounts (axis in that currency).
    title : str
        Chart title.
    fmt : str
        d3 format of the labels and axis (``",.4~g"`` for amounts of a few cents).
    increase, decrease : str
        Colors of the steps that raise and lower the level.
    width : int
        Chart width in pixels.
    label : str
        What the amounts are (axis title ``"<label> (<currency>)"``).
    """
    colors = alt.Scale(domain=["total", "increase", "decrease", "none"],
                       range=[TOTAL_COLOR, increase, decrease, NONE_COLOR])  # fmt: skip
    base = alt.Chart(steps, title=title).encode(
        x=alt.X("step:N", title=None, sort=steps["step"].tolist(),
                axis=alt.Axis(labelAngle=0, labelExpr="split(datum.label, ' ')")))  # fmt: skip
    bars = base.mark_bar(size=46).encode(
        y=alt.Y("low:Q", axis=fmt_currency_axis(currency, label=label, fmt=fmt.lstrip("+").replace(",.2f", ",.2~f"))),
        y2="high:Q", color=alt.Color("kind:N", scale=colors, legend=None),
        tooltip=[alt.Tooltip("step:N", title="Step"), alt.Tooltip("amount:Q", title=f"Amount ({currency})",
                                                                  format=fmt)])  # fmt: skip
    plus = "(datum.amount > 0 ? '+' : '') + " if fmt.startswith("+") else ""
    labels = base.mark_text(dy=-8, fontSize=11).encode(y="label_y:Q", text="label_text:N").transform_calculate(
        label_y="max(datum.low, datum.high)", label_text=plus + money_expr(currency, "amount", fmt.lstrip("+")))
    return alt.layer(bars, labels).properties(width=width)
