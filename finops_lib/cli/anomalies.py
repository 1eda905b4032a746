"""``finops anomalies``: detect spend and token anomalies and write the alert list for a scheduler.

Exit codes: 0 done (with or without anomalies), 2 a workbench error (bad parameter, missing data),
3 at least one anomaly was found and ``--fail-on-anomalies`` was given (so that a cron job or CI step can
post the file only when there is something to say).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from finops_lib.anomalies import DEFAULTS, detect_anomalies, write_alerts
from finops_lib.cli.parser import EXIT_ANOMALIES_FOUND
from finops_lib.cli.workspace_facts import data_facts
from finops_lib.errors import ParameterError


def run(args: argparse.Namespace) -> int:
    """Run the detector on the workspace and write the alert list; return the exit code."""
    if args.out and Path(args.out).suffix.lower() not in (".csv", ".json"):
        raise ParameterError(f"--out {args.out!r}: expected a .csv or .json file")
    con, facts = data_facts(args)
    try:
        alerts = detect_anomalies(
            facts,
            detector=args.detector or DEFAULTS["detector"],
            sensitivity=DEFAULTS["sensitivity"] if args.sensitivity is None else args.sensitivity,
            min_impact=DEFAULTS["min_impact"] if args.min_impact is None else args.min_impact,
            since=args.since,
            until=args.until,
            grain=args.grain,
            explain=not args.no_explain,
        )
    finally:
        con.disconnect()  # type: ignore[attr-defined]
    _print_alerts(alerts)
    if args.out:
        path = write_alerts(alerts, args.out, neutralise_text=not args.raw_csv)
        print(f"{len(alerts)} anomalies written to {path}")
    if args.fail_on_anomalies and len(alerts):
        return EXIT_ANOMALIES_FOUND
    return 0


def _print_alerts(alerts: Any) -> None:
    if alerts.empty:
        print("no anomaly")
        return
    cols = [
        "anomaly_id",
        "first_seen",
        "last_seen",
        "direction",
        "team",
        "application",
        "model",
        "change",
        "change_pct",
        "driver",
        "cause",
        "severity",
    ]
    shown = alerts[[c for c in cols if c in alerts.columns]].copy()
    shown["change"] = shown["change"].map(lambda v: f"{float(v):+,.2f}")
    shown["change_pct"] = shown["change_pct"].map(lambda v: f"{v:+.0%}" if v == v and abs(v) != float("inf") else "new")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 40):
        print(shown.to_string(index=False), file=sys.stdout)


