"""Run a notebook through papermill the way the report does and return the ``results.json`` it wrote."""

from __future__ import annotations

import json
from pathlib import Path

from finops_lib import paths, report


def run_notebook(notebook: Path, tmp: Path, *, timeout: int = 600, **parameters: object) -> dict:
    """Execute ``notebook`` into ``tmp`` (output_dir ``tmp/out``) with ``parameters``; return its results.json.

    ``data_dir`` defaults to the committed sample, named explicitly: a notebook given only a ``warehouse`` reads
    that warehouse alone, with none of the sample's rules, budgets, prices or answer key.
    """
    import papermill

    parameters = {"data_dir": str(paths.SAMPLE_DIR), **parameters}

    out = tmp / "out"
    papermill.execute_notebook(str(notebook), str(tmp / "executed.ipynb"), kernel_name=report.ensure_kernel(),
                               parameters={"output_dir": str(out), **parameters}, progress_bar=False, cwd=str(tmp),
                               execution_timeout=timeout)  # fmt: skip
    return json.loads((out / "results.json").read_text(encoding="utf-8"))
