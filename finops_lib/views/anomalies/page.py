"""Notebook support of the anomaly review (``notebooks/40_anomaly_review.ipynb``): parameters, choice, results."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from finops_lib import paths
from finops_lib.anomalies.alerts import incident_summary
from finops_lib.anomalies.detectors import DETECTORS, DIMENSIONS, METRICS, get_detector, resolve_min_impact
from finops_lib.errors import ParameterError
from finops_lib.views.theme import fmt_money

__all__ = ["check_parameters", "default_key", "has_truth", "notebook_results", "pick_alert", "window"]


def _day(name: str, value: str) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ParameterError(f"{name} must be an ISO date such as '2026-07-01' or empty, got {value!r}") from None


def check_parameters(facts: pd.DataFrame, *, detector: str, sensitivity: float, min_impact: str | float,
                     dimension: str, metric: str, start_date: str = "", end_date: str = "",
                     anomaly_index: int = 0) -> dict[str, Any]:  # fmt: skip
    """Check the notebook's parameters against the data; return them normalized (``min_impact`` in money).

    Raises
    ------
    ParameterError
        On an unknown detector (or one that cannot run here), dimension or metric, a sensitivity outside
        (0, 50], a malformed date, a start after the end, or an ``anomaly_index`` below -1.
    """
    if detector not in DETECTORS:
        raise ParameterError(f"unknown detector {detector!r}; choose one of {', '.join(DETECTORS)}")
    get_detector(detector)
    if dimension not in DIMENSIONS:
        raise ParameterError(f"dimension must be one of {', '.join(DIMENSIONS)}, got {dimension!r}")
    if metric not in METRICS:
        raise ParameterError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if not isinstance(sensitivity, int | float) or isinstance(sensitivity, bool) or not 0 < sensitivity <= 50:
        raise ParameterError(f"sensitivity must be a number in (0, 50], got {sensitivity!r}")
    first, last = _day("start_date", start_date), _day("end_date", end_date)
    if first and last and first > last:
        raise ParameterError(f"start_date {first} is after end_date {last}")
    if not isinstance(anomaly_index, int) or anomaly_index < -1:
        raise ParameterError(f"anomaly_index must be -1 (the largest) or a 0-based position, got {anomaly_index!r}")
    return {"detector": detector, "sensitivity": float(sensitivity), "dimension": dimension, "metric": metric,
            "start_date": first, "end_date": last, "min_impact": resolve_min_impact(facts, min_impact)}  # fmt: skip


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
    from finops_lib.anomalies.explain import largest_key

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
    folder = Path(data_dir).expanduser() if data_dir else paths.SAMPLE_DIR
    return (folder / "truth" / "events.csv").is_file()


def notebook_results(alerts: pd.DataFrame, *, params: dict[str, Any], currency: str, chosen: pd.Series | None,
                     explanation: Any, evaluation: dict[str, Any] | None, sweep: pd.DataFrame | None,
                     facts: pd.DataFrame) -> dict[str, Any]:  # fmt: skip
    """Return the notebook's ``results.json`` content: headline, date range, alerts, the chosen one, evaluation."""
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
        "date_range": [facts["day"].min().date().isoformat(), facts["day"].max().date().isoformat()],
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
