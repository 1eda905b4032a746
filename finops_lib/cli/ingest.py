"""``finops ingest``: load files or folders into the warehouse and say what happened to each."""

from __future__ import annotations

import argparse
import sys

from finops_lib import engine
from finops_lib.cli.common import print_frame, register_mappings
from finops_lib.cli.parser import EXIT_FAILED, EXIT_OK, EXIT_SKIPPED
from finops_lib.warehouse import ingest, summarize


def run(args: argparse.Namespace) -> int:
    """Load files into the warehouse and print what happened to each; see :data:`EXIT_CODES` for the exit code."""
    register_mappings(args.mapping)
    con = engine.connect(args.engine, warehouse=args.warehouse)
    try:
        summary = ingest(args.paths, con=con, format=args.format)
    finally:
        con.disconnect()
    if summary.empty:
        print("no files found")
        return EXIT_OK
    if args.verbose:
        print_frame(summary[["path", "format", "status", "rows_read", "rows_loaded", "rows_rejected",
                             "rows_replaced", "rows_superseded"]])  # fmt: skip
        print()
    print_frame(summarize(summary))
    total = summary[["rows_read", "rows_loaded", "rows_rejected", "rows_replaced", "rows_superseded"]].sum()
    print(f"\n{len(summary)} files: {int(total.rows_read)} rows read, {int(total.rows_loaded)} loaded, "
          f"{int(total.rows_rejected)} rejected, {int(total.rows_superseded)} restated by newer deliveries; "
          f"{int(total.rows_replaced)} rows already in the warehouse replaced by restated data")  # fmt: skip
    if total.rows_rejected:
        print("rejected records (file, line, column, reason): query the `rejects` table, or see the "
              "data overview report")  # fmt: skip
    for row in summary[summary.status == "skipped"].itertuples():
        print(f"SKIPPED {row.path}: {row.message}", file=sys.stderr)
    for row in summary[summary.status == "failed"].itertuples():
        print(f"FAILED {row.path}: {row.message}", file=sys.stderr)
    if (summary.status == "failed").any():
        return EXIT_FAILED
    if (summary.status == "skipped").any() and not args.allow_skipped:
        print("files were skipped: their money is in no table (exit 3; --allow-skipped accepts this)",
              file=sys.stderr)
        return EXIT_SKIPPED
    return EXIT_OK
