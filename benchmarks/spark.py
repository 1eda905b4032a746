"""Benchmark: the same folder ingested and charged back on DuckDB and on a local Spark session, side by side.

The folder is the scaled sample of :mod:`benchmarks.ingest` (every format of the sample, its LiteLLM spend logs
scaled to about ``--rows`` requests; generated once under ``benchmarks/out/``). Each step runs as the command a
user would type, in a fresh process, and is timed wall-clock:

* ``ingest``: ``finops ingest FOLDER`` into a new DuckDB warehouse, and with ``--engine pyspark:///catalog`` (the
  DuckDB ingest warehouse in the catalog folder, then one Parquet file per source file published to Spark);
* ``ingest_unchanged``: the same command again (nothing changed);
* ``chargeback``: ``finops chargeback`` with the folder's allocation rules, on each engine; the two CSV files must
  be byte-identical (the benchmark fails otherwise).

Spark's figures include starting the JVM and the session (about 10 s here), as a command pays it. Results go to
``benchmarks/out/spark.json``.

Usage: ``python benchmarks/spark.py [--rows 1000000]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import OUT, ensure_sample  # the scaled sample, generated once

FINOPS = [str(Path(sys.executable).with_name("finops"))]  # the installed command, as a user runs it


def timed(args: list[str]) -> float:
    """Run a ``finops`` command; return its wall-clock seconds (fails loudly on a non-zero exit)."""
    t0 = time.perf_counter()
    done = subprocess.run([*FINOPS, *args], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"finops {' '.join(args)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    if shutil.which("java") is None:
        print("no Java runtime on PATH: the Spark benchmark is skipped (make install and .ci/run install pyspark; "
              "Java comes from the system, e.g. apt-get install openjdk-17-jre-headless)")
        return 0
    folder = ensure_sample(args.rows).parents[1]
    rules = folder / "config" / "allocation_rules.yaml"
    work = OUT / "bench_spark"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    engines = {"duckdb": ["--warehouse", str(work / "duckdb")],
               "spark": ["--warehouse", str(work / "duckdb-workspace"), "--engine",
                         f"pyspark://{work / 'spark' / 'catalog'}"]}
    results: dict[str, dict[str, float]] = {}
    for name, where in engines.items():
        row = results.setdefault(name, {})
        row["ingest"] = timed(["ingest", str(folder), *where])
        row["ingest_unchanged"] = timed(["ingest", str(folder), *where])
        row["chargeback"] = timed(["chargeback", *where, "--rules", str(rules), "--out", str(work / f"{name}.csv")])
        print(f"{name:7s} " + "  ".join(f"{k} {v:6.1f} s" for k, v in row.items()), flush=True)
    same = (work / "duckdb.csv").read_bytes() == (work / "spark.csv").read_bytes()
    print(f"chargeback CSV byte-identical: {same}")
    (OUT / "spark.json").write_text(json.dumps({"rows": args.rows, "folder": str(folder), "results": results,
                                                "chargeback_identical": same}, indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
