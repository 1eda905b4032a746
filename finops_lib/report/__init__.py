"""The report: the notebook catalog run with papermill, each page exported as offline HTML, and an index."""

from finops_lib.report.html import export_notebook, network_references, write_index
from finops_lib.report.runner import (
    CATALOG,
    KERNEL_NAME,
    NotebookEntry,
    NotebookRun,
    coerce_parameter,
    ensure_kernel,
    run_report,
)

__all__ = [
    "CATALOG",
    "KERNEL_NAME",
    "NotebookEntry",
    "NotebookRun",
    "coerce_parameter",
    "ensure_kernel",
    "export_notebook",
    "network_references",
    "run_report",
    "write_index",
]
