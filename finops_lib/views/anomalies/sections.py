"""What each section of the anomaly page shows: the answer, charts and tables, or a sentence saying why not.

:func:`review` runs the detection once for the page (nothing when the data is too thin: :func:`page.shortage`);
each other function returns what one notebook cell displays: an Altair chart, a table, or a
:class:`~finops_lib.views.notice.Notice`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from finops_lib.anomalies import explain_alert, incident_summary
from finops_lib.facts import Facts
from finops_lib.views.anomalies import charts, page
from finops_lib.views.notice import Findings, Notice
from finops_lib.views.tables import fmt_table

__all__ = ["Review", "alerts_table", "drilldown_chart", "explanation", "findings_view", "incidents_table", "review",
           "series_chart", "waterfall_chart"]  # fmt: skip

SEE_ABOVE = "Nothing to show: the data is too thin for anomaly detection (the answer at the top says why)."


@dataclass(frozen=True)
class Review:
    """One run of the page: points scanned, alerts (largest money at stake first), series shown, anomaly explained.

    ``problem`` says why nothing was scanned ('' when the data could be).
    """

    facts: Facts
    cells: pd.DataFrame
    params: dict[str, Any]
    currency: str
    problem: str
    points: pd.DataFrame
    alerts: pd.DataFrame
    shown: pd.DataFrame
    dimension: str
    key: str
    series: pd.DataFrame
    chosen: pd.Series | None
    explained: Any


def review(facts: Facts, cells: pd.DataFrame, params: dict[str, Any], *, currency: str, series_key: str = "",
           anomaly_index: int = -1, anomaly_id: str = "") -> Review:  # fmt: skip
    """Detect anomalies in every series, pick the series shown and the anomaly explained (or say why not)."""
    dimension, metric = params["dimension"], params["metric"]
    problem = page.shortage(facts, cells)
    empty = pd.DataFrame()
    if problem:
        return Review(facts, cells, params, currency, problem, empty, empty, empty, dimension, "", empty, None, None)
    points, alerts, shown = page.detect(cells, params, currency=currency)
    key = series_key or page.default_key(shown, points, dimension, metric)
    series = charts.series_points(points, dimension=dimension, key=key, metric=metric,
                                  start_date=params["start_date"] or "", end_date=params["end_date"] or "")
    chosen = page.pick_alert(shown, anomaly_index=anomaly_index, anomaly_id=anomaly_id)
    explained = explain_alert(cells, chosen) if chosen is not None else None
    return Review(facts, cells, params, currency, "", points, alerts, shown, dimension, key, series, chosen, explained)


def findings_view(r: Review) -> Findings:
    """Return the answer the page opens with (:func:`page.findings`)."""
    return Findings(page.findings(r.shown, currency=r.currency, problem=r.problem))


def series_chart(r: Review) -> Any:
    """Return the chart of the series shown: actual, expected, band and anomalies; or why there is none."""
    if r.problem:
        return Notice(SEE_ABOVE)
    if r.series.empty:
        return Notice(f"No {r.params['metric']} series for {r.dimension} = {r.key or '(none)'} in this window.")
    metric = r.params["metric"]
    return charts.plot_anomaly_series(r.series, currency=r.currency, metric=metric,
                                      alerts=page.in_series(r.shown, dimension=r.dimension, key=r.key),
                                      title=f"{r.dimension} {r.key}: {metric} per day, band and anomalies")  # fmt: skip


def alerts_table(r: Review) -> Any:
    """Return the alert list, largest money at stake first; or why there is none."""
    if r.problem:
        return Notice(SEE_ABOVE)
    if r.shown.empty:
        return Notice("No anomaly in this window.")
    return fmt_table(charts.fmt_alerts(r.shown), caption=f"Anomalies, largest money at stake first, {r.currency}")


def incidents_table(r: Review) -> Any:
    """Return the incidents (alerts of several owners on the same days), or a sentence when there is none."""
    table = incident_summary(r.shown) if not r.problem and len(r.shown) else pd.DataFrame()
    if table.empty:
        return Notice("No incident: no anomaly was shared by three or more owners on the same days.")
    shown = table.assign(when=charts.fmt_days(table["first_seen"], table["last_seen"]))
    shown = shown[["incident", "when", "direction", "alerts", "change", "providers", "teams", "applications"]]
    return fmt_table(shown, currency=r.currency, money=["change"], counts=["alerts"],
                     caption=f"Incidents: anomalies of three or more owners on the same days, summed, {r.currency}")


def explanation(r: Review) -> Notice:
    """Return the explained anomaly's sentence."""
    if r.problem:
        return Notice(SEE_ABOVE)
    if r.chosen is None:
        return Notice("No anomaly in the window to explain.")
    return Notice(f"{r.chosen['anomaly_id']} - {r.chosen['explanation']}")


def waterfall_chart(r: Review) -> Any:
    """Return the waterfall from the baseline to the anomaly through the exact decomposition, or nothing to say."""
    if r.explained is None:
        return Notice("No waterfall: no anomaly is explained.")
    e = r.explained
    return charts.plot_decomposition_waterfall(
        e.components, baseline=e.baseline, current=e.current, currency=r.currency,
        title=f"{r.chosen['anomaly_id']}: from baseline to anomaly ({e.volume_unit} as volume)")  # fmt: skip


def drilldown_chart(r: Review) -> Any:
    """Return where the explained change sits by model, key, token bucket and tier, or nothing to say."""
    if r.explained is None:
        return Notice("No drill-down: no anomaly is explained.")
    return charts.plot_drilldown(r.explained.drilldown, currency=r.currency, skip=tuple(r.explained.scope))
