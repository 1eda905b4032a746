"""``finops watch``: one cycle (``--once``) or a loop (``--every 15m``) of pull, detect and notify.

The cycle is :func:`finops_lib.watch.watch_once`; this module reads the config and prints what each cycle did:
the pulls, the latest complete hour, the incidents going on and the messages sent (never a secret: channels are
named by type).
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from finops_lib import checks
from finops_lib.cli.common import print_frame
from finops_lib.errors import ParameterError
from finops_lib.watch import CycleReport, load_watch_config, watch_loop, watch_once

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """Run the watch; the exit code is the last cycle's (see ``finops watch --help``)."""
    config = load_watch_config(args.config)
    if args.once:
        report = watch_once(config)
        show(report)
        return report.exit_code
    every = checks.duration("--every", args.every).total_seconds()
    if every < 60:
        raise ParameterError(f"--every must be at least 1m, got {args.every!r}")
    return watch_loop(config, every=every, on_cycle=show)


def show(report: CycleReport) -> None:
    """Print one cycle: pulls, hour, incidents, messages."""
    for pulled in report.pulls:
        state = "stopped" if pulled.error else ("complete" if pulled.exit_code == 0 else "incomplete")
        rows = sum(int(r) for r in pulled.ingest["rows_loaded"]) if pulled.ingest is not None else 0
        print(f"pull {pulled.vendor}: {state}, {pulled.requests} requests, {rows} rows loaded")
    if report.hour is not None:
        print(f"latest complete hour: {report.hour:%Y-%m-%d %H:00} UTC; {len(report.incidents)} incident(s) going on")
    for inc in report.incidents:
        print(f"  {inc.incident_id}: {inc.actual:,.2f} per hour against {inc.expected:,.2f} usual, since "
              f"{inc.first_seen:%Y-%m-%d %H:00}; {inc.driver}")
    if report.sent:
        print_frame(pd.DataFrame(report.sent))
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    sys.stdout.flush()
