"""The ``finops`` command line.

``finops sample``, ``finops ingest``, ``finops normalize``, ``finops report``, ``finops export-focus``,
``finops chargeback``, ``finops formats`` and ``finops schema-doc``. Errors of the workbench print one
clear line and exit 2; anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from finops_lib import __version__, paths
from finops_lib.errors import FinopsError

#: Modules that add their own subcommands: each has ``register(subparsers)`` that calls ``add_parser`` and
#: ``set_defaults(func=...)``; the function returns the exit code.
COMMAND_MODULES: tuple[str, ...] = ("finops_lib.cli.forecast", "finops_lib.cli.anomalies")


def _print_frame(frame: pd.DataFrame) -> None:
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.max_colwidth", 70):
        print(frame.to_string(index=False))


def cmd_sample(args: argparse.Namespace) -> int:
    """Write the sample organisation."""
    from finops_lib.sample import generate

    manifest = generate(args.out, days=args.days, seed=args.seed, scale=args.scale, end_date=args.end_date,
                        compress_gateway_logs=not args.no_compress)
    files = manifest.get("files", [])
    print(f"wrote {len(files)} files to {args.out} "
          f"({manifest['date_range']['start']} to {manifest['date_range']['end']}, seed {args.seed}, "
          f"scale {args.scale})")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """Load files into the warehouse and print what happened to each."""
    from finops_lib import engine
    from finops_lib.warehouse.ingestion import ingest, summarize

    _register_mappings(args.mapping)
    con = engine.connect(args.engine, warehouse=args.warehouse)
    try:
        summary = ingest(args.paths, con=con, format=args.format)
    finally:
        con.disconnect()
    if summary.empty:
        print("no files found")
        return 0
    if args.verbose:
        _print_frame(summary[["path", "format", "status", "rows_read", "rows_loaded", "rows_rejected",
                              "rows_replaced"]])
        print()
    _print_frame(summarize(summary))
    total = summary[["rows_read", "rows_loaded", "rows_rejected", "rows_replaced"]].sum()
    print(f"\n{len(summary)} files: {int(total.rows_read)} rows read, {int(total.rows_loaded)} loaded, "
          f"{int(total.rows_rejected)} rejected; {int(total.rows_replaced)} rows already in the warehouse "
          "replaced by restated data")
    if total.rows_rejected:
        print("rejected records (file, line, column, reason): query the `rejects` table, or see the "
              "data overview report")
    for row in summary[summary.status == "failed"].itertuples():
        print(f"FAILED {row.path}: {row.message}", file=sys.stderr)
    return 1 if (summary.status == "failed").any() else 0


def _register_mappings(files: list[str] | None) -> None:
    """Register user column mappings (``--mapping``) as source formats."""
    if files:
        from finops_lib.sources.mapped import register_mapping

        for file in files:
            print(f"mapping {file}: format {register_mapping(file)}")


def cmd_normalize(args: argparse.Namespace) -> int:
    """Convert files to Parquet without a warehouse."""
    from finops_lib.warehouse.ingestion import normalize

    _register_mappings(args.mapping)
    info = normalize(args.paths, args.out, format=args.format, table=args.table)
    print(f"{info['records_read']} records read: {info['rows']} {info['table']} rows written to {args.out}; "
          f"{info['records_rejected']} rejected to {info['rejects']}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Run the notebook catalog and render the HTML report."""
    from finops_lib.report.runner import run_report

    parameters = dict(args.parameter or [])
    index = run_report(data_dir=args.data, out_dir=args.out, parameters=parameters, with_code=args.with_code)
    print(f"report written to {index}")
    return 0


def cmd_export_focus(args: argparse.Namespace) -> int:
    """Write the warehouse's charges as a FOCUS dataset; optionally run the FinOps Foundation validator."""
    from finops_lib import engine
    from finops_lib.warehouse.focus_export import export_focus, run_validator

    if args.data:
        from finops_lib.warehouse.ingestion import open_data

        con = open_data(args.data, warehouse=args.warehouse)
    else:
        con = engine.connect(args.engine, warehouse=args.warehouse)
    try:
        if "costs" not in con.list_tables():
            print("finops: error: the warehouse holds no costs table: run `finops ingest` first (or pass --data)",
                  file=sys.stderr)
            return 2
        info = export_focus(con, args.out, version=args.focus_version)
    finally:
        con.disconnect()
    print(f"wrote {info['rows']} FOCUS {info['version']} charge rows to {info['path']}; {info['left_out']} "
          "estimated/unpriced usage rows left out (not charges)")
    if info["without_quantity"]:
        print(f"warning: {info['without_quantity']} usage charges have no known quantity (PricingQuantity null)",
              file=sys.stderr)
    if not args.validate:
        return 0
    failures, report = run_validator(info["path"], venv=args.validator_venv, version=args.focus_version)
    totals = next((line for line in report.splitlines() if line.startswith("Total:")), "")
    if failures:
        print(report, file=sys.stderr)
        print(f"focus-validator ({totals}): {len(failures)} failed rule(s): {', '.join(failures)}", file=sys.stderr)
        return 1
    print(f"focus-validator ({totals}): no failed rule besides the InvoiceId nullability pair that its 1.2 model "
          "cannot evaluate (see finops_lib.warehouse.focus_export.INVOICE_PAIR)")
    return 0


def cmd_chargeback(args: argparse.Namespace) -> int:
    """Allocate the data folder's cost with its rules and write the chargeback CSV for finance."""
    from finops_lib.allocation import write_chargeback_csv
    from finops_lib.warehouse.ingestion import open_data

    con = open_data(args.data, warehouse=args.warehouse)
    try:
        path = write_chargeback_csv(con, args.out, rules_file=args.rules, data_dir=args.data,
                                    start_date=args.start_date, end_date=args.end_date)
    finally:
        con.disconnect()
    print(f"chargeback written to {path}")
    return 0


def cmd_formats(args: argparse.Namespace) -> int:
    """List the registered source formats."""
    from finops_lib.sources import SOURCES

    _print_frame(pd.DataFrame([{"format": s.name, "table": s.table, "description": s.description}
                               for s in SOURCES.values()]))
    return 0


def cmd_schema_doc(args: argparse.Namespace) -> int:
    """Write docs/schema.md from the declaration (or check it is current)."""
    from finops_lib.schema import render_markdown

    target = Path(args.out)
    text = render_markdown()
    if args.check:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            print(f"{target} is stale: run `finops schema-doc`", file=sys.stderr)
            return 1
        print(f"{target} is current")
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``finops``."""
    parser = argparse.ArgumentParser(prog="finops", description="GenAI FinOps workbench.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sample", help="write the fictional sample organisation's data in vendor formats")
    p.add_argument("--out", required=True, help="target folder")
    p.add_argument("--days", type=int, default=180, help="days of history (default 180)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7, the committed sample)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply request volume (default 1)")
    p.add_argument("--end-date", default="2026-10-31", help="last day, YYYY-MM-DD (default 2026-10-31)")
    p.add_argument("--no-compress", action="store_true", help="write the LiteLLM logs as plain CSV")
    p.set_defaults(func=cmd_sample)

    def engine_options(q: argparse.ArgumentParser) -> None:
        q.add_argument("--warehouse", help="warehouse folder or .duckdb file (default $FINOPS_WAREHOUSE or "
                       "data/warehouse/)")
        q.add_argument("--engine", help="ibis engine URL (default $FINOPS_ENGINE, else the DuckDB warehouse)")

    p = sub.add_parser("ingest", help="load files or folders into the warehouse (format detected from content)")
    p.add_argument("paths", nargs="+", help="files or folders")
    p.add_argument("--format", help="force a source format (see `finops formats`)")
    p.add_argument("-v", "--verbose", action="store_true", help="print one line per file")
    p.add_argument("--mapping", action="append", help="YAML column mapping for an in-house CSV/Parquet format "
                   "(repeatable; see finops_lib/sources/mappings/)")
    engine_options(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("normalize", help="convert files to a Parquet file of the schema, without a warehouse")
    p.add_argument("paths", nargs="+", help="files or folders")
    p.add_argument("--out", required=True, help="target .parquet file (rejects go to <name>.rejects.parquet)")
    p.add_argument("--format", help="force a source format")
    p.add_argument("--table", choices=("costs", "requests"), help="target table (default: the format's own)")
    p.add_argument("--mapping", action="append", help="YAML column mapping for an in-house format (repeatable)")
    p.set_defaults(func=cmd_normalize)

    p = sub.add_parser("report", help="run every notebook and render the offline HTML report")
    p.add_argument("--data", default=str(paths.SAMPLE_DIR), help="data folder (default data/sample/)")
    p.add_argument("--out", default=str(paths.REPORTS_DIR / "latest"), help="output folder "
                   "(default reports/latest/)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="a notebook parameter shared by every notebook that declares it")
    p.add_argument("--with-code", action="store_true", help="show the code cells in the HTML")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("export-focus", help="write the warehouse's charges as a FOCUS 1.2 dataset (CSV or Parquet)")
    p.add_argument("--out", required=True, help="target .csv or .parquet file")
    p.add_argument("--version", dest="focus_version", default="1.2", choices=("1.2",), help="FOCUS version (1.2)")
    p.add_argument("--data", help="ingest this data folder first (into its own warehouse unless --warehouse)")
    p.add_argument("--validate", action="store_true", help="run the FinOps Foundation's focus-validator on the file "
                   "(installed by `make focus-validate`); exit 1 on a failed rule")
    p.add_argument("--validator-venv", default=str(paths.BUILD_DIR / "focus-validator-venv"),
                   help="virtual environment holding focus-validator (default build/focus-validator-venv)")
    engine_options(p)
    p.set_defaults(func=cmd_export_focus)

    p = sub.add_parser("chargeback", help="allocate cost with the allocation rules and write the chargeback CSV "
                       "(month, currency, business unit, cost center, team: direct, shared, unallocated, total)")
    p.add_argument("--data", default=str(paths.SAMPLE_DIR), help="data folder (default data/sample/)")
    p.add_argument("--out", required=True, help="target .csv file")
    p.add_argument("--rules", default="", help="allocation rules YAML (default: <data>/config/allocation_rules.yaml "
                   "when present, else tags only; 'none' forces tags only)")
    p.add_argument("--start-date", help="first day, YYYY-MM-DD")
    p.add_argument("--end-date", help="last day, YYYY-MM-DD")
    p.add_argument("--warehouse", help="warehouse file (default: one per data folder under build/)")
    p.set_defaults(func=cmd_chargeback)

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)

    p = sub.add_parser("formats", help="list the registered source formats")
    p.set_defaults(func=cmd_formats)

    p = sub.add_parser("schema-doc", help="write docs/schema.md from finops_lib/schema.py")
    p.add_argument("--out", default=str(paths.PROJECT_ROOT / "docs" / "schema.md"))
    p.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    p.set_defaults(func=cmd_schema_doc)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except FinopsError as exc:
        print(f"finops: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
