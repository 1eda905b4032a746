"""Anomalies: spikes and drops of spend, tokens and requests, explained, listed and evaluated.

Series to scan, detectors, episodes, explanation (drill-down, exact decomposition, cause), the alert list and
its evaluation against an answer key.

Modules: ``series`` (the series and the money threshold), ``detectors`` (the registry, scan, episodes),
``forecast_band`` (the forecast-interval detector), ``explain`` (drill-down, decomposition, named cause),
``alerts`` (one explained row per anomaly, incidents), ``run`` (what the page and ``finops anomalies`` call),
``evaluate`` (precision, recall and delay against ``truth/events.csv``).
"""

from finops_lib.anomalies.alerts import ALERT_COLUMNS, alert_table, incident_summary, incidents, severity
from finops_lib.anomalies.detectors import DETECTORS, Detector, episodes, get_detector, register_detector, scan
from finops_lib.anomalies.explain import Explanation, explain_alert
from finops_lib.anomalies.run import detect_anomalies, grain_is_day, run_detection, write_alerts
from finops_lib.anomalies.series import DEFAULTS, DIMENSIONS, METRICS, build_series, resolve_min_impact

__all__ = [
    "ALERT_COLUMNS",
    "DEFAULTS",
    "DETECTORS",
    "DIMENSIONS",
    "METRICS",
    "Detector",
    "Explanation",
    "alert_table",
    "build_series",
    "detect_anomalies",
    "episodes",
    "explain_alert",
    "get_detector",
    "grain_is_day",
    "incident_summary",
    "incidents",
    "register_detector",
    "resolve_min_impact",
    "run_detection",
    "scan",
    "severity",
    "write_alerts",
]
