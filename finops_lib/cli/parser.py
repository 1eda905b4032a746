"""The arguments of every ``finops`` command, declared in one place (importing no command module).

Each subcommand sets ``command``: the module of :mod:`finops_lib.cli` whose ``run(args)`` carries it out, imported
only when that command runs (so ``finops --help`` and ``finops ingest`` do not load papermill or Prophet).
"""

from __future__ import annotations

import argparse

from finops_lib import __version__, paths

__all__ = ["build_parser"]

#: Exit code of ``finops anomalies --fail-on-anomalies`` when at least one anomaly is reported.
EXIT_ANOMALIES_FOUND = 3
#: Forecast series dimensions (kept equal to ``finops_lib.forecast.DIMENSIONS`` by a test).
FORECAST_DIMENSIONS: tuple[str, ...] = ("total", "provider", "team", "application", "model")


#: How every data command finds its warehouse (docs/workspace.md).
WAREHOUSE_HELP = ("the workspace's warehouse: a folder (its finops.duckdb) or a .duckdb file; default "
                  "$FINOPS_WAREHOUSE, else data/warehouse/. Config files are read from config/ beside it")


def _engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--warehouse", help=WAREHOUSE_HELP)
    p.add_argument("--engine", help="ibis engine URL (default $FINOPS_ENGINE, else the DuckDB warehouse)")


def _data_options(p: argparse.ArgumentParser, *, currency: bool = True) -> None:
    p.add_argument("--data", help="ingest this folder into the warehouse first (files already ingested are a "
                   "no-op), then read the whole warehouse; its config/ is read after the workspace's. Without it "
                   "the warehouse is read as it is. data/sample without --warehouse is the demo: the sample's own "
                   "warehouse under build/, never yours")  # fmt: skip
    p.add_argument("--warehouse", help=WAREHOUSE_HELP)
    p.add_argument("--engine", help="ibis engine URL (default $FINOPS_ENGINE, else the DuckDB warehouse): "
                   "pyspark:///catalog/dir reads the Spark tables there, sc://host:15002 a Spark Connect server")
    if currency:
        p.add_argument("--currency", default="USD", help="currency of every amount, ISO 4217 (default USD); other "
                       "billing currencies are converted at the charge day's rate")  # fmt: skip


def _sample(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="write the fictional sample organisation's data in vendor formats")
    p.add_argument("--out", required=True, help="target folder")
    p.add_argument("--days", type=int, default=180, help="days of history (default 180)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7, the committed sample)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply request volume (default 1)")
    p.add_argument("--end-date", default="2026-10-31", help="last day, YYYY-MM-DD (default 2026-10-31)")
    p.add_argument("--no-compress", action="store_true", help="write the LiteLLM logs as plain CSV")
    p.set_defaults(command="sample")


#: Exit codes of the commands that read a data folder (README, "Exit codes").
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SKIPPED = 0, 1, 2, 3
EXIT_CODES = ("exit codes: 0 every file loaded (rows may still be rejected: see the rejects table); 1 a file "
              "could not be read at all; 2 wrong arguments; 3 a file was skipped (no format recognises it), "
              "unless --allow-skipped")


def _allow_skipped(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-skipped", action="store_true", help="exit 0 even when files of the folder were "
                   "skipped as unrecognised (they are still listed)")  # fmt: skip
    p.epilog = EXIT_CODES


def _ingest(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="load files or folders into the workspace's warehouse (format detected from "
                       "content); copy each folder's valid config/ files into the workspace's config/")  # fmt: skip
    p.add_argument("paths", nargs="+", help="files or folders")
    p.add_argument("--format", help="force a source format (see `finops formats`)")
    p.add_argument("-v", "--verbose", action="store_true", help="print one line per file")
    p.add_argument("--mapping", action="append", help="YAML column mapping for an in-house CSV/Parquet format "
                   "(repeatable; see finops_lib/sources/mappings/)")  # fmt: skip
    _allow_skipped(p)
    _engine_options(p)
    p.set_defaults(command="ingest")

    p = sub.add_parser("normalize", help="convert files to a Parquet file of the schema, without a warehouse")
    p.add_argument("paths", nargs="+", help="files or folders")
    p.add_argument("--out", required=True, help="target .parquet file (rejects go to <name>.rejects.parquet)")
    p.add_argument("--format", help="force a source format")
    p.add_argument("--table", choices=("costs", "requests"), help="target table (default: the format's own)")
    p.add_argument("--mapping", action="append", help="YAML column mapping for an in-house format (repeatable)")
    p.set_defaults(command="normalize")


def _report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="run every notebook and render the offline HTML report")
    p.add_argument("--data", help="data folder to ingest into the workspace first (data/sample without --warehouse: "
                   "the demo, in its own warehouse); without --data the workspace as ingested, or the demo sample "
                   "when nothing is ingested yet")  # fmt: skip
    p.add_argument("--warehouse", help=WAREHOUSE_HELP)
    p.add_argument("--out", help="report folder, written exactly there (default: a new reports/<YYYYMMDD-HHMMSS>/, "
                   "UTC, with reports/latest pointing at it); a folder holding a report needs --force")  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace the report already in --out (the files its "
                   "report.json lists are removed first; other files stay)")  # fmt: skip
    p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="a notebook parameter shared by every notebook that declares it")  # fmt: skip
    p.add_argument("--with-code", action="store_true", help="show the code cells in the HTML")
    p.add_argument("--jobs", type=int, help="notebooks run at once (default min(2, CPU count)); the index keeps "
                   "the catalog's order")  # fmt: skip
    p.add_argument("--single-file", action="store_true", help="make every page standalone: each inlines the "
                   "stylesheet and the Vega bundle (about 1.2 MB a page) instead of linking the report's assets/, "
                   "so one page can be sent or opened on its own")  # fmt: skip
    _allow_skipped(p)
    p.set_defaults(command="report")

    p = sub.add_parser("export-focus", help="write the warehouse's charges as a FOCUS 1.2 dataset (CSV or Parquet)")
    p.add_argument("--out", required=True, help="target .csv or .parquet file")
    p.add_argument("--raw-csv", action="store_true", help="write CSV text cells as they are: by default a cell "
                   "starting with = + - @ (not a number) gets a leading apostrophe so a spreadsheet shows it as text")
    p.add_argument("--version", dest="focus_version", default="1.2", choices=("1.2",), help="FOCUS version (1.2)")
    p.add_argument("--data", help="ingest this data folder first (into its own warehouse unless --warehouse)")
    p.add_argument("--validate", action="store_true", help="run the FinOps Foundation's focus-validator on the file "
                   "(installed by `make focus-validate`); exit 1 on a failed rule")  # fmt: skip
    p.add_argument("--validator-venv", default=str(paths.BUILD_DIR / "focus-validator-venv"),
                   help="virtual environment holding focus-validator (default build/focus-validator-venv)")
    _engine_options(p)
    p.set_defaults(command="export_focus")


def _chargeback(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chargeback", help="allocate spend with the allocation rules and write the chargeback CSV "
                       "(month, currency, business unit, cost center, team: direct, shared, unallocated, total)")
    _data_options(p)
    p.add_argument("--out", required=True, help="target .csv file")
    p.add_argument("--raw-csv", action="store_true", help="write CSV text cells as they are: by default a cell "
                   "starting with = + - @ (not a number) gets a leading apostrophe so a spreadsheet shows it as text")
    p.add_argument("--rules", default="", help="allocation rules YAML (default: config/allocation_rules.yaml of the "
                   "workspace, else of --data, else tags only; 'none' forces tags only)")  # fmt: skip
    p.add_argument("--start-date", help="first day, YYYY-MM-DD")
    p.add_argument("--end-date", help="last day, YYYY-MM-DD")
    p.add_argument("--only-billed-in-currency", action="store_true",
                   help="allocate only the rows billed in --currency instead of converting the others")
    p.set_defaults(command="chargeback")


def _forecast_by(text: str) -> str:
    """Check ``--by`` of ``finops forecast`` (a combination's names are checked against the facts' dimensions later)."""
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r}: an empty dimension name")
    if len(names) == 1 and names[0] not in FORECAST_DIMENSIONS:
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {', '.join(FORECAST_DIMENSIONS)}, "
                                         "or a comma-separated combination of the facts' dimensions)")
    return ",".join(names)


def _forecast(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("forecast", help="forecast daily spend or tokens per dimension, with backtested accuracy")
    _data_options(p)
    p.add_argument("--by", default="total", type=_forecast_by, metavar="DIMENSION[,DIMENSION...]",
                   help=f"series dimension: {', '.join(FORECAST_DIMENSIONS)} (default total), or a combination of "
                   "the facts' dimensions separated by commas, one series per combination seen "
                   "(e.g. team,model,api_key; rows under their own owner, shared pools not split)")
    p.add_argument("--metric", default="spend", choices=("spend", "tokens"), help="spend (invoiced) or tokens")
    p.add_argument("--horizon", type=int, default=30, help="days to forecast (default 30)")
    p.add_argument("--backtest", action="store_true", help="backtest every model on rolling origins, choose per "
                   "series, and write <stem>.accuracy.<ext>")  # fmt: skip
    p.add_argument("--no-calibrate", dest="calibrate", action="store_false",
                   help="with --backtest: keep the models' own intervals (no calibration on backtest errors)")
    p.add_argument("--model", default="prophet", help="model without --backtest (default prophet)")
    p.add_argument("--country", default="", help="public holidays of this country for Prophet (e.g. US)")
    p.add_argument("--top", type=int, default=0, help="only the N largest series (default all)")
    p.add_argument("--workers", type=int, default=2, help="processes fitting in parallel (default 2)")
    p.add_argument("--events", default="", help="known events CSV (default: config/events.csv of the workspace, "
                   "else of --data; 'none' for no events)")  # fmt: skip
    p.add_argument("--out", required=True, help="target .parquet or .csv file")
    p.add_argument("--raw-csv", action="store_true", help="write CSV text cells as they are: by default a cell "
                   "starting with = + - @ (not a number) gets a leading apostrophe so a spreadsheet shows it as text")
    p.set_defaults(command="forecast")


def _anomalies(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "anomalies", help="detect spikes and drops of spend, tokens and requests and explain their driver",
        description="Detect anomalies in daily (or hourly) cost, token and request series, total and per team, "
        "application, model and API key; explain each one and write the alert list (CSV or JSON). Exit code 3 "
        "with --fail-on-anomalies when at least one anomaly is reported, 2 on a parameter or data error.")
    _data_options(p)
    p.add_argument("--since", help="report anomalies that are still going on at or after this day, YYYY-MM-DD "
                   "(the baseline uses the history before it)")  # fmt: skip
    p.add_argument("--until", help="last day to consider, YYYY-MM-DD (default: the last day of data)")
    p.add_argument("--detector", help="detector name (default robust_seasonal; see finops_lib.anomalies.DETECTORS)")
    p.add_argument("--sensitivity", type=float,
                   help="threshold in robust standard deviations (default 4; lower reports more)")
    p.add_argument("--min-impact", type=float,
                   help="minimum absolute daily impact in money, in the report currency, below which a deviation "
                   "is not reported (default: 0.25%% of the median daily spend, at least 1)")  # fmt: skip
    p.add_argument("--grain", default="day", choices=("day", "hour"), help="series grain (default day)")
    p.add_argument("--no-explain", action="store_true", help="skip the driver explanation (faster)")
    p.add_argument("--out", help="write the alert list to this .csv or .json file")
    p.add_argument("--raw-csv", action="store_true", help="write CSV text cells as they are: by default a cell "
                   "starting with = + - @ (not a number) gets a leading apostrophe so a spreadsheet shows it as text")
    p.add_argument("--fail-on-anomalies", action="store_true",
                   help=f"exit with code {EXIT_ANOMALIES_FOUND} when at least one anomaly is reported")
    p.set_defaults(command="anomalies")


def _workspace(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="what the workspace holds: sources, days covered, rows, rejects by reason, "
                       "files not loaded, unpriced models, last ingest, and the spend")  # fmt: skip
    _data_options(p)
    p.add_argument("--json", action="store_true", help="print the same as JSON")
    p.set_defaults(command="status")

    p = sub.add_parser("config", help="list the workspace's config files (budgets, allocation rules, events) and "
                       "validate each with line-exact errors", epilog="docs/config.md documents every file")
    _data_options(p, currency=False)
    p.add_argument("--check", action="store_true", help="exit 1 when a config file is invalid")
    p.set_defaults(command="config")


def _tools(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("formats", help="list the registered source formats")
    p.set_defaults(command="formats")
    p = sub.add_parser("schema-doc", help="write docs/schema.md from finops_lib/schema.py")
    p.add_argument("--out", default=str(paths.PROJECT_ROOT / "docs" / "schema.md"))
    p.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    p.set_defaults(command="schema_doc")


def _live(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pull", help="pull a vendor's usage and costs from its own API (or the LiteLLM gateway's "
                       "database) into <data>/landing/ and ingest them; incremental: each run goes on from the last "
                       "complete bucket, re-pulling a look-back of late and restated buckets",
                       epilog="exit codes: 0 every endpoint pulled and loaded; 2 the run stopped (key refused, "
                       "network down or the vendor failing after the retries; nothing landed, state unchanged); 3 an "
                       "endpoint is incomplete (page limit, an unreadable page kept in landing/.rejected, a page "
                       "that did not load): the next run goes on")  # fmt: skip
    p.add_argument("vendor", choices=("openai", "anthropic", "litellm"), help="whose API: OpenAI and Anthropic "
                   "Admin APIs (keys OPENAI_ADMIN_KEY, ANTHROPIC_ADMIN_KEY; base URLs OPENAI_BASE_URL, "
                   "ANTHROPIC_BASE_URL), or the LiteLLM gateway's PostgreSQL (LITELLM_DATABASE_URL, read-only)")
    p.add_argument("--data", required=True, help="data folder: raw pages land in <data>/landing/<vendor>/...")
    p.add_argument("--since", help="first day to pull, YYYY-MM-DD (default: 90 days back on the first pull, "
                   "then from the last complete bucket); earlier than the state pulls that history too")
    p.add_argument("--until", help="day to stop before, YYYY-MM-DD (default: now)")
    p.add_argument("--lookback", default="2d", help="re-pull this much before the last complete bucket on every "
                   "run: late and restated buckets (default 2d; e.g. 6h, 3d)")
    p.add_argument("--endpoint", action="append", default=[], help="only this endpoint (repeatable; default all)")
    p.add_argument("--page-limit", type=int, default=1000, help="pages per endpoint per run (default 1000)")
    p.add_argument("--hourly-days", type=int, default=14, help="days pulled in hourly buckets on the first pull "
                   "(older days daily; default 14)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one response (default 30)")
    _engine_options(p)
    p.set_defaults(command="pull")

    p = sub.add_parser("watch", help="pull, ingest, detect on hourly series and budget burn, and notify (Slack, "
                       "Teams, webhook, e-mail) once per incident: opened, grown past the factor, resolved",
                       epilog="exit codes: 0 the cycle ran; 2 a pull stopped or a message reached no channel (it "
                       "is sent again next cycle); 3 a pull is incomplete. See docs/watch.md for cron, systemd and "
                       "CI schedules")  # fmt: skip
    p.add_argument("--config", required=True, help="the watch's YAML file (what to pull, detection, channels)")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--once", action="store_true", help="run one cycle and exit (cron, systemd timer, CI)")
    when.add_argument("--every", help="run a cycle every period (e.g. 15m) until stopped (SIGTERM, Ctrl-C)")
    p.set_defaults(command="watch")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``finops``."""
    parser = argparse.ArgumentParser(prog="finops", description="GenAI FinOps workbench.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="subcommand", required=True)
    for add in (_sample, _ingest, _live, _report, _chargeback, _forecast, _anomalies, _workspace, _tools):
        add(sub)
    return parser
