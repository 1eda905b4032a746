"""The report: the notebook catalog run with papermill, each page exported as offline HTML, and an index."""

from finops_lib.report.execute import KERNEL_NAME, NotebookEntry, NotebookRun, ensure_kernel
from finops_lib.report.folders import latest
from finops_lib.report.html import export_notebook, network_references, write_assets, write_index
from finops_lib.report.runner import CATALOG, coerce_parameter, default_jobs, run_report

__all__ = [
    "CATALOG",
    "KERNEL_NAME",
    "NotebookEntry",
    "NotebookRun",
    "coerce_parameter",
    "default_jobs",
    "ensure_kernel",
    "export_notebook",
    "latest",
    "network_references",
    "run_report",
    "write_assets",
    "write_index",
]
