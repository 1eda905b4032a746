"""``finops pull``: a vendor's API (or the LiteLLM gateway's database) into ``<data>/landing/`` and the warehouse.

The pull itself is :func:`finops_lib.live.pull`; this module reads the arguments, ingests into the workspace
(``--warehouse``, else ``$FINOPS_WAREHOUSE``, else ``data/warehouse/``) and prints one line per endpoint.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, time
from pathlib import Path

import pandas as pd

from finops_lib import checks, engine
from finops_lib.cli.common import ingest_into, not_loaded, print_frame, resolve_workspace
from finops_lib.live import PullOptions, PullReport, RetryPolicy, pull, pull_litellm

__all__ = ["run"]


def options(args: argparse.Namespace) -> PullOptions:
    """Return the pull options the arguments give (days are UTC midnights)."""
    since, until = (checks.iso_day(n, getattr(args, n)) for n in ("since", "until"))
    if args.page_limit < 1:
        checks.positive_int("--page-limit", args.page_limit)
    return PullOptions(
        since=datetime.combine(since, time(), UTC) if since else None,
        until=datetime.combine(until, time(), UTC) if until else None,
        lookback=checks.duration("--lookback", args.lookback),
        hourly_days=checks.positive_int("--hourly-days", args.hourly_days),
        page_limit=args.page_limit,
        endpoints=tuple(args.endpoint),
        policy=RetryPolicy(timeout_s=checks.number("--timeout", args.timeout, low=0, low_open=True)),
    )


def run(args: argparse.Namespace) -> int:
    """Pull, ingest, print what each endpoint did; the exit code says whether everything came (see ``--help``)."""
    ws = resolve_workspace(argparse.Namespace(data=None, warehouse=args.warehouse, engine=args.engine))
    opts = options(args)
    con = engine.connect(ws.engine_url, warehouse=ws.warehouse)
    try:
        def ingest(files: list[Path]) -> pd.DataFrame:
            return ingest_into(con, ws, [str(f) for f in files])

        if args.vendor == "litellm":
            report = pull_litellm(args.data, ingest=ingest, options=opts)
        else:
            report = pull(args.vendor, args.data, ingest=ingest, options=opts)
    finally:
        con.disconnect()
    _print(report, ws.describe())
    return report.exit_code


def _print(report: PullReport, warehouse: str) -> None:
    print(f"warehouse: {warehouse}")
    if report.vendor_now:
        print(f"{report.vendor} clock: {report.vendor_now:%Y-%m-%d %H:%M} UTC; {report.requests} requests")
    if len(report.endpoints):
        print_frame(report.table())
    if report.ingest is not None and len(report.ingest):
        counts = report.ingest[["rows_read", "rows_loaded", "rows_rejected", "rows_replaced"]].sum()
        print(f"\n{len(report.ingest)} pages ingested: {int(counts.rows_read)} rows read, {int(counts.rows_loaded)} "
              f"loaded, {int(counts.rows_rejected)} rejected, {int(counts.rows_replaced)} re-pulled rows replaced")
        for line in not_loaded(report.ingest):
            print(line, file=sys.stderr)
    if report.error:
        print(f"finops pull: stopped: {report.error}", file=sys.stderr)
        print("nothing of this run was landed or ingested; the state is unchanged: run it again", file=sys.stderr)
