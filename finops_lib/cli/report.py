"""``finops report``: run every notebook of the catalog and render the offline HTML report."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from finops_lib import paths
from finops_lib.cli.common import NothingIngested, Workspace, open_workspace, resolve_workspace
from finops_lib.cli.parser import EXIT_FAILED, EXIT_OK, EXIT_SKIPPED
from finops_lib.paths import data_folder
from finops_lib.report import run_report
from finops_lib.warehouse import open_data, skipped_files

#: Config files of the workspace passed to the notebooks declaring the parameter, unless ``-p`` sets it.
CONFIG_PARAMETERS = {"rules_file": "allocation_rules.yaml", "budget_file": "budgets.csv", "events_file": "events.csv"}


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


def _workspace(args: argparse.Namespace, parameters: dict[str, str]) -> str | None:
    """Choose what the report reads, as every data command does (``--warehouse``, ``$FINOPS_WAREHOUSE``, default).

    ``--data`` is ingested into the workspace first (the committed sample without ``--warehouse`` stays the demo
    in its own warehouse); without ``--data`` the workspace is reported as ingested, or, when nothing is ingested
    yet in the default workspace, the demo sample (said on stderr). A workspace named by ``--warehouse`` or
    ``$FINOPS_WAREHOUSE``, or an engine named by ``$FINOPS_ENGINE``, that holds nothing is an error (exit 2): a
    scheduled report never shows fictional money.
    Sets ``parameters["warehouse"]`` and the workspace's config files; returns the
    data folder the notebooks get (None: the warehouse alone).
    """
    if parameters.get("warehouse") and not args.warehouse:  # the older spelling: -p warehouse FILE
        args.warehouse = parameters["warehouse"]
    ws: Workspace = resolve_workspace(args)
    if ws.demo:
        return ws.data
    try:
        con, ws = open_workspace(args, quiet=True)
    except NothingIngested:
        if args.warehouse or os.environ.get("FINOPS_WAREHOUSE") or ws.engine_url or os.environ.get("FINOPS_ENGINE"):
            # a workspace or engine someone named (a scheduled report, a Spark catalog) never gets the fictional
            # sample's figures instead
            raise
        print(f"nothing ingested in {ws.warehouse}: showing the demo sample (finops ingest <folder> loads your "
              "exports into the workspace)", file=sys.stderr)  # fmt: skip
        return str(paths.SAMPLE_DIR)
    con.disconnect()
    parameters["warehouse"] = str(ws.warehouse)
    for name, file in CONFIG_PARAMETERS.items():
        found = ws.config_file(file)
        if found is not None and name not in parameters:
            parameters[name] = str(found)
    return ws.data


def run(args: argparse.Namespace) -> int:
    """Run the notebook catalog and render the HTML report; exit 3 when files of the folder were not loaded."""
    parameters = dict(args.parameter or [])
    data = _workspace(args, parameters)
    index = run_report(data_dir=data, out_dir=args.out, parameters=parameters, with_code=args.with_code,
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
