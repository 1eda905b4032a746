"""Run notebooks with papermill and export each as a page, up to N at a time, saying what happens on the way.

Each notebook runs in its own kernel (the interpreter running the report), writes its executed copy to
``<report>/notebooks/`` and its page to ``<report>/<stem>.html``. Several notebooks run at once in threads (the
work happens in the kernels, one process each); their outcomes come back in the order they were given.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import papermill

from finops_lib import offline, paths
from finops_lib.errors import FinopsError
from finops_lib.paths import NOTEBOOKS_DIR, PROJECT_ROOT
from finops_lib.report import html as htmlexport
from finops_lib.share import atomic_write

log = logging.getLogger(__name__)

#: Kernel spec the report runs notebooks with: the interpreter running the report.
KERNEL_NAME = "finops-workbench"

#: Receives one line of progress at a time (``finops report`` prints them on stderr).
Progress = Callable[[str], None]


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


@dataclass
class NotebookRun:
    """The outcome of one notebook in a report (``seconds``: papermill; ``export_seconds``: its HTML page)."""

    entry: NotebookEntry
    status: Literal["ok", "failed", "missing"]
    seconds: float = 0.0
    html: Path | None = None
    error: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    export_seconds: float = 0.0


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


def _report_kernel_manager(log_file: IO[bytes], env: Mapping[str, str]) -> type:
    """Return a kernel manager class for report runs.

    The kernel process writes its own log (start-up warnings, crashes) to ``log_file`` instead of the
    terminal; cell output, stderr included, still reaches the notebook. Charts skip their static SVG
    fallback (``FINOPS_STATIC_CHARTS=0``): the report draws them with the Vega bundle. ``env`` is added to
    the kernel's environment (the report's read-only warehouse).
    """
    from jupyter_client.manager import AsyncKernelManager

    class ReportKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kw.setdefault("stderr", log_file)
            kw["env"] = {**(kw.get("env") or os.environ), offline.STATIC_CHARTS_ENV: "0", **env}
            await super()._async_launch_kernel(kernel_cmd, **kw)

    return ReportKernelManager


# --- one notebook ---------------------------------------------------------------------------


def run_notebook(
    entry: NotebookEntry,
    *,
    out_dir: Path,
    passed: dict[str, Any],
    with_code: bool,
    kernel: str,
    assets_href: str | None = None,
    env: Mapping[str, str] | None = None,
) -> NotebookRun:
    """Run one notebook with papermill and export its page; a failure is recorded, never raised.

    Parameters
    ----------
    entry
        The notebook.
    out_dir
        The report folder: the page goes to ``<stem>.html``, the executed notebook and the kernel's log to
        ``notebooks/``, and the notebook's ``output_dir`` is ``<stem>/``.
    passed
        Its parameters.
    with_code, assets_href
        See :func:`finops_lib.report.html.export_notebook`.
    kernel
        Kernel spec name.
    env
        Added to the kernel's environment.

    Returns
    -------
    NotebookRun
        Status ``ok`` or ``failed`` (with the failing cell), the page, ``results.json``, the times.
    """
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
                kernel_manager_class=_report_kernel_manager(kernel_log, env or {}),
            )
    except PapermillExecutionError as exc:
        error = f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
    except Exception as exc:  # a broken notebook or kernel must not stop the rest of the report
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    for kept in (executed, executed.parent / f"{entry.stem}.kernel.log"):
        relative_paths(kept, out_dir=out_dir, passed=passed)
    html = None
    if executed.is_file():
        try:
            html = htmlexport.export_notebook(executed, out_dir / f"{entry.stem}.html", with_code=with_code,
                                              index_href="index.html", failure=error,
                                              assets_href=assets_href)  # fmt: skip
        except Exception as exc:  # reported like an execution failure
            error = f"{error + '; ' if error else ''}HTML export: {type(exc).__name__}: {exc}"
    results = read_results(output_dir / "results.json")
    status: Literal["ok", "failed"] = "failed" if error else "ok"
    export_seconds = time.perf_counter() - start - seconds
    return NotebookRun(entry, status, seconds, html, error, passed, results, export_seconds)


def relative_paths(path: Path, *, out_dir: Path, passed: Mapping[str, Any]) -> None:
    """Rewrite a kept file of the report (executed notebook, kernel log) with the machine's paths made relative.

    The report folder may be mailed: its files tell nothing of the machine's folder layout. The report folder
    becomes ``.``, the project's paths relative to it, a data folder or warehouse elsewhere
    ``.../<last two parts>`` (:func:`finops_lib.paths.shown`); the parameters keep their meaning for a reader.
    """
    if not path.is_file():
        return
    absolute = {str(value) for value in passed.values()
                if isinstance(value, str | Path) and os.path.isabs(str(value))}  # fmt: skip
    pairs = {str(out_dir) + os.sep: "", str(PROJECT_ROOT) + os.sep: "",
             **{p: paths.shown(p) for p in absolute if not Path(p).is_relative_to(out_dir)}}  # fmt: skip
    text = path.read_text(encoding="utf-8", errors="replace")
    notebook = path.suffix == ".ipynb"
    if notebook:  # the folders themselves, as whole values (``"cwd": "/.../report/stem"`` is handled above)
        pairs.update({f'"{json.dumps(str(out_dir))[1:-1]}"': '"."', f'"{json.dumps(str(PROJECT_ROOT))[1:-1]}"': '"."'})
    for old in sorted(pairs, key=len, reverse=True):
        quoted = old.startswith('"')
        text = text.replace(old if quoted or not notebook else json.dumps(old)[1:-1],
                            pairs[old] if quoted or not notebook else json.dumps(pairs[old])[1:-1])
    atomic_write(path, text)


def read_results(path: Path) -> dict[str, Any]:
    """Return a notebook's ``results.json`` (an empty dict when it is missing or unreadable)."""
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable results: %s", path, exc)
        return {}
    return value if isinstance(value, dict) else {}


# --- many -----------------------------------------------------------------------------------


def run_notebooks(
    plan: Mapping[NotebookEntry, dict[str, Any]],
    *,
    jobs: int = 1,
    progress: Progress | None = None,
    expected: Mapping[str, float] | None = None,
    **options: Any,
) -> list[NotebookRun]:
    """Run every planned notebook, up to ``jobs`` at once; return the outcomes in the plan's order.

    Parameters
    ----------
    plan
        Notebook -> its parameters, in report order.
    jobs
        Notebooks running at once (threads, each driving its own kernel process).
    expected
        Seconds each notebook (by file name) took last time: with several at once, the slowest start first (so
        a long one does not start last and run alone); notebooks without a figure start before them.
    progress
        Receives ``[2/6] 10_cost_attribution ...`` when a notebook starts and
        ``[2/6] 10_cost_attribution ... ok 12.3 s (page 0.9 s)`` when its page is written.
    **options
        Passed to :func:`run_notebook` (``out_dir``, ``with_code``, ``kernel``, ``assets_href``, ``env``).

    Returns
    -------
    list of NotebookRun
    """
    total, lock = len(plan), threading.Lock()

    def say(line: str) -> None:
        if progress is not None:
            with lock:
                progress(line)

    def one(position: int, entry: NotebookEntry) -> NotebookRun:
        label = f"[{position}/{total}] {entry.stem} ..."
        say(label)
        run = run_notebook(entry, passed=plan[entry], **options)
        say(f"{label} {run.status} {run.seconds:.1f} s (page {run.export_seconds:.1f} s)"
            + (f": {run.error}" if run.error else ""))  # fmt: skip
        return run

    numbered = list(enumerate(plan, start=1))
    if jobs <= 1 or total <= 1:
        return [one(position, entry) for position, entry in numbered]
    seconds = dict(expected or {})
    starts = sorted(numbered, key=lambda item: -seconds.get(item[1].notebook, float("inf")))  # stable: plan order
    pool = ThreadPoolExecutor(max_workers=min(jobs, total), thread_name_prefix="finops-report")
    try:
        futures = {entry: pool.submit(one, position, entry) for position, entry in starts}
        return [futures[entry].result() for _, entry in numbered]
    finally:
        # On Ctrl-C the notebooks not started yet are dropped; the running ones get the interrupt in their kernel.
        pool.shutdown(wait=True, cancel_futures=True)
