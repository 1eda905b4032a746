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
from finops_lib.views.theme import fmt_money

__all__ = ["check_parameters", "default_key", "detect", "evaluate", "has_truth", "in_series", "load", "pick_alert",
           "results", "window"]  # fmt: skip


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


def load(con: BaseBackend, *, data_dir: str | None = None, currency: str = "USD",
         **parameters: Any) -> tuple[Facts, pd.DataFrame, dict[str, Any]]:  # fmt: skip
    """Return the page's facts, their daily cells and the checked parameters.

    Owners come from the data folder's allocation rules, as on every page; money is in ``currency``.
    """
    facts = open_facts(con, currency=checks.currency_code(currency), rules=resolve_rules("", data_dir))
    cells = build_cells(facts)
    return facts, cells, check_parameters(cells, **parameters)


def detect(cells: pd.DataFrame, params: dict[str, Any], *, currency: str) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                                  pd.DataFrame]:  # fmt: skip
    """Return the scored points, every alert up to ``end_date``, and the alerts of the window shown."""
    points, alerts = run_detection(cells, detector=params["detector"], sensitivity=params["sensitivity"],
                                   min_impact=params["min_impact"], until=params["end_date"],
                                   currency=currency)  # fmt: skip
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


def evaluate(alerts: pd.DataFrame, cells: pd.DataFrame, params: dict[str, Any], *, data_dir: str | None,
             sensitivities: tuple[float, ...]) -> tuple[dict | None, pd.DataFrame | None, pd.DataFrame | None]:
    """Score the alerts against the data folder's answer key, when it has one (the committed sample does).

    Returns
    -------
    (dict or None, pandas.DataFrame or None, pandas.DataFrame or None)
        The score summary, one row per injected event, and the sensitivity sweep; three Nones without an answer key.
    """
    if not has_truth(data_dir):
        return None, None, None
    events = load_events(data_dir)
    summary, per_event = score(alerts, events, until=params["end_date"])
    table = sweep(cells, detectors=(params["detector"],), sensitivities=tuple(sensitivities), data_dir=data_dir)
    return summary, per_event, table


def results(alerts: pd.DataFrame, *, params: dict[str, Any], currency: str, chosen: pd.Series | None,
            explanation: Any, evaluation: dict[str, Any] | None, sweep: pd.DataFrame | None, cells: pd.DataFrame,
            points: pd.DataFrame) -> dict[str, Any]:  # fmt: skip
    """Return the notebook's ``results.json`` content: headline, date range, alerts, the chosen one, evaluation.

    ``spend_total`` is the money of the cells the detectors scanned (exact), ``series_total`` the sum of the scanned
    total cost series (to the cent): both are the facts' spend.
    """
    shown = alerts.drop(columns=[c for c in ("scope_json",) if c in alerts.columns]).copy()
    for column in ("first_seen", "last_seen"):
        shown[column] = pd.to_datetime(shown[column]).dt.strftime("%Y-%m-%d")
    total = sum((v for v in alerts["change"]), start=0) if len(alerts) else 0
    headline = {"Anomalies": str(len(alerts)),
                "High severity": str(int((alerts["severity"] == "high").sum())) if len(alerts) else "0",
                f"Net change ({currency})": fmt_money(total, currency),
                "Incidents": str(len(incident_summary(alerts)))}  # fmt: skip
    if evaluation:
        headline |= {"Recall": f"{evaluation['recall']:.0%}", "Precision": f"{evaluation['precision']:.0%}"}
    return {
        "headline": headline,
        "date_range": [cells["day"].min().date().isoformat(), cells["day"].max().date().isoformat()],
        "spend_total": str(sum((c for c in cells["cost"] if c is not None and not pd.isna(c)), Decimal(0))),
        "series_total": f"{_total_series(points):.2f}",
        "parameters": {k: (v if isinstance(v, int | float) else str(v)) for k, v in params.items()},
        "alerts": shown.astype(str).to_dict("records"),
        "chosen": None
        if chosen is None
        else {
            k: v.strftime("%Y-%m-%d") if isinstance(v, pd.Timestamp) else str(v)
            for k, v in chosen.items()
            if k != "scope_json"
        },
        "decomposition": None
        if explanation is None
        else {
            "change": str(explanation.change),
            "baseline": str(explanation.baseline),
            "current": str(explanation.current),
            "volume_unit": explanation.volume_unit,
            "components": {r.component: str(r.amount) for r in explanation.components.itertuples()},
        },
        "incidents": incident_summary(alerts).astype(str).to_dict("records"),
        "evaluation": evaluation,
        "sweep": None if sweep is None else sweep.astype(str).to_dict("records"),
    }


def _total_series(points: pd.DataFrame) -> float:
    total = points[(points["dimension"] == "total") & (points["metric"] == "cost")]
    return float(total["actual"].sum()) if len(total) else 0.0
