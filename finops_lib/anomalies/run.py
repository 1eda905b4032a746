"""Detect, explain and list anomalies from the facts or a cell frame; write the alert list for a scheduler.

:func:`detect_anomalies` is what ``finops anomalies`` and the anomaly notebook call: cell facts
(:func:`finops_lib.facts.build_cells`), scan (:func:`finops_lib.anomalies.detectors.scan`), episodes, then one
explained alert per anomaly (:mod:`finops_lib.anomalies.alerts`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from finops_lib.anomalies.alerts import alert_table
from finops_lib.anomalies.detectors import check_options, episodes, get_detector, scan
from finops_lib.anomalies.series import DEFAULTS, Grain
from finops_lib.errors import ParameterError
from finops_lib.facts import Facts, build_cells
from finops_lib.share import atomic_write, write_csv

__all__ = ["detect_anomalies", "grain_is_day", "run_detection", "write_alerts"]


def detect_anomalies(source: Facts | pd.DataFrame, *, since: str | None = None, **options: Any) -> pd.DataFrame:
    """Detect, explain and list anomalies: one row per anomaly (see :func:`finops_lib.anomalies.alert_table`).

    Parameters
    ----------
    source
        The facts (:class:`finops_lib.facts.Facts`: currency, window and the rules naming owners), or a cell frame
        (:func:`finops_lib.facts.build_cells`).
    since
        ISO day: keep the anomalies still going on at or after it (the baseline uses the history before it).
    **options
        As :func:`run_detection`: ``detector``, ``sensitivity``, ``min_impact``, ``currency`` (of a cell frame),
        ``until``, ``grain``, ``explain``.
    """
    _, alerts = run_detection(source, **options)
    if since:
        alerts = alerts[alerts["last_seen"] >= pd.Timestamp(since)].reset_index(drop=True)
    return alerts


def run_detection(
    source: Facts | pd.DataFrame,
    *,
    detector: str = DEFAULTS["detector"],
    sensitivity: float = DEFAULTS["sensitivity"],
    min_impact: float | str | None = DEFAULTS["min_impact"],
    currency: str = "USD",
    until: str | None = None,
    grain: Grain = "day",
    explain: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Detect and explain anomalies; return the scored points and the alert list: ``(points, alerts)``.

    Parameters
    ----------
    source
        The facts, or a cell frame (:func:`finops_lib.facts.build_cells`).
    detector, sensitivity, min_impact, grain
        See :func:`finops_lib.anomalies.scan`.
    currency
        Currency of a cell frame's money (the facts say their own).
    until
        ISO day: look at data up to it.
    explain
        Add the drill-down, decomposition and named driver (slower).
    """
    check_options(sensitivity=sensitivity, grain=grain)
    get_detector(detector)
    if isinstance(source, Facts):
        cells, currency = build_cells(source, grain=grain), source.currency
    else:
        cells = source
    if until:
        cells = cells[cells["day"] < pd.Timestamp(until) + pd.Timedelta(days=1)]
    points = scan(cells, detector=detector, sensitivity=sensitivity, min_impact=min_impact, grain=grain)
    alerts = alert_table(cells, points, episodes(points, grain=grain), explain=explain, grain=grain, currency=currency)
    return points, alerts.assign(detector=detector, sensitivity=float(sensitivity))


def write_alerts(alerts: pd.DataFrame, path: str | Path, *, neutralise_text: bool = True) -> Path:
    """Write the alert list to a ``.csv`` or ``.json`` file (money as text, dates ISO); return the path.

    The CSV's text cells (teams, applications, models from the billing data) are spreadsheet-safe
    (:func:`finops_lib.share.write_csv`); ``neutralise_text=False`` writes them as they are (for programs).
    """
    target = Path(path).expanduser()
    if target.suffix.lower() not in (".csv", ".json"):
        raise ParameterError(f"alert file must end in .csv or .json, got {target.name!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    out = alerts.drop(columns=[c for c in ("detail", "drilldown", "components") if c in alerts.columns])
    if target.suffix.lower() == ".csv":
        write_csv(out, target, date_format="%Y-%m-%d", neutralise_text=neutralise_text)
    else:
        records = json.loads(out.to_json(orient="records", date_format="iso", default_handler=str))
        for rec in records:
            for key in ("first_seen", "last_seen"):
                if isinstance(rec.get(key), str):
                    rec[key] = rec[key][:10] if grain_is_day(rec[key]) else rec[key]
        atomic_write(target, json.dumps(records, indent=2, ensure_ascii=False) + "\n")
    return target


def grain_is_day(stamp: str) -> bool:
    """Return True when an ISO timestamp falls on midnight (a daily alert)."""
    return stamp[11:19] in ("", "00:00:00")
