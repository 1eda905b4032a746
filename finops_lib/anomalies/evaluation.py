"""Score detectors against a data folder's answer key (``truth/events.csv``): precision, recall, delay, driver.

How alerts and events are matched
---------------------------------
An alert **matches** an event when (1) its window ``[first_seen, last_seen]`` overlaps the event's window widened
by one day on each side, and (2) its owner path is consistent with the event: the alert's provider, team and
application (the path carrying most of its change) are each among the event's values (an empty event field
accepts any value).

Which events count
------------------
* ``anomaly_*`` events (E02, E06, E08, E11, E13) are what recall is measured on: an event is **found** when a
  matching alert starts no later than one day after the event starts; its **delay** is ``first_seen - start``
  in days (within one day either way), and its **driver** is right when the matching alert names truth's driver.
* One-day real changes (E04, the outage: a drop the detector should report) match over their window.
* Persistent real changes (caching adopted, the launch step, the price cut, the experiment, the prompt change)
  are level shifts: they match at their start day, and at the day after their end when they end before the data
  does (the experiment ending is a drop). An alert later inside such a change is a false positive.
* Background facts spanning the whole period (growth and seasonality, batch usage, untagged spend, shared cost)
  match nothing.

**Precision** counts every alert that matches no event as a false positive; ``strict_precision`` counts only
alerts matching ``anomaly_*`` events as true (the real changes then count against it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from finops_lib.anomalies.detectors import DEFAULTS, DETECTORS
from finops_lib.anomalies.run import detect_anomalies
from finops_lib.errors import ParameterError

__all__ = ["PROVIDERS", "evaluate", "load_events", "match_alerts", "score", "sweep"]

#: truth's provider names -> the schema's ProviderName.
PROVIDERS: dict[str, str] = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "gcp_vertex": "Google",
    "aws_bedrock": "AWS",
    "azure_openai": "Microsoft",
    "cloud": "AWS",
}
ONE_DAY = ("outage",)
BACKGROUND = ("seasonality_growth", "batch_usage", "untagged_spend", "shared_cost")
_DAY = pd.Timedelta(days=1)


def _split(value: object) -> frozenset[str]:
    return frozenset(v for v in str(value).split(";") if v) if isinstance(value, str) else frozenset()


def load_events(data_dir: str | Path) -> pd.DataFrame:
    """Read ``<data_dir>/truth/events.csv`` (a generated folder's answer key) and add ``role`` and the match windows.

    Returns
    -------
    pandas.DataFrame
        The file's columns (dates as Timestamps; ``provider``, ``team``, ``application`` as frozensets, providers
        in schema names), ``role`` (``anomaly``, ``change`` or ``background``) and ``windows`` (list of
        ``(start, end)`` Timestamps, inclusive).
    """
    if not data_dir:
        raise ParameterError("no data folder, so no answer key (truth/events.csv) to score against")
    events = pd.read_csv(Path(data_dir).expanduser() / "truth" / "events.csv", dtype=str, keep_default_na=False)
    events["start_date"] = pd.to_datetime(events["start_date"])
    events["end_date"] = pd.to_datetime(events["end_date"])
    last = events["end_date"].max()
    events["provider"] = events["provider"].map(lambda v: frozenset(PROVIDERS.get(p, p) for p in _split(v)))
    for column in ("team", "application", "model"):
        events[column] = events[column].map(_split)
    events["role"] = [
        "anomaly" if k.startswith("anomaly_") else "background" if k in BACKGROUND else "change" for k in events["kind"]
    ]
    windows = []
    for ev in events.itertuples():
        if ev.role == "background":
            windows.append([])
        elif ev.role == "anomaly" or ev.kind in ONE_DAY:
            windows.append([(ev.start_date, ev.end_date)])
        else:
            edges = [(ev.start_date, ev.start_date)]
            if ev.end_date < last:
                edges.append((ev.end_date + _DAY, ev.end_date + _DAY))
            windows.append(edges)
    events["windows"] = windows
    return events


def _consistent(alert: pd.Series, event: pd.Series) -> bool:
    return all(not event[c] or str(alert[c]) in event[c] for c in ("provider", "team", "application"))


def _overlaps(alert: pd.Series, windows: list[tuple[pd.Timestamp, pd.Timestamp]]) -> bool:
    first, last = pd.Timestamp(alert["first_seen"]).normalize(), pd.Timestamp(alert["last_seen"]).normalize()
    return any(first <= end + _DAY and last >= start - _DAY for start, end in windows)


def match_alerts(alerts: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Return ``alerts`` with the events each one matches.

    Adds ``matched`` (event ids, ``;``-separated, '' for none) and ``match_role`` (``anomaly``, ``change`` or
    ``false positive``).
    """
    out = alerts.copy()
    ids, roles = [], []
    for _, alert in out.iterrows():
        hits = [
            ev
            for _, ev in events.iterrows()
            if ev["windows"] and _overlaps(alert, ev["windows"]) and _consistent(alert, ev)
        ]
        ids.append(";".join(ev["event_id"] for ev in hits))
        kinds = {ev["role"] for ev in hits}
        roles.append("anomaly" if "anomaly" in kinds else "change" if kinds else "false positive")
    out["matched"] = ids
    out["match_role"] = roles
    return out


def score(alerts: pd.DataFrame, events: pd.DataFrame, *,
          until: str | pd.Timestamp | None = None) -> tuple[dict[str, float], pd.DataFrame]:  # fmt: skip
    """Score an alert list: summary figures and one row per ``anomaly_*`` event.

    ``until``: the last day the detector saw; injected events starting after it are left out of recall.

    Returns
    -------
    (dict, pandas.DataFrame)
        ``alerts``, ``false_positives``, ``precision``, ``strict_precision``, ``recall``, ``mean_delay_days``,
        ``max_delay_days``, ``driver_accuracy``; and per event ``event_id``, ``kind``, ``start``, ``found``,
        ``anomaly_id``, ``delay_days``, ``driver_truth``, ``driver_found``, ``driver_ok``.
    """
    matched = match_alerts(alerts, events) if len(alerts) else alerts.assign(matched="", match_role="")
    rows = []
    injected = events[events["role"] == "anomaly"]
    if until:
        injected = injected[injected["start_date"] <= pd.Timestamp(until)]
    for _, ev in injected.iterrows():
        hits = matched[matched["matched"].str.split(";").map(lambda ids, e=ev["event_id"]: e in ids)]
        hits = hits.sort_values("first_seen")
        first = hits.iloc[0] if len(hits) else None
        delay = (pd.Timestamp(first["first_seen"]).normalize() - ev["start_date"]).days if first is not None else None
        found = first is not None and abs(delay) <= 1
        rows.append(
            {
                "event_id": ev["event_id"],
                "kind": ev["kind"],
                "start": ev["start_date"],
                "found": found,
                "anomaly_id": first["anomaly_id"] if first is not None else "",
                "delay_days": delay,
                "driver_truth": ev["driver"],
                "driver_found": first["driver"] if first is not None else "",
                "driver_ok": bool(first is not None and first["driver"] == ev["driver"]),
            }
        )
    per_event = pd.DataFrame(rows)
    n = len(matched)
    fp = int((matched["match_role"] == "false positive").sum()) if n else 0
    found = per_event[per_event["found"]] if len(per_event) else per_event
    summary = {
        "alerts": n,
        "false_positives": fp,
        "precision": (n - fp) / n if n else float("nan"),
        "strict_precision": float((matched["match_role"] == "anomaly").sum()) / n if n else float("nan"),
        "recall": float(per_event["found"].mean()) if len(per_event) else float("nan"),
        "mean_delay_days": float(found["delay_days"].mean()) if len(found) else float("nan"),
        "max_delay_days": float(found["delay_days"].max()) if len(found) else float("nan"),
        "driver_accuracy": float(found["driver_ok"].mean()) if len(found) else float("nan"),
    }
    return summary, per_event


def evaluate(
    facts: pd.DataFrame,
    *,
    data_dir: str | Path,
    detector: str = "robust_seasonal",
    sensitivity: float | None = None,
    min_impact: float | str | None = "auto",
    explain: bool = True,
) -> tuple[dict[str, float], pd.DataFrame, pd.DataFrame]:
    """Run one detector setting on ``facts`` and score it against ``data_dir``'s answer key.

    Returns
    -------
    (dict, pandas.DataFrame, pandas.DataFrame)
        The :func:`score` summary (with ``detector`` and ``sensitivity``), the per-event table, and the alerts
        with their ``matched`` events and ``match_role``.
    """
    sensitivity = DEFAULTS["sensitivity"] if sensitivity is None else sensitivity
    events = load_events(data_dir)
    alerts = detect_anomalies(facts, detector=detector, sensitivity=sensitivity, min_impact=min_impact, explain=explain)
    summary, per_event = score(alerts, events)
    matched = match_alerts(alerts, events) if len(alerts) else alerts.assign(matched="", match_role="")
    return {"detector": detector, "sensitivity": sensitivity, **summary}, per_event, matched


def sweep(
    facts: pd.DataFrame,
    *,
    data_dir: str | Path,
    detectors: tuple[str, ...] = ("robust_seasonal",),
    sensitivities: tuple[float, ...] = (3.0, 4.0, 5.0, 6.0),
) -> pd.DataFrame:
    """Precision, recall, delay and driver accuracy per detector and sensitivity (one row each).

    Unavailable detectors get one row with ``available = False`` and the reason in ``note``.
    """
    rows = []
    for name in detectors:
        problem = DETECTORS[name].available() if name in DETECTORS else f"unknown detector {name!r}"
        if problem:
            rows.append({"detector": name, "available": False, "note": problem})
            continue
        for sens in sensitivities:
            summary, _, _ = evaluate(facts, detector=name, sensitivity=sens, data_dir=data_dir)
            rows.append({**summary, "available": True, "note": ""})
    out = pd.DataFrame(rows)
    return out.replace({np.nan: None}) if out.empty else out
