"""Charts of the data overview: spend and tokens over time, top movers, coverage."""

from __future__ import annotations

import altair as alt
import pandas as pd

from finops_lib.errors import SchemaError
from finops_lib.views.notice import when_empty
from finops_lib.views.theme import (
    DATE_FORMAT,
    DECREASE_COLOR,
    INCREASE_COLOR,
    as_dates,
    by_total,
    check_frame,
    fmt_currency_axis,
)


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
    order = by_total(frame, by, value)
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
                alt.Tooltip("yearmonthdate(day):T", title="Date", format=DATE_FORMAT),
                alt.Tooltip(f"{by}:N", title=by.replace("_", " ").capitalize()),
                tooltip_value,
            ],
        )
    )  # fmt: skip


@when_empty("No spend in this window: nothing to chart over time.")
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
    data = as_dates(check_frame(frame, ["day", by, "cost"], chart="plot_spend_over_time"), ["day"],
                     chart="plot_spend_over_time")  # fmt: skip
    return _stacked_by_day(
        data,
        by=by,
        value="cost",
        y=alt.Y("sum(cost):Q", axis=fmt_currency_axis(currency)),
        tooltip_value=alt.Tooltip("sum(cost):Q", title=f"Cost ({currency})", format=",.2f"),
        title=title or f"Daily spend by {by.replace('_', ' ')}",
    )


@when_empty("No tokens in this window: nothing to chart over time.")
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
    data = as_dates(check_frame(frame, ["day", by, "tokens"], chart="plot_tokens_over_time"), ["day"],
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


@when_empty("No material movers: no owner's spend changed enough between the two periods to show.")
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
    data = check_frame(frame, columns, chart="plot_top_movers", nullable=["change_pct"])
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


@when_empty("No coverage to chart: nothing is loaded for this window.")
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
    data = as_dates(
        check_frame(frame, ["source", "start", "end", "rows"], chart=chart),
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
                alt.Tooltip("start:T", title="First day", format=DATE_FORMAT),
                alt.Tooltip("end:T", title="Last day", format=DATE_FORMAT),
                alt.Tooltip("rows:Q", title="Rows", format=","),
            ],
        )
    )
