"""The anomaly review page (``40_anomaly_review``): parameters, cells, the series shown, the chosen alert, results."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from ibis.backends import BaseBackend

from finops_lib import checks
from finops_lib.anomalies import run_detection
from finops_lib.anomalies.alerts import incident_summary
from finops_lib.anomalies.detectors import DETECTORS, DIMENSIONS, METRICS, get_detector, resolve_min_impact
from finops_lib.anomalies.evaluation import load_events, score, sweep
from finops_lib.anomalies.explain import largest_key
from finops_lib.errors import ParameterError
from finops_lib.facts import Facts, build_cells, open_facts
from finops_lib.rules import resolve_rules
from finops_lib.views.notice import Notice, stack
from finops_lib.views.tables import fmt_table
from finops_lib.views.theme import fmt_money

__all__ = ["MIN_HISTORY_DAYS", "check_parameters", "default_key", "detect", "evaluate", "evaluation_view", "findings",
           "has_truth", "in_series", "load", "pick_alert", "ranked", "results", "shortage", "window"]  # fmt: skip

#: Days of history below which no anomaly is looked for: two of each weekday, for a baseline to compare with.
MIN_HISTORY_DAYS = 14


def check_parameters(cells: pd.DataFrame, *, detector: str, sensitivity: float, min_impact: str | float,
                     dimension: str, metric: str, start_date: str = "", end_date: str = "",
                     anomaly_index: int = 0) -> dict[str, Any]:  # fmt: skip
    """Check the notebook's parameters against the data; return them normalized (``min_impact`` in money).

    Raises
    ------
    ParameterError
        On an unknown detector (or one that cannot run here), dimension or metric, a sensitivity outside
        (0, 50], a malformed date, a start after the end, or an ``anomaly_index`` below -1.
    """
    get_detector(checks.one_of("detector", detector, DETECTORS))
    checks.one_of("dimension", dimension, DIMENSIONS)
    checks.one_of("metric", metric, METRICS)
    checks.number("sensitivity", sensitivity, low=0, high=50, low_open=True)
    first, last = checks.window(start_date, end_date)
    if not isinstance(anomaly_index, int) or anomaly_index < -1:
        raise ParameterError(f"anomaly_index must be -1 (the largest) or a 0-based position, got {anomaly_index!r}")
    return {"detector": detector, "sensitivity": float(sensitivity), "dimension": dimension, "metric": metric,
            "start_date": first and first.isoformat(), "end_date": last and last.isoformat(),
            "min_impact": resolve_min_impact(cells, min_impact)}  # fmt: skip


def load(con: BaseBackend, *, data_dir: str | None = None, rules_file: str = "",
         currency: str = "USD",
         **parameters: Any) -> tuple[Facts, pd.DataFrame, dict[str, Any]]:  # fmt: skip
    """Return the page's facts, their daily cells and the checked parameters.

    Owners come from the data folder's allocation rules, as on every page; money is in ``currency``.
    """
    facts = open_facts(con, currency=checks.currency_code(currency), rules=resolve_rules(rules_file, data_dir))
    facts = facts.explore()  # the page asks many questions of the same rows: scope them once
    cells = build_cells(facts)
    return facts, cells, check_parameters(cells, **parameters)


def shortage(facts: Facts, cells: pd.DataFrame) -> str:
    """Return why anomalies cannot be looked for in this data ('' when they can): no cells, or too few days."""
    if cells.empty:
        if facts.has_requests and facts.total("cost") == 0:
            return ("Anomaly review needs billing data (an invoice, cost or usage export): this data has request logs "
                    "only, whose cost is an estimate (see the reconciliation page).")  # fmt: skip
        return "Anomaly review needs daily cost, token or request data: none is loaded for this window."
    days = (cells["day"].max() - cells["day"].min()).days + 1
    if days < MIN_HISTORY_DAYS:
        return (f"Anomaly detection needs {MIN_HISTORY_DAYS} days of history (two of each weekday as a baseline); "
                f"this data has {days} ({cells['day'].min():%Y-%m-%d} to {cells['day'].max():%Y-%m-%d}).")
    return ""


def ranked(alerts: pd.DataFrame) -> pd.DataFrame:
    """Return the alerts largest money at stake first (absolute change; ties by first day)."""
    if alerts.empty:
        return alerts
    stake = alerts["change"].map(lambda v: abs(float(v)))
    order = alerts.assign(_stake=stake).sort_values(["_stake", "first_seen"], ascending=[False, True], kind="stable")
    return order.drop(columns="_stake").reset_index(drop=True)


def findings(alerts: pd.DataFrame, *, currency: str, problem: str = "", top: int = 3) -> str:
    """Return the page's answer: how many anomalies, the money at stake, the largest ones with their driver.

    Examples
    --------
    >>> a = pd.DataFrame({"anomaly_id": ["A1"], "change": [120.5], "change_pct": [0.6], "first_seen": ["2026-06-01"],
    ...                   "last_seen": ["2026-06-02"], "scope": ["team=search"], "driver": ["requests"],
    ...                   "cause": ["retry storm"], "severity": ["high"]})
    >>> print(findings(a, currency="USD"))
    1 anomaly (1 high severity), $120.50 of spend at stake. Largest: A1, team=search, +$120.50 (+60%) from 2026-06-01 to 2026-06-02, driven by requests (retry storm).
    """  # noqa: E501
    if problem:
        return problem
    if alerts.empty:
        return "No anomaly: every series stayed within its usual weekly pattern in this window."
    stake = sum(abs(float(v)) for v in alerts["change"])
    high = int((alerts["severity"] == "high").sum())
    parts = [f"{len(alerts)} anomal{'y' if len(alerts) == 1 else 'ies'} ({high} high severity), "
             f"{fmt_money(stake, currency)} of spend at stake."]  # fmt: skip
    lines = []
    for row in ranked(alerts).head(top).itertuples():
        pct = "new" if abs(float(row.change_pct)) == float("inf") else f"{float(row.change_pct):+.0%}"
        sign = "+" if float(row.change) >= 0 else ""
        why = f"{row.driver} ({row.cause})" if getattr(row, "cause", "") else str(row.driver)
        lines.append(f"{row.anomaly_id}, {row.scope}, {sign}{fmt_money(row.change, currency)} ({pct}) from "
                     f"{pd.Timestamp(row.first_seen):%Y-%m-%d} to {pd.Timestamp(row.last_seen):%Y-%m-%d}, "
                     f"driven by {why}")  # fmt: skip
    parts.append("Largest: " + "; ".join(lines) + ".")
    return " ".join(parts)


def detect(cells: pd.DataFrame, params: dict[str, Any], *, currency: str) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                                  pd.DataFrame]:  # fmt: skip
    """Return the scored points, every alert up to ``end_date``, and the alerts of the window shown.

    The alerts are ranked by money at stake (:func:`ranked`).
    """
    points, alerts = run_detection(cells, detector=params["detector"], sensitivity=params["sensitivity"],
                                   min_impact=params["min_impact"], until=params["end_date"],
                                   currency=currency)  # fmt: skip
    alerts = ranked(alerts)
    return points, alerts, window(alerts, start_date=params["start_date"], end_date=params["end_date"])


def in_series(alerts: pd.DataFrame, *, dimension: str, key: str) -> pd.DataFrame:
    """Return the alerts detected in the series ``dimension = key`` (any metric)."""
    if alerts.empty:
        return alerts
    seen = alerts["detected_in"].astype(str).map(lambda text: any(
        part.startswith(f"{dimension}={key}:") for part in text.split("; ")))  # fmt: skip
    return alerts[seen]


def window(alerts: pd.DataFrame, *, start_date: str | None, end_date: str | None) -> pd.DataFrame:
    """Alerts still going on at or after ``start_date`` and started by ``end_date`` (None: open)."""
    out = alerts
    if start_date:
        out = out[pd.to_datetime(out["last_seen"]) >= pd.Timestamp(start_date)]
    if end_date:
        out = out[pd.to_datetime(out["first_seen"]) <= pd.Timestamp(end_date)]
    return out.reset_index(drop=True)


def default_key(alerts: pd.DataFrame, points: pd.DataFrame, dimension: str, metric: str) -> str:
    """Return the series of ``dimension`` to show by default: where the largest anomaly was detected.

    Falls back to the series with the largest total (:func:`finops_lib.anomalies.explain.largest_key`) when no alert was
    detected in a series of that dimension and metric.
    """
    pattern = rf"(?:^|; ){re.escape(dimension)}=([^;]*):{re.escape(metric)}(?:;|$)"
    if not alerts.empty:
        keys = alerts["detected_in"].astype(str).str.extract(pattern)[0]
        sized = alerts.assign(_key=keys, _size=alerts["change"].map(lambda v: abs(float(v)))).dropna(subset=["_key"])
        if not sized.empty:
            return str(sized.loc[sized["_size"].idxmax(), "_key"])
    return largest_key(points, dimension, metric)


def pick_alert(alerts: pd.DataFrame, *, anomaly_index: int = -1, anomaly_id: str = "") -> pd.Series | None:
    """Return the alert named ``anomaly_id``, the one at ``anomaly_index``, or (``-1``) the largest in money.

    None when the list is empty.

    Raises
    ------
    ParameterError
        When ``anomaly_id`` is not in the list or ``anomaly_index`` is beyond it.
    """
    if alerts.empty:
        return None
    if anomaly_id:
        found = alerts[alerts["anomaly_id"] == anomaly_id]
        if found.empty:
            raise ParameterError(f"anomaly_id {anomaly_id!r} is not in the alert list "
                                 f"({', '.join(alerts['anomaly_id'])})")  # fmt: skip
        return found.iloc[0]
    if anomaly_index == -1:
        return alerts.iloc[int(alerts["change"].map(lambda v: abs(float(v))).to_numpy().argmax())]
    if anomaly_index >= len(alerts):
        raise ParameterError(f"anomaly_index {anomaly_index} is beyond the {len(alerts)} alert(s) (0-based)")
    return alerts.iloc[anomaly_index]


def has_truth(data_dir: str | Path | None) -> bool:
    """Return True when the data folder has an answer key (``truth/events.csv``), as the committed sample does."""
    return bool(data_dir) and (Path(data_dir).expanduser() / "truth" / "events.csv").is_file()


def evaluate(review: Any, *, data_dir: str | None,
             sensitivities: tuple[float, ...] = ()) -> tuple[dict | None, pd.DataFrame | None, pd.DataFrame | None]:
    """Score the page's alerts against the data folder's answer key, when it has one (the committed sample does).

    ``review`` is :func:`finops_lib.views.anomalies.sections.review`. The sweep runs the detector again over the
    whole period at each of ``sensitivities`` (none: no sweep; each costs a full scan).

    Returns
    -------
    (dict or None, pandas.DataFrame or None, pandas.DataFrame or None)
        The score summary, one row per injected event, and the sweep (None when not asked); three Nones without an
        answer key or without a scan.
    """
    if not has_truth(data_dir) or review.problem:
        return None, None, None
    events = load_events(data_dir)
    summary, per_event = score(review.alerts, events, until=review.params["end_date"])
    table = sweep(review.cells, detectors=(review.params["detector"],), sensitivities=tuple(sensitivities),
                  data_dir=data_dir) if sensitivities else None  # fmt: skip
    return summary, per_event, table


def evaluation_view(evaluation: dict | None, per_event: pd.DataFrame | None, table: pd.DataFrame | None) -> Any:
    """Return the evaluation's sentence, per-event table and sweep, or a sentence when there is no answer key."""
    if evaluation is None:
        return Notice("No answer key (truth/events.csv) in this data folder: the alerts are not scored. Only the "
                      "generated sample has one.")  # fmt: skip
    sentence = Notice(f"Against the answer key: recall {evaluation['recall']:.0%}, precision "
                      f"{evaluation['precision']:.0%} at this run's sensitivity.")
    parts = [sentence, fmt_table(per_event, caption="Injected events of the answer key, found or missed")]
    if table is not None:
        rates = [c for c in table.columns if c in ("recall", "precision", "strict_precision", "f1")]
        parts.append(fmt_table(table, pct=rates, caption="Detector sweep over sensitivities, whole period"))
    return stack(*parts)


def results(review: Any, *, evaluation: dict[str, Any] | None, sweep: pd.DataFrame | None) -> dict[str, Any]:
    """Return the notebook's ``results.json`` content: headline, findings, alerts, the chosen one, evaluation.

    ``review`` is :func:`finops_lib.views.anomalies.sections.review`. The headline leads with what happened and
    what it cost (anomalies, money at stake, the largest one); the evaluation against an answer key stays out of
    it. ``spend_total`` is the money of the cells the detectors scanned (exact), ``series_total`` the sum of the
    scanned total cost series (to the cent): both are the facts' spend.
    """
    alerts, cells, currency, chosen = review.shown, review.cells, review.currency, review.chosen
    shown = alerts.drop(columns=[c for c in ("scope_json",) if c in alerts.columns]).copy()
    for column in ("first_seen", "last_seen"):
        if column in shown.columns:
            shown[column] = pd.to_datetime(shown[column]).dt.strftime("%Y-%m-%d")
    if review.problem:
        headline = {"Anomalies": review.problem}
    else:
        stake = sum(abs(float(v)) for v in alerts["change"]) if len(alerts) else 0.0
        headline = {"Anomalies": str(len(alerts)), f"Money at stake ({currency})": fmt_money(stake, currency),
                    "High severity": str(int((alerts["severity"] == "high").sum())) if len(alerts) else "0",
                    "Incidents": str(len(incident_summary(alerts))) if len(alerts) else "0"}  # fmt: skip
        if len(alerts):
            top = alerts.iloc[0]
            headline["Largest"] = (f"{top['anomaly_id']}, {top['scope']}: {fmt_money(top['change'], currency)} "
                                   f"({top['driver']})")  # fmt: skip
    explanation = review.explained
    return {
        "headline": headline,
        "findings": findings(alerts, currency=currency, problem=review.problem),
        "date_range": [cells["day"].min().date().isoformat(), cells["day"].max().date().isoformat()]
        if len(cells) else [],
        "spend_total": str(sum((c for c in cells["cost"] if c is not None and not pd.isna(c)), Decimal(0)))
        if len(cells) else "0",
        "series_total": f"{_total_series(review.points):.2f}",
        "parameters": {k: (v if isinstance(v, int | float) else str(v)) for k, v in review.params.items()},
        "alerts": shown.astype(str).to_dict("records"),
        "chosen": None if chosen is None else {
            k: v.strftime("%Y-%m-%d") if isinstance(v, pd.Timestamp) else str(v)
            for k, v in chosen.items() if k != "scope_json"},
        "decomposition": None if explanation is None else {
            "change": str(explanation.change), "baseline": str(explanation.baseline),
            "current": str(explanation.current), "volume_unit": explanation.volume_unit,
            "components": {r.component: str(r.amount) for r in explanation.components.itertuples()}},
        "incidents": incident_summary(alerts).astype(str).to_dict("records") if len(alerts) else [],
        "evaluation": evaluation,
        "sweep": None if sweep is None else sweep.astype(str).to_dict("records"),
    }  # fmt: skip


def _total_series(points: pd.DataFrame) -> float:
    if points.empty:
        return 0.0
    total = points[(points["dimension"] == "total") & (points["metric"] == "cost")]
    return float(total["actual"].sum()) if len(total) else 0.0
