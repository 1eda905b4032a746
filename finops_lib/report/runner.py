"""The notebook catalog and the report: run each notebook with papermill, render offline HTML, index it.

The notebook contract
---------------------
* One cell tagged ``parameters`` (literals only). ``data_dir`` (input folder) and ``output_dir`` (a
  folder of its own under the report) are passed when the notebook declares them; shared report
  parameters are passed only to the notebooks that declare them, converted to the declared type.
* Cells tagged ``widgets`` (ipywidgets) or ``remove`` are left out of the HTML; stderr never shows.
* The notebook may write ``<output_dir>/results.json``; the index shows its ``headline`` (label ->
  value string) and ``date_range`` (``[first_day, last_day]``).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

import papermill

import finops_lib
from finops_lib import offline, paths
from finops_lib.errors import FinopsError, ParameterError
from finops_lib.params import coerce_parameter
from finops_lib.paths import NOTEBOOKS_DIR, REPORTS_DIR
from finops_lib.report import html as htmlexport
from finops_lib.report.spend import period_spend

log = logging.getLogger(__name__)

#: Kernel spec the report runs notebooks with: the interpreter running the report.
KERNEL_NAME = "finops-workbench"
#: Parameters the report sets itself; never taken from the caller.
RESERVED_PARAMETERS = ("data_dir", "output_dir")


@dataclass(frozen=True)
class NotebookEntry:
    """One analysis of the catalog: a notebook answering one question for one audience.

    Parameters
    ----------
    notebook
        File name in ``folder`` (``NN_topic.ipynb``).
    title, question, audience
        Shown in the report index.
    key_parameters
        The parameters that matter most for this analysis (documentation).
    folder
        Where the notebook lives; ``None`` means :data:`finops_lib.paths.NOTEBOOKS_DIR`.
    """

    notebook: str
    title: str
    question: str
    audience: str
    key_parameters: tuple[str, ...] = ()
    folder: Path | None = None

    @property
    def path(self) -> Path:
        """Return the notebook's path."""
        return (self.folder or NOTEBOOKS_DIR) / self.notebook

    @property
    def stem(self) -> str:
        """Return the notebook's name without extension (``00_data_overview``)."""
        return Path(self.notebook).stem


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
)


@dataclass
class NotebookRun:
    """The outcome of one notebook in a report."""

    entry: NotebookEntry
    status: Literal["ok", "failed", "missing"]
    seconds: float = 0.0
    html: Path | None = None
    error: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)


# --- kernel ---------------------------------------------------------------------------------


def ensure_kernel(name: str = KERNEL_NAME) -> str:
    """Return a kernel name that runs notebooks with the current interpreter (``sys.executable``).

    Installs the kernel spec ``name`` into ``sys.prefix`` (the venv) when it is missing or points
    to another interpreter; falls back to ``python3`` when that spec resolves to this interpreter.

    Raises
    ------
    FinopsError
        If no kernel spec can run the current interpreter.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    def runs_here(kernel: str) -> bool:
        try:
            argv = KernelSpecManager().get_kernel_spec(kernel).argv
        except NoSuchKernel:
            return False
        # jupyter_client launches a bare ``python`` as sys.executable
        return bool(argv) and (argv[0] in {"python", "python3"} or Path(argv[0]) == Path(sys.executable))

    if runs_here(name):
        return name
    try:
        from ipykernel.kernelspec import install

        install(kernel_name=name, display_name="Python (finops workbench)", prefix=sys.prefix)
    except OSError as exc:
        log.warning("cannot install kernel spec %r in %s: %s", name, sys.prefix, exc)
    for candidate in (name, "python3"):
        if runs_here(candidate):
            return candidate
    raise FinopsError(f"no Jupyter kernel runs {sys.executable}; run: {sys.executable} -m ipykernel install "
                      f"--sys-prefix --name {name}")  # fmt: skip


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
    entries: Sequence[NotebookEntry], parameters: Mapping[str, Any], *, data_dir: Path | None, out_dir: Path
) -> dict[NotebookEntry, dict[str, Any]]:
    """Return the parameters each notebook gets; every check happens here, before anything runs."""
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
        own = {"data_dir": data_dir or "", "output_dir": out_dir / entry.stem}
        plan[entry] = passed | {key: str(path) for key, path in own.items() if key in names}
    return plan


def _report_kernel_manager(log_file: IO[bytes]) -> type:
    """Return a kernel manager class for report runs.

    The kernel process writes its own log (start-up warnings, crashes) to ``log_file`` instead of the
    terminal; cell output, stderr included, still reaches the notebook. Charts skip their static SVG
    fallback (``FINOPS_STATIC_CHARTS=0``): the report draws them with the inlined Vega bundle.
    """
    from jupyter_client.manager import AsyncKernelManager

    class ReportKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kw.setdefault("stderr", log_file)
            kw["env"] = {**(kw.get("env") or os.environ), offline.STATIC_CHARTS_ENV: "0"}
            await super()._async_launch_kernel(kernel_cmd, **kw)

    return ReportKernelManager


def _run_one(
    entry: NotebookEntry, *, out_dir: Path, passed: dict[str, Any], with_code: bool, kernel: str
) -> NotebookRun:
    from papermill.exceptions import PapermillExecutionError

    output_dir = out_dir / entry.stem
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "results.json").unlink(missing_ok=True)
    executed = out_dir / "notebooks" / entry.notebook
    executed.parent.mkdir(parents=True, exist_ok=True)
    executed.unlink(missing_ok=True)
    error = None
    start = time.perf_counter()
    try:
        with (executed.parent / f"{entry.stem}.kernel.log").open("wb") as kernel_log:
            papermill.execute_notebook(
                str(entry.path),
                str(executed),
                parameters=passed,
                kernel_name=kernel,
                log_output=False,
                progress_bar=False,
                cwd=str(output_dir),
                kernel_manager_class=_report_kernel_manager(kernel_log),
            )
    except PapermillExecutionError as exc:
        error = f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
    except Exception as exc:  # a broken notebook or kernel must not stop the rest of the report
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    html = None
    if executed.is_file():
        try:
            html = htmlexport.export_notebook(executed, out_dir / f"{entry.stem}.html", with_code=with_code,
                                              index_href="index.html", failure=error)  # fmt: skip
        except Exception as exc:  # reported like an execution failure
            error = f"{error + '; ' if error else ''}HTML export: {type(exc).__name__}: {exc}"
    results = _read_results(output_dir / "results.json")
    status: Literal["ok", "failed"] = "failed" if error else "ok"
    return NotebookRun(entry, status, seconds, html, error, passed, results)


def _read_results(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable results: %s", path, exc)
        return {}
    return value if isinstance(value, dict) else {}


def _date_range(runs: Sequence[NotebookRun]) -> str | None:
    """Return the days the notebooks cover, from their results' ``date_range`` (ISO dates)."""
    ranges = [run.results.get("date_range") for run in runs]
    pairs = [[str(day) for day in value] for value in ranges if isinstance(value, list | tuple) and len(value) == 2]
    if not pairs:
        return None
    return f"{min(pair[0] for pair in pairs)} to {max(pair[1] for pair in pairs)}"


def run_report(
    *,
    data_dir: Path | str | None = None,
    out_dir: Path | str | None = None,
    parameters: Mapping[str, Any] | None = None,
    with_code: bool = False,
    notebooks: Iterable[str | Path | NotebookEntry] | None = None,
    kernel_name: str | None = None,
) -> Path:
    """Run the catalog's notebooks with papermill and write an offline HTML report with an index.

    Parameters
    ----------
    data_dir
        Input data folder passed as ``data_dir``; default the committed sample, unless the shared parameters
        name a ``warehouse``: then that warehouse is read alone (no folder, nothing of the sample).
    out_dir
        Report folder; default ``reports/latest/``. It receives ``index.html``, ``NN_name.html``,
        ``notebooks/NN_name.ipynb`` (executed) and ``NN_name/`` (each notebook's ``output_dir``).
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

    Returns
    -------
    Path
        ``out_dir / "index.html"``.

    Raises
    ------
    ParameterError
        Before running anything, on a parameter no notebook declares, a reserved one, an unknown
        notebook or a missing data folder.
    FinopsError
        After writing the whole report, when a notebook failed (listing the failures).
    """
    started, clock = datetime.now(UTC), time.perf_counter()
    shared = dict(parameters or {})
    folder = paths.data_folder(data_dir, shared.get("warehouse"))
    data = Path(folder) if folder else None
    out = Path(out_dir).expanduser().resolve() if out_dir is not None else REPORTS_DIR / "latest"
    if data is not None and not data.is_dir():
        raise ParameterError(f"data folder not found: {data}")
    entries, absent = _select(notebooks)
    plan = _plan(entries, shared, data_dir=data, out_dir=out)
    kernel = kernel_name or ensure_kernel()
    out.mkdir(parents=True, exist_ok=True)
    runs = [
        _run_one(entry, out_dir=out, passed=passed, with_code=with_code, kernel=kernel)
        for entry, passed in plan.items()
    ]
    runs += [NotebookRun(replace(entry), "missing") for entry in absent]
    metadata = {
        "data_dir": str(data) if data else f"none (warehouse {shared['warehouse']} alone)",
        "date_range": _date_range(runs),
        "version": finops_lib.__version__,
        "python": f"{platform.python_version()} ({sys.executable})",
        "kernel": kernel,
        "started": started.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "duration": f"{time.perf_counter() - clock:.1f} s",
        "parameters": shared,
        "with_code": with_code,
        "spend": period_spend(data, shared),
    }
    index = htmlexport.write_index(out / "index.html", runs=runs, metadata=metadata)
    failed = [run for run in runs if run.status == "failed"]
    if failed:
        listing = "; ".join(f"{run.entry.notebook}: {run.error}" for run in failed)
        raise FinopsError(f"{len(failed)} notebook(s) failed, see {index}: {listing}")
    return index
