"""``finops report``: run every notebook of the catalog and render the offline HTML report."""

from __future__ import annotations

import argparse
import sys

from finops_lib.cli.parser import EXIT_FAILED, EXIT_OK, EXIT_SKIPPED
from finops_lib.paths import data_folder
from finops_lib.report import run_report
from finops_lib.warehouse import open_data, skipped_files


def run(args: argparse.Namespace) -> int:
    """Run the notebook catalog and render the HTML report; exit 3 when files of the folder were not loaded."""
    parameters = dict(args.parameter or [])
    index = run_report(data_dir=args.data, out_dir=args.out, parameters=parameters, with_code=args.with_code)
    print(f"report written to {index}")
    folder = data_folder(args.data or "", parameters.get("warehouse") or None)
    if not folder:
        return EXIT_OK
    con = open_data(folder, warehouse=parameters.get("warehouse") or None)
    try:
        unloaded = skipped_files(folder, con)
    finally:
        con.disconnect()
    for row in unloaded.itertuples():
        print(f"{row.status.upper()} {row.file} ({row.bytes:,} bytes): {row.reason}", file=sys.stderr)
    if (unloaded.status == "failed").any():
        return EXIT_FAILED
    if len(unloaded) and not args.allow_skipped:
        print("files were skipped: their money is in no page (exit 3; --allow-skipped accepts this)", file=sys.stderr)
        return EXIT_SKIPPED
    return EXIT_OK
