"""``finops ingest``: load files or folders into the workspace's warehouse and say what happened to each.

Every file in no table is printed with its reason and the fix; every file with rejected rows with its count per
reason. The config files of each folder's ``config/`` are validated and copied into the workspace's ``config/``
(``finops_lib.cli.config``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from finops_lib import engine
from finops_lib.cli.common import ingest_into, not_loaded, print_frame, register_mappings, resolve_workspace
from finops_lib.cli.config import copy_config
from finops_lib.cli.parser import EXIT_FAILED, EXIT_OK, EXIT_SKIPPED
from finops_lib.warehouse import summarize
from finops_lib.warehouse.status import rejects_by_reason

COUNTS = ["rows_read", "rows_loaded", "rows_rejected", "rows_replaced", "rows_superseded"]
REJECTS_FIX = "see `finops status` or the rejects table (file, line, column, value, reason)"


def run(args: argparse.Namespace) -> int:
    """Load files into the warehouse and print what happened to each; see :data:`EXIT_CODES` for the exit code."""
    register_mappings(args.mapping)
    ws = resolve_workspace(args)
    con = engine.connect(ws.engine_url, warehouse=ws.warehouse)
    try:
        summary = ingest_into(con, ws, args.paths, format=args.format)
        partly = summary[(summary["rows_rejected"] > 0) & summary["status"].isin(["loaded", "replaced"])]
        reasons = rejects_by_reason(con, files=partly["path"].tolist()) if len(partly) else None
    finally:
        con.disconnect()
    print(f"warehouse: {ws.warehouse}")
    config_lines, config_invalid = [], False
    for folder in (Path(p).expanduser().resolve() for p in args.paths):
        lines, invalid = copy_config(folder, ws) if folder.is_dir() else ([], False)
        config_lines += lines
        config_invalid |= invalid
    for line in config_lines:
        print(line, file=sys.stderr if "NOT copied" in line else sys.stdout)
    if summary.empty:
        print("no files found")
        return EXIT_FAILED if config_invalid else EXIT_OK
    _print_summary(summary, verbose=args.verbose)
    noted = summary[summary["status"].isin(["loaded", "replaced"]) & (summary["message"].fillna("") != "")]
    notes = [f"NOTE {row.path}: {row.message}" for row in noted.itertuples()]  # e.g. a part of a delivery missing
    for line in [*not_loaded(summary), *notes, *_rejected(partly, reasons)]:
        print(line, file=sys.stderr)
    return _exit_code(summary, allow_skipped=args.allow_skipped, config_invalid=config_invalid)


def _print_summary(summary: pd.DataFrame, *, verbose: bool) -> None:
    if verbose:  # every file, and for each one not loaded why (a file in no table is never a bare NaN)
        shown = summary.assign(format=summary["format"].fillna("(unrecognised)"),
                               reason=summary["message"].fillna("").str.slice(0, 70))  # fmt: skip
        print_frame(shown[["path", "format", "status", *COUNTS, "reason"]])
        print()
    print_frame(summarize(summary))
    total = summary[COUNTS].sum()
    print(f"\n{len(summary)} files: {int(total.rows_read)} rows read, {int(total.rows_loaded)} loaded, "
          f"{int(total.rows_rejected)} rejected, {int(total.rows_superseded)} restated by newer deliveries; "
          f"{int(total.rows_replaced)} rows already in the warehouse replaced by restated data")  # fmt: skip


def _rejected(partly: pd.DataFrame, reasons: pd.DataFrame | None) -> list[str]:
    """Two lines per file with rejected rows: the count per reason (first line of each), then where to look."""
    lines: list[str] = []
    if reasons is None:
        return lines
    for row in partly.itertuples():
        mine = reasons[reasons["path"] == row.path]
        counts = "; ".join(f"{r.reason}: {r.rows} row{'s' if r.rows > 1 else ''} from line {r.first_line}"
                           for r in mine.itertuples())  # fmt: skip
        lines += [f"REJECTED {row.rows_rejected} of {row.rows_read} rows of {row.path}: {counts}",
                  f"  fix: {REJECTS_FIX}"]  # fmt: skip
    return lines


def _exit_code(summary: pd.DataFrame, *, allow_skipped: bool, config_invalid: bool) -> int:
    if (summary.status == "failed").any() or config_invalid:
        return EXIT_FAILED
    if (summary.status == "skipped").any() and not allow_skipped:
        print("files were skipped: their money is in no table (exit 3; --allow-skipped accepts this)",
              file=sys.stderr)
        return EXIT_SKIPPED
    return EXIT_OK
