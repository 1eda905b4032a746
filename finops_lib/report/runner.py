"""The notebook catalog and the report: run each notebook with papermill, render offline HTML, index it.

The notebook contract
---------------------
* One cell tagged ``parameters`` (literals only). ``data_dir`` (input folder) and ``output_dir`` (a
  folder of its own under the report) are passed when the notebook declares them; shared report
  parameters are passed only to the notebooks that declare them, converted to the declared type.
* Cells tagged ``widgets`` (ipywidgets) or ``remove`` are left out of the HTML; stderr never shows.
* The notebook may write ``<output_dir>/results.json``; the index shows its ``headline`` (label ->
  value string) and ``date_range`` (``[first_day, last_day]``).
* A notebook declaring ``warehouse`` opens the warehouse: the report ingests the data folder once before any
  notebook runs, and the kernels open a snapshot of it read-only (``FINOPS_ENGINE``; the snapshot is the report
  process's, in the scratch folder: :func:`finops_lib.engine.reader`), so several notebooks read it at once and the
  warehouse itself stays free for a scheduled ingest (docs/reliability.md).
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import papermill

import finops_lib
from finops_lib import paths
from finops_lib.errors import FinopsError, ParameterError
from finops_lib.params import coerce_parameter
from finops_lib.paths import REPORTS_DIR
from finops_lib.report import folders
from finops_lib.report import html as htmlexport
from finops_lib.report.execute import (
    KERNEL_NAME,
    NotebookEntry,
    NotebookRun,
    Progress,
    ensure_kernel,
    run_notebooks,
)
from finops_lib.report.spend import period_spend
from finops_lib.warehouse import open_data

__all__ = ["CATALOG", "KERNEL_NAME", "NotebookEntry", "NotebookRun", "coerce_parameter", "ensure_kernel",
           "run_report"]  # fmt: skip

log = logging.getLogger(__name__)

#: Parameters the report sets itself; never taken from the caller.
RESERVED_PARAMETERS = ("data_dir", "output_dir")
#: The environment variable naming the engine (see :mod:`finops_lib.engine`); the report sets it in the kernels.
ENGINE_ENV = "FINOPS_ENGINE"


def default_jobs() -> int:
    """Return how many notebooks a report runs at once by default: ``min(2, cpu count)``."""
    return max(1, min(2, os.cpu_count() or 1))


#: The analyses of the workbench, one question each, in report order.
CATALOG: tuple[NotebookEntry, ...] = (
    NotebookEntry(
        notebook="00_data_overview.ipynb",
        title="Data overview",
        question="Which sources are loaded, what do they cover, and where is the money going?",
        audience="FinOps analyst",
        key_parameters=("start_date", "end_date", "provider", "group_by", "currency"),
    ),
    NotebookEntry(
        notebook="10_cost_attribution.ipynb",
        title="Cost attribution",
        question="Which business unit, team, application and feature spent what, shared and untagged cost "
        "included, and what does a token, a request and an active user cost?",
        audience="FinOps analyst, finance, team leads",
        key_parameters=("rules_file", "dimension", "split_strategy", "start_date", "end_date", "currency"),
    ),
    NotebookEntry(
        notebook="20_experiment_comparison.ipynb",
        title="Experiment comparison",
        question="What does each variant of an experiment cost per request and per quality point, is the "
        "difference real, what would it cost at production volume, and what did a prompt change do to tokens and "
        "cost?",
        audience="Product managers, ML and platform engineers, FinOps analyst",
        key_parameters=("experiment", "baseline", "metric", "requests_per_day", "cache_hit_rate", "batch_share",
                        "price_date", "change_date"),
    ),
    NotebookEntry(
        notebook="30_spend_forecast.ipynb",
        title="Spend forecast",
        question="What will each team spend over the next 30 days, how accurate have such forecasts been "
        "(backtested against baselines, FinOps bands), and which budgets will be exceeded this month, with what "
        "probability and from which day?",
        audience="FinOps analyst, finance, team leads",
        key_parameters=("dimension", "horizon_days", "model", "as_of", "budget_file", "currency"),
    ),
    NotebookEntry(
        notebook="40_anomaly_review.ipynb",
        title="Anomaly review",
        question="Did spend, tokens or requests spike or drop anywhere beyond the usual weekly pattern, and what "
        "drove each change (team, application, model, key, token bucket; volume, tokens per request, price or mix)?",
        audience="FinOps analyst, engineering leads, owners of AI applications",
        key_parameters=("detector", "sensitivity", "min_impact", "dimension", "metric", "start_date", "end_date",
                        "anomaly_index", "currency"),
    ),
    NotebookEntry(
        notebook="50_reconciliation.ipynb",
        title="Reconciliation",
        question="How far is the cost estimated from request logs from the invoices, and why: unseen traffic "
        "(volume), prices (rate), cache or tier semantics, unpriced models or unmatched lines?",
        audience="FinOps analyst, finance",
        key_parameters=("provider", "start_date", "end_date", "granularity", "gateway_accounts", "currency"),
    ),
    NotebookEntry(
        notebook="60_feature_cost.ipynb",
        title="Feature cost",
        question="What does each AI feature cost in total, every service it runs on included (model tokens, "
        "embeddings, vector database, compute, storage, observability, seats), per request and per active user, "
        "and what does a self-hosted model cost per token against the API it replaces?",
        audience="Product managers, platform engineers, FinOps analyst",
        key_parameters=("feature", "application", "feature_map", "start_date", "end_date", "currency"),
    ),
)



# --- running --------------------------------------------------------------------------------


def _select(
    notebooks: Iterable[str | Path | NotebookEntry] | None,
) -> tuple[list[NotebookEntry], list[NotebookEntry]]:
    """Return (entries to run, catalog entries without a notebook file yet)."""
    if notebooks is None:
        present = [entry for entry in CATALOG if entry.path.is_file()]
        return present, [entry for entry in CATALOG if not entry.path.is_file()]
    by_name = {key: entry for entry in CATALOG for key in (entry.notebook, entry.stem)}
    chosen = []
    for item in notebooks:
        if isinstance(item, NotebookEntry):
            chosen.append(item)
        elif isinstance(item, str) and item in by_name:
            chosen.append(by_name[item])
        elif Path(item).is_file():
            path = Path(item).resolve()
            chosen.append(NotebookEntry(path.name, title=path.stem.replace("_", " ").capitalize(), question="",
                                        audience="", folder=path.parent))  # fmt: skip
        else:
            raise ParameterError(f"unknown notebook {item!r}; the catalog has {sorted(by_name)}")
    missing = [entry for entry in chosen if not entry.path.is_file()]
    if missing:
        raise ParameterError(f"notebook file(s) not found: {[str(entry.path) for entry in missing]}")
    return chosen, []


def _plan(
    entries: Sequence[NotebookEntry], parameters: Mapping[str, Any]
) -> dict[NotebookEntry, tuple[dict[str, Any], set[str]]]:
    """Return each notebook's shared parameters (converted) and declared names; every check happens here."""
    reserved = sorted(set(parameters) & set(RESERVED_PARAMETERS))
    if reserved:
        raise ParameterError(f"parameter(s) {reserved} are set by the report; use data_dir=/out_dir= (--data/--out)")
    declared = {}
    for entry in entries:
        try:
            declared[entry] = dict(papermill.inspect_notebook(str(entry.path)))
        except Exception as exc:  # papermill raises several unrelated types on unreadable notebooks
            raise FinopsError(f"{entry.path}: cannot read the parameters: {exc}") from exc
    unknown = sorted(set(parameters) - {name for names in declared.values() for name in names})
    if unknown:
        listing = "; ".join(f"{entry.notebook}: {', '.join(names) or '-'}" for entry, names in declared.items())
        raise ParameterError(f"parameter(s) {unknown} are declared by no notebook of the report ({listing})")
    plan = {}
    for entry, names in declared.items():
        passed = {
            name: coerce_parameter(value, type_name=str(names[name].get("inferred_type_name", "None")),
                                   default=str(names[name].get("default", "None")), name=name)
            for name, value in parameters.items() if name in names
        }  # fmt: skip
        plan[entry] = (passed, set(names))
    return plan



def _date_range(runs: Sequence[NotebookRun]) -> str | None:
    """Return the days the notebooks cover, from their results' ``date_range`` (ISO dates)."""
    ranges = [run.results.get("date_range") for run in runs]
    pairs = [[str(day) for day in value] for value in ranges if isinstance(value, list | tuple) and len(value) == 2]
    if not pairs:
        return None
    return f"{min(pair[0] for pair in pairs)} to {max(pair[1] for pair in pairs)}"



def _own(entry: NotebookEntry, names: Iterable[str], *, data_dir: Path | None, out_dir: Path) -> dict[str, str]:
    """Return the parameters the report sets for a notebook that declares them: ``data_dir`` and ``output_dir``."""
    own = {"data_dir": data_dir or "", "output_dir": out_dir / entry.stem}
    return {key: str(path) for key, path in own.items() if key in names}


def _read_only_warehouse(data: Path | None, warehouse: str | None, say: Progress) -> dict[str, str] | None:
    """Ingest the data folder once; return the kernels' environment that opens a snapshot of it read-only.

    None when the notebooks must open the data themselves, one at a time: ``FINOPS_ENGINE`` already names an
    engine, the ingest failed (each page then shows the failure), or the file's path cannot be written as a URL.
    """
    if os.environ.get(ENGINE_ENV):
        say(f"ingest: {ENGINE_ENV} names the engine; each notebook opens it itself, one at a time")
        return None
    start = time.perf_counter()
    try:
        con = open_data(data, warehouse=warehouse or None)
        try:
            databases = con.table("duckdb_databases").to_pandas()
            current = con.current_catalog
        finally:
            con.disconnect()
    except Exception as exc:  # the notebooks meet the same failure, and each page shows it
        say(f"ingest {data or warehouse} ... failed: {type(exc).__name__}: {exc}; each notebook opens the data "
            "itself, one at a time")  # fmt: skip
        return None
    file = next(iter(databases.loc[databases["database_name"] == current, "path"]), None)
    say(f"ingest {data or warehouse} ... ok {time.perf_counter() - start:.1f} s ({file})")
    if not file or any(char in str(file) for char in "?#%"):
        say("the warehouse path cannot be passed as a URL; each notebook opens it itself, one at a time")
        return None
    return {ENGINE_ENV: f"duckdb:///{Path(file).resolve()}?read_only=true"}


def _report_folder(out_dir: Path | str | None, *, force: bool, say: Progress) -> tuple[Path, bool]:
    """Return (the report folder, whether it is a new timestamped run under ``reports/``)."""
    if out_dir is None:
        return folders.new_run_folder(REPORTS_DIR), True
    out = Path(out_dir).expanduser().resolve()
    replaced = folders.claim(out, force=force)
    if replaced:
        say(f"replacing {replaced} in {out}")
    return out, False


def _last_seconds() -> dict[str, float]:
    """Seconds each notebook took in the newest report under ``reports/`` (its manifest), to start the slowest first."""
    newest = folders.latest(REPORTS_DIR)
    earlier = folders.previous_report(newest) if newest is not None and newest.is_dir() else None
    pages = (earlier or {}).get("pages", [])
    return {page["notebook"]: float(page["seconds"]) for page in pages if isinstance(page.get("seconds"), int | float)}


def _manifest(out: Path, runs: Sequence[NotebookRun], metadata: Mapping[str, Any]) -> dict[str, Any]:
    names = ["index.html", htmlexport.ASSETS_DIR]
    for run in runs:
        if run.status != "missing":
            stem = run.entry.stem
            names += [f"{stem}.html", stem, f"notebooks/{run.entry.notebook}", f"notebooks/{stem}.kernel.log"]
    pages = [{"notebook": run.entry.notebook, "status": run.status, "seconds": round(run.seconds, 2),
              "export_seconds": round(run.export_seconds, 2), "html": run.html.name if run.html else None,
              "error": run.error} for run in runs]  # fmt: skip
    return {**metadata, "pages": pages, "files": folders.written_files(out, names),
            "folders": [name for name in names if (out / name).is_dir()] + ["notebooks"]}  # fmt: skip


def run_report(
    *,
    data_dir: Path | str | None = None,
    out_dir: Path | str | None = None,
    parameters: Mapping[str, Any] | None = None,
    with_code: bool = False,
    notebooks: Iterable[str | Path | NotebookEntry] | None = None,
    kernel_name: str | None = None,
    jobs: int | None = None,
    single_file: bool = False,
    force: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Run the catalog's notebooks with papermill and write an offline HTML report with an index.

    Parameters
    ----------
    data_dir
        Input data folder passed as ``data_dir``; default the committed sample, unless the shared parameters
        name a ``warehouse``: then that warehouse is read alone (no folder, nothing of the sample).
    out_dir
        Report folder. Default: a new ``reports/<YYYYMMDD-HHMMSS>/`` (UTC) and ``reports/latest`` pointed at it
        (a symlink, or the text file ``reports/LATEST`` where symlinks fail). It receives ``index.html``,
        ``NN_name.html``, ``assets/`` (the stylesheet and Vega bundle the pages share), ``notebooks/NN_name.ipynb``
        (executed), ``NN_name/`` (each notebook's ``output_dir``) and ``report.json`` (the manifest).
    parameters
        Shared parameters, e.g. ``{"currency": "EUR"}``; strings are converted to each notebook's
        declared type and a notebook only receives those it declares.
    with_code
        Show code cells in the HTML.
    notebooks
        Catalog names (``"00_data_overview"``), notebook paths or entries; default: every catalog
        entry whose notebook file exists.
    kernel_name
        Jupyter kernel; default :func:`ensure_kernel`.
    jobs
        Notebooks run at once; default :func:`default_jobs`. The index keeps the catalog's order. Runs one at a
        time when the notebooks cannot share the warehouse read-only (see the module docstring).
    single_file
        Each page inlines the stylesheet and the Vega bundle (about 1.2 MB a page) and stands alone; default: the
        pages link ``assets/`` of the report folder.
    force
        Replace an earlier report in ``out_dir`` (the files its manifest lists are removed first).
    progress
        Receives one line per step (ingest, each notebook started and done, the index, the ``latest`` link);
        default: logged at INFO.

    Returns
    -------
    Path
        ``out_dir / "index.html"``.

    Raises
    ------
    ParameterError
        Before running anything, on a parameter no notebook declares, a reserved one, an unknown
        notebook, a missing data folder, ``jobs`` below 1, or ``out_dir`` holding a report without ``force``.
    FinopsError
        After writing the whole report, when a notebook failed (listing the failures).
    """
    started, clock = datetime.now(UTC), time.perf_counter()
    say = progress or (lambda line: log.info("%s", line))
    shared = dict(parameters or {})
    folder = paths.data_folder(data_dir, shared.get("warehouse"))
    data = Path(folder) if folder else None
    if data is not None and not data.is_dir():
        raise ParameterError(f"data folder not found: {data}")
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise ParameterError(f"jobs must be at least 1, not {jobs}")
    entries, absent = _select(notebooks)
    checked = _plan(entries, shared)
    kernel = kernel_name or ensure_kernel()
    out, timestamped = _report_folder(out_dir, force=force, say=say)
    plan = {entry: passed | _own(entry, names, data_dir=data, out_dir=out)
            for entry, (passed, names) in checked.items()}  # fmt: skip
    env: dict[str, str] | None = {}
    if any("warehouse" in names for _, names in checked.values()):
        env = _read_only_warehouse(data, shared.get("warehouse"), say)
    jobs = jobs if env is not None else 1
    say(f"running {len(plan)} notebook(s), {min(jobs, len(plan) or 1)} at a time, into {out}")
    assets = None if single_file else htmlexport.write_assets(out).name
    runs = run_notebooks(plan, jobs=jobs, progress=say, expected=_last_seconds(), out_dir=out, with_code=with_code,
                         kernel=kernel, assets_href=assets, env=env or {})  # fmt: skip
    runs += [NotebookRun(replace(entry), "missing") for entry in absent]
    metadata = {
        "data_dir": paths.shown(data) if data else f"none (warehouse {paths.shown(shared['warehouse'])} alone)",
        "demo": paths.is_sample(data),  # the fictional sample: the index says so above everything else
        "date_range": _date_range(runs),
        "version": finops_lib.__version__,
        "python": platform.python_version(),
        "kernel": kernel,
        "started": started.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "duration": f"{time.perf_counter() - clock:.1f} s",
        "parameters": shared,
        "with_code": with_code,
        "jobs": min(jobs, len(plan) or 1),
        "layout": "standalone pages" if single_file else f"pages sharing {htmlexport.ASSETS_DIR}/",
        "spend": period_spend(data, shared),
    }
    index = htmlexport.write_index(out / "index.html", runs=runs, metadata=metadata)
    folders.write_manifest(out, _manifest(out, runs, {**metadata, "seconds": round(time.perf_counter() - clock, 2)}))
    say(f"index ... {index}")
    if timestamped:
        say(folders.point_latest(REPORTS_DIR, out))
    failed = [run for run in runs if run.status == "failed"]
    if failed:
        listing = "; ".join(f"{run.entry.notebook}: {run.error}" for run in failed)
        raise FinopsError(f"{len(failed)} notebook(s) failed, see {index}: {listing}")
    return index
