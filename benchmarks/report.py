"""Benchmark: ``finops report`` on the committed sample, as ``make report`` runs it, into a temporary folder.

Run ``python benchmarks/report.py [finops report options]`` (e.g. ``--jobs 1``, ``--single-file``); prints the wall
time, each notebook's time (papermill's ``duration`` in the executed notebook, its slowest cells from
``papermill.duration`` of each cell) and the report folder's size with and without ``notebooks/`` (the executed
notebooks: papermill's record, not needed to read the report). The figures also go to
``benchmarks/out/report_results.json``.

The warehouse is the sample's default one under ``build/warehouses/`` (ingested once: later runs find every file
already there, as a user's second report does); ``--cold`` ingests into an empty warehouse first. The machine's load
average is printed before and after: the notebooks run in their own processes and other work on the machine slows
them down.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from finops_lib import paths
from finops_lib.report import folders

OUT = Path(__file__).resolve().parent / "out"


def notebook_times(report: Path) -> list[dict]:
    """Per executed notebook: papermill's duration, the sum of its cells, and the three slowest cells."""
    rows = []
    for path in sorted((report / "notebooks").glob("*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cells = [(cell.get("metadata", {}).get("papermill", {}).get("duration") or 0.0, index,
                  "".join(cell.get("source", "")).strip().splitlines()[:1])
                 for index, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "code"]  # fmt: skip
        slowest = sorted(cells, reverse=True)[:3]
        rows.append({
            "notebook": path.stem,
            "seconds": notebook["metadata"].get("papermill", {}).get("duration"),
            "cells_seconds": round(sum(seconds for seconds, _, _ in cells), 2),
            "slowest_cells": [{"cell": index, "seconds": round(seconds, 2), "first_line": (line or [""])[0][:70]}
                              for seconds, index, line in slowest],
        })  # fmt: skip
    return rows


def main(argv: list[str]) -> int:
    cold = "--cold" in argv
    options = [arg for arg in argv if arg != "--cold"]
    with tempfile.TemporaryDirectory(prefix="finops-report-bench-") as tmp:
        out = Path(tmp) / "report"
        # the command as installed next to this interpreter (the venv's bin/finops)
        finops = str(Path(sys.executable).parent / "finops")
        command = [finops, "report", "--data", str(paths.SAMPLE_DIR), "--out", str(out), *options]
        if cold:
            command += ["-p", "warehouse", str(Path(tmp) / "cold.duckdb")]
        load_before = os.getloadavg()
        start = time.perf_counter()
        done = subprocess.run(command, stderr=subprocess.PIPE, text=True, check=False)
        wall = time.perf_counter() - start
        load_after = os.getloadavg()
        print(done.stderr, end="", file=sys.stderr)
        if done.returncode != 0:
            print(f"finops report exited {done.returncode}", file=sys.stderr)
            return done.returncode
        times = notebook_times(out)
        total = folders.folder_bytes(out)
        without = folders.folder_bytes(out, exclude=("notebooks",))
        manifest = json.loads((out / folders.MANIFEST).read_text(encoding="utf-8"))
    print(f"finops report on the sample ({' '.join(options) or 'defaults'}{', cold warehouse' if cold else ''}): "
          f"{wall:.1f} s wall, {manifest['jobs']} notebook(s) at a time; load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after ({os.cpu_count()} CPUs)")  # fmt: skip
    for row in times:
        cells = ", ".join(f"cell {cell['cell']} {cell['seconds']:.1f} s" for cell in row["slowest_cells"])
        print(f"  {row['notebook']:<26} {row['seconds']:6.1f} s (cells {row['cells_seconds']:.1f} s; slowest: {cells})")
    print(f"  sum of the notebooks: {sum(row['seconds'] or 0 for row in times):.1f} s")
    print(f"report folder: {without / 1e6:.2f} MB without notebooks/, {total / 1e6:.2f} MB with the executed "
          f"notebooks ({(total - without) / 1e6:.2f} MB)")  # fmt: skip
    OUT.mkdir(exist_ok=True)
    result = {"options": options, "cold": cold, "wall_seconds": round(wall, 2), "jobs": manifest["jobs"],
              "load_average": [load_before[0], load_after[0]], "notebooks": times, "bytes": total,
              "bytes_without_notebooks": without}  # fmt: skip
    (OUT / "report_results.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
