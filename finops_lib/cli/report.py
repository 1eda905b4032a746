"""``finops report``: run every notebook of the catalog and render the offline HTML report."""

from __future__ import annotations

import argparse

from finops_lib.report import run_report


def run(args: argparse.Namespace) -> int:
    """Run the notebook catalog and render the HTML report."""
    index = run_report(data_dir=args.data, out_dir=args.out, parameters=dict(args.parameter or []),
                       with_code=args.with_code)  # fmt: skip
    print(f"report written to {index}")
    return 0
