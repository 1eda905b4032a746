"""``finops export-focus``: write the workspace's charges as a FOCUS 1.2 dataset, optionally validated."""

from __future__ import annotations

import argparse
import sys

from finops_lib.cli.common import open_workspace
from finops_lib.warehouse import export_focus, run_validator


def run(args: argparse.Namespace) -> int:
    """Write the warehouse's charges as a FOCUS dataset; optionally run the FinOps Foundation validator."""
    con, _ = open_workspace(args, writable=True)  # the export writes a view
    try:
        info = export_focus(con, args.out, version=args.focus_version, spreadsheet_safe=not args.raw_csv)
    finally:
        con.disconnect()
    print(f"wrote {info['rows']} FOCUS {info['version']} charge rows to {info['path']}; {info['left_out']} "
          "estimated/unpriced usage rows left out (not charges)")  # fmt: skip
    if info["without_quantity"]:
        print(f"warning: {info['without_quantity']} usage charges have no known quantity (PricingQuantity null)",
              file=sys.stderr)  # fmt: skip
    if not args.validate:
        return 0
    failures, report = run_validator(info["path"], venv=args.validator_venv, version=args.focus_version)
    totals = next((line for line in report.splitlines() if line.startswith("Total:")), "")
    if failures:
        print(report, file=sys.stderr)
        print(f"focus-validator ({totals}): {len(failures)} failed rule(s): {', '.join(failures)}", file=sys.stderr)
        return 1
    print(f"focus-validator ({totals}): no failed rule besides the InvoiceId nullability pair that its 1.2 model "
          "cannot evaluate (see finops_lib.warehouse.focus_export.INVOICE_PAIR)")  # fmt: skip
    return 0
