"""``finops report``: run every notebook of the catalog and render the offline HTML report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from finops_lib.cli.parser import EXIT_FAILED, EXIT_OK, EXIT_SKIPPED
from finops_lib.paths import data_folder
from finops_lib.report import run_report
from finops_lib.warehouse import open_data, skipped_files


def _not_loaded(args: argparse.Namespace, out: Path, parameters: dict[str, str]) -> list[dict]:
    """Files of the folder in no figure: the overview page's own list (no second pass over the files)."""
    overview = out / "00_data_overview" / "results.json"
    if overview.is_file():
        return json.loads(overview.read_text(encoding="utf-8")).get("files_not_loaded", [])
    folder = data_folder(args.data or "", parameters.get("warehouse") or None)
    if not folder:
        return []
    con = open_data(folder, warehouse=parameters.get("warehouse") or None)
    try:
        return skipped_files(folder, con).to_dict("records")
    finally:
        con.disconnect()


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the notebook catalog and render the HTML report; exit 3 when files of the folder were not loaded."""
    parameters = dict(args.parameter or [])
    index = run_report(data_dir=args.data, out_dir=args.out, parameters=parameters, with_code=args.with_code,
                       jobs=args.jobs, single_file=args.single_file, force=args.force,
                       progress=_progress)  # fmt: skip
    print(f"report written to {index}")
    unloaded = _not_loaded(args, index.parent, parameters)
    for row in unloaded:
        print(f"{row['status'].upper()} {row['file']} ({row['bytes']:,} bytes): {row['reason']}", file=sys.stderr)
    if any(row["status"] == "failed" for row in unloaded):
        return EXIT_FAILED
    if unloaded and not args.allow_skipped:
        print("files were skipped: their money is in no page (exit 3; --allow-skipped accepts this)", file=sys.stderr)
        return EXIT_SKIPPED
    return EXIT_OK
