"""Benchmark: ``finops ingest data/sample --warehouse W`` run again when nothing changed, as a new process.

Issue 19's goal: the sample folder (55 files) under 1 s when nothing changed, measured as the command a person
runs (the venv's ``bin/finops``, a new Python process each time), the median of 5 runs. The library call itself
takes a few hundredths of a second; the rest is the process: Python's start-up, the imports (ibis, DuckDB, pandas
and the workbench's own modules) and its exit.

Ingests the sample once into a fresh warehouse under ``benchmarks/out/bench_cli_unchanged/``, then times the
command ``--repeat`` times (default 5) and checks each run printed the same output with every file
``unchanged``. For scale it also times the floor no change to the workbench can lower: ``python -c pass`` and
``import ibis.backends.duckdb, pandas, pyarrow`` (what the ingest path needs whatever the workbench does), and
lists the workbench packages the command loaded. The machine's load average is printed before and after: other
work on a 2-core machine shows in every figure. Results go to ``benchmarks/out/cli_unchanged_results.json``.

Whether the workbench's modules have cached bytecode matters (about 0.1 s): with ``PYTHONDONTWRITEBYTECODE`` set
and no ``__pycache__`` next to ``finops_lib``, Python compiles each of them on every run. The result records both.

Usage: ``python benchmarks/cli_unchanged.py [--repeat K]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "out"
SAMPLE = ROOT / "data" / "sample"
GOAL_SECONDS = 1.0
#: Prints, at exit, the workbench packages a run of the command loaded (``finops`` as the console script runs it).
LOADED = ("import atexit, json, sys\n"
          "atexit.register(lambda: print(json.dumps(sorted({'.'.join(m.split('.')[:2]) for m in sys.modules\n"
          "                                                  if m.startswith('finops_lib.')})), file=sys.stderr))\n"
          "sys.argv = ['finops', *sys.argv[1:]]\n"
          "from finops_lib.cli import main\n"
          "sys.exit(main())\n")  # fmt: skip


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return time.perf_counter() - t0, done


def median_seconds(command: list[str], repeat: int) -> float:
    return round(statistics.median(timed(command)[0] for _ in range(repeat)), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of the unchanged command (median kept)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    folder = OUT / "bench_cli_unchanged"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    warehouse = folder / "finops.duckdb"
    finops = str(Path(sys.executable).with_name("finops"))
    command = [finops, "ingest", str(SAMPLE), "--warehouse", str(warehouse)]
    load_before = os.getloadavg()
    fresh, first = timed(command)
    if first.returncode != 0:
        print(first.stdout, first.stderr, sep="\n")
        return 1
    runs, outputs = [], set()
    for _ in range(args.repeat):
        seconds, done = timed(command)
        runs.append(seconds)
        outputs.add((done.returncode, done.stdout, done.stderr))
    (code, stdout, _), same = next(iter(outputs)), len(outputs) == 1
    unchanged = re.search(r"^\d+ files: 0 rows read, 0 loaded, 0 rejected", stdout, re.MULTILINE) is not None
    loaded = subprocess.run([sys.executable, "-c", LOADED, *command[1:]], capture_output=True, text=True, check=True)
    python = [sys.executable, "-c"]
    result = {
        "command": " ".join(["finops", *command[1:]]).replace(str(ROOT) + "/", ""),
        "cpu_count": os.cpu_count(),
        "goal_seconds": GOAL_SECONDS,
        "unchanged_command_seconds": round(statistics.median(runs), 3),
        "unchanged_command_runs": [round(s, 3) for s in runs],
        "fresh_command_seconds": round(fresh, 3),
        "exit_code": code,
        "same_output_every_run": same,
        "every_file_unchanged": unchanged,
        "python_startup_seconds": median_seconds([*python, "pass"], args.repeat),
        "import_floor_seconds": median_seconds([*python, "import ibis.backends.duckdb, pandas, pyarrow"], args.repeat),
        "workbench_packages_loaded": json.loads(loaded.stderr.strip().splitlines()[-1]),
        "bytecode_cached": any((ROOT / "finops_lib" / "__pycache__").glob("*.pyc")),
        "pythondontwritebytecode": bool(os.environ.get("PYTHONDONTWRITEBYTECODE")),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    result["goal_met"] = result["unchanged_command_seconds"] < GOAL_SECONDS and code == 0 and same and unchanged
    (OUT / "cli_unchanged_results.json").write_text(json.dumps(result, indent=2))
    packages = ", ".join(p.removeprefix("finops_lib.") for p in result["workbench_packages_loaded"])
    print(f"{result['command']}\n  fresh warehouse: {fresh:.2f} s")
    print(f"  nothing changed: median {result['unchanged_command_seconds']:.2f} s of {args.repeat} runs "
          f"({', '.join(f'{s:.2f}' for s in runs)}); exit {code}, same output every run: {same}")
    print(f"  floor: python start-up {result['python_startup_seconds']:.2f} s, "
          f"import ibis.backends.duckdb + pandas + pyarrow {result['import_floor_seconds']:.2f} s")
    print(f"  workbench packages loaded: {packages}")
    print(f"  bytecode cached: {result['bytecode_cached']} (PYTHONDONTWRITEBYTECODE "
          f"{'set' if result['pythondontwritebytecode'] else 'unset'}); load average before {load_before[0]:.2f}, "
          f"after {result['load_average_after'][0]:.2f} on {os.cpu_count()} cores")
    print("goal met" if result["goal_met"] else "GOAL NOT MET")
    return 0


if __name__ == "__main__":
    sys.exit(main())
