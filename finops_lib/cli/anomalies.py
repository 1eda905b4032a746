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

from finops_lib import paths

#: Exit code of ``finops anomalies --fail-on-anomalies`` when at least one anomaly is reported.
EXIT_ANOMALIES_FOUND: int = 3


def cmd_anomalies(args: argparse.Namespace) -> int:
    """Run the detector on the data folder and write the alert list; return the exit code."""
    from finops_lib.anomalies.detectors import DEFAULTS
    from finops_lib.anomalies.run import detect_anomalies, write_alerts
    from finops_lib.errors import ParameterError
    from finops_lib.warehouse.ingestion import open_data

    if args.out and Path(args.out).suffix.lower() not in (".csv", ".json"):
        raise ParameterError(f"--out {args.out!r}: expected a .csv or .json file")
    con = open_data(args.data, warehouse=args.warehouse)
    try:
        alerts = detect_anomalies(
            con,
            detector=args.detector or DEFAULTS["detector"],
            sensitivity=DEFAULTS["sensitivity"] if args.sensitivity is None else args.sensitivity,
            min_impact=DEFAULTS["min_impact"] if args.min_impact is None else args.min_impact,
            currency=args.currency,
            since=args.since,
            until=args.until,
            grain=args.grain,
            explain=not args.no_explain,
        )
    finally:
        con.disconnect()
    _print_alerts(alerts)
    if args.out:
        path = write_alerts(alerts, args.out)
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
    import pandas as pd

    shown = alerts[[c for c in cols if c in alerts.columns]].copy()
    shown["change"] = shown["change"].map(lambda v: f"{float(v):+,.2f}")
    shown["change_pct"] = shown["change_pct"].map(lambda v: f"{v:+.0%}" if v == v and abs(v) != float("inf") else "new")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 40):
        print(shown.to_string(index=False), file=sys.stdout)


def register(sub: Any) -> None:
    """Add the ``anomalies`` subcommand to the ``finops`` subparsers ``sub``."""
    p = sub.add_parser(
        "anomalies",
        help="detect spikes and drops of spend, tokens and requests and explain their driver",
        description="Detect anomalies in daily (or hourly) cost, token and request series, total and per team, "
        "application, model and API key; explain each one and write the alert list (CSV or JSON). Exit code 3 "
        "with --fail-on-anomalies when at least one anomaly is reported, 2 on a parameter or data error.",
    )
    p.add_argument("--data", default=str(paths.SAMPLE_DIR), help="data folder (default data/sample/)")
    p.add_argument("--warehouse", help="warehouse file (default: one per data folder under build/)")
    p.add_argument(
        "--since",
        help="report anomalies that are still going on at or after this day, YYYY-MM-DD "
        "(the baseline uses the history before it)",
    )
    p.add_argument("--until", help="last day to consider, YYYY-MM-DD (default: the last day of data)")
    p.add_argument("--detector", help="detector name (default robust_seasonal; see finops_lib.anomalies.DETECTORS)")
    p.add_argument(
        "--sensitivity", type=float, help="threshold in robust standard deviations (default 4; lower reports more)"
    )
    p.add_argument(
        "--min-impact",
        type=float,
        help="minimum absolute daily impact in money, in the report currency, below which a deviation is not "
        "reported (default: 0.25%% of the median daily spend, at least 1)",
    )
    p.add_argument("--currency", default="USD", help="report currency (default USD)")
    p.add_argument("--grain", default="day", choices=("day", "hour"), help="series grain (default day)")
    p.add_argument("--no-explain", action="store_true", help="skip the driver explanation (faster)")
    p.add_argument("--out", help="write the alert list to this .csv or .json file")
    p.add_argument(
        "--fail-on-anomalies",
        action="store_true",
        help=f"exit with code {EXIT_ANOMALIES_FOUND} when at least one anomaly is reported",
    )
    p.set_defaults(func=cmd_anomalies)
