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

``--parquet-dump`` times instead the scaled sample's LiteLLM spend logs written as one typed Parquet dump (what a
``COPY`` of the proxy's table gives), ingested alone: into DuckDB, into Spark with the file read on the ingest
machine, and into Spark with it read on the workers (:mod:`finops_lib.engines.workers`; the two Spark runs differ
only by ``FINOPS_SPARK_READ_MIN_BYTES``). ``--csv-dump`` does the same with the sample's CSV (read on the workers in
ranges of lines), ``--jsonl-dump`` with the same rows as JSON lines. The three ingest warehouses must hold the same
``requests`` and ``rejects`` rows (the benchmark fails otherwise). ``--focus-dump`` does the same with a FOCUS
export of about ``--rows`` charges (the scaled sample's FOCUS rows, each repeated with a copy number in an extra
column, as one plain CSV), compared on ``costs`` and ``rejects``; ``--cur-parquet`` with a CUR 2.0 part of about
``--rows`` line items as typed Parquet (the scaled sample's CUR lines repeated, each line item id suffixed with its
copy number; times as UTC instants, amounts as doubles, ``product`` and the tag columns as maps, as Data Exports
write them), read by Spark's Parquet reader on the workers. Results go to ``benchmarks/out/spark_dump_<kind>.json``.

Usage: ``python benchmarks/spark.py [--rows 1000000] [--parquet-dump] [--csv-dump] [--jsonl-dump] [--focus-dump]
[--cur-parquet]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import OUT, ensure_sample  # the scaled sample, generated once

FINOPS = [str(Path(sys.executable).with_name("finops"))]  # the installed command, as a user runs it


def timed(args: list[str], env: dict[str, str] | None = None) -> float:
    """Run a ``finops`` command; return its wall-clock seconds (fails loudly on a non-zero exit).

    The command's notes (``NOTE path: ...``, where a file was read on Spark's workers or why not) are printed.
    """
    t0 = time.perf_counter()
    done = subprocess.run([*FINOPS, *args], capture_output=True, text=True, env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"finops {' '.join(args)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    for line in (done.stdout + done.stderr).splitlines():
        if line.startswith("NOTE"):
            print(f"  {line}", flush=True)
    return seconds


def _typed_cur(name: str) -> str:
    """Return a CUR 2.0 column of the sample's text as Data Exports' Parquet types it (each copy's own line id)."""
    if name == "identity_line_item_id":
        return f"{name} || '-' || r.range::VARCHAR AS {name}"
    if name.endswith("_date"):
        return f"TRY_CAST({name} AS TIMESTAMPTZ) AS {name}"
    if name.endswith(("_amount", "_rate", "_cost")):
        return f"TRY_CAST({name} AS DOUBLE) AS {name}"
    if name in ("product", "resource_tags", "cost_category", "discount", "tags"):
        return f"TRY_CAST(TRY_CAST({name} AS JSON) AS MAP(VARCHAR, VARCHAR)) AS {name}"
    return name


def write_dump(kind: str, csv: Path, dump: Path, rows: int) -> None:
    """Write the ``kind`` dump of about ``rows`` records from the scaled sample whose LiteLLM CSV is ``csv``."""
    import duckdb

    dump.parent.mkdir(parents=True, exist_ok=True)
    if kind == "cur":  # the sample's CUR lines, repeated, typed as a Data Exports Parquet part
        files = f"{csv.parents[1] / 'aws' / 'cur2'}/*/*.csv.gz"
        read = f"read_csv('{files}', all_varchar = true, union_by_name = true, hive_partitioning = false)"
        names = [n for n, *_ in duckdb.sql(f"DESCRIBE SELECT * FROM {read}").fetchall()]
        per_copy = duckdb.sql(f"SELECT count(*) FROM {read}").fetchone()[0]
        duckdb.sql(f"""COPY (SELECT {', '.join(_typed_cur(n) for n in names)}
                           FROM {read} f, range({-(-rows // per_copy)}) r ORDER BY r.range)
                       TO '{dump}' (FORMAT parquet, COMPRESSION snappy)""")
    elif kind == "focus":  # the sample's FOCUS charges, repeated, a copy number making each line distinct
        files = f"{csv.parents[1] / 'focus'}/*.csv"
        per_copy = duckdb.sql(f"SELECT count(*) FROM read_csv('{files}', all_varchar = true)").fetchone()[0]
        duckdb.sql(f"""COPY (SELECT f.*, r.range::VARCHAR AS x_BenchCopy
                           FROM read_csv('{files}', all_varchar = true) f, range({-(-rows // per_copy)}) r)
                       TO '{dump}' (FORMAT csv, HEADER)""")
    elif kind == "csv":  # the scaled sample's own CSV, alone in its folder
        shutil.copy(csv, dump)
    elif kind == "jsonl":  # one object per line, every value text, as the CSV holds it
        duckdb.sql(f"COPY (SELECT * FROM read_csv('{csv}', all_varchar = true)) TO '{dump}' (FORMAT json)")
    else:  # times typed as a database dump has them; the rest text, as the sample's hostile values need
        duckdb.sql(f"""COPY (SELECT * REPLACE (TRY_CAST("startTime" AS TIMESTAMPTZ) AS "startTime",
                                               TRY_CAST("endTime" AS TIMESTAMPTZ) AS "endTime")
                           FROM read_csv('{csv}', all_varchar = true)) TO '{dump}' (FORMAT parquet)""")


def one_dump(rows: int, kind: str) -> dict:
    """Time one dump of ``rows`` records (``parquet``, ``csv``, ``jsonl``, ``focus`` or ``cur``) ingested into
    DuckDB, Spark, and Spark's workers."""
    import duckdb

    csv = ensure_sample(rows)
    folder = OUT / f"dump_{kind}_{rows}"
    dump = folder / {"focus": "focus_export.csv", "cur": "northwind-cur2-00001.snappy.parquet"}.get(
        kind, f"spend_logs.{kind}")
    table = "costs" if kind in ("focus", "cur") else "requests"
    if not dump.exists():
        write_dump(kind, csv, dump, rows)
    work = OUT / f"bench_spark_dump_{kind}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    spark = ["--engine", f"pyspark://{work / 'spark' / 'catalog'}", "--warehouse", str(work / "workspace")]
    runs = {"duckdb": (["--warehouse", str(work / "duckdb")], {}),
            "spark_ingest_machine": (spark, {"FINOPS_SPARK_READ_MIN_BYTES": str(2**62)}),
            "spark_workers": (spark, {"FINOPS_SPARK_READ_MIN_BYTES": "0"})}
    results, copies = {}, {}
    for name, (where, env) in runs.items():
        if name.startswith("spark"):
            shutil.rmtree(work / "spark", ignore_errors=True)
        results[name] = timed(["ingest", str(folder), *where], env)
        store = work / "duckdb" / "finops.duckdb" if name == "duckdb" else work / "spark" / "catalog" / "_ingest.duckdb"
        copies[name] = work / f"{name}.duckdb"
        shutil.copy(store, copies[name])
        print(f"{kind} {name:22s} ingest {results[name]:6.1f} s", flush=True)
    db = duckdb.connect()
    for name, path in copies.items():
        db.execute(f"ATTACH '{path}' AS {name} (READ_ONLY)")
    same = {}
    for name in (table, "rejects"):
        same[name] = all(
            db.execute(f"SELECT count(*) FROM (SELECT * FROM {a}.{name} EXCEPT ALL SELECT * FROM {b}.{name})"
                       ).fetchone()[0] == 0
            for a in copies for b in copies if a != b)
        print(f"{name}: the same rows in the three warehouses: {same[name]}")
    out = {"rows": rows, "file": str(dump), "file_bytes": dump.stat().st_size, "results": results, "same_rows": same}
    (OUT / f"spark_dump_{kind}.json").write_text(json.dumps(out, indent=1))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--parquet-dump", action="store_true", help="time a Parquet dump read on Spark's workers")
    parser.add_argument("--csv-dump", action="store_true", help="time a CSV dump read in ranges on Spark's workers")
    parser.add_argument("--jsonl-dump", action="store_true", help="time a JSON-lines dump read on Spark's workers")
    parser.add_argument("--focus-dump", action="store_true", help="time a FOCUS export read in ranges on the workers")
    parser.add_argument("--cur-parquet", action="store_true", help="time a CUR 2.0 Parquet part read on the workers")
    args = parser.parse_args()
    if shutil.which("java") is None:
        print("no Java runtime on PATH: the Spark benchmark is skipped (make install and .ci/run install pyspark; "
              "Java comes from the system, e.g. apt-get install openjdk-17-jre-headless)")
        return 0
    kinds = [k for k, asked in (("parquet", args.parquet_dump), ("csv", args.csv_dump), ("jsonl", args.jsonl_dump),
                                ("focus", args.focus_dump), ("cur", args.cur_parquet)) if asked]
    if kinds:
        return 0 if all(all(one_dump(args.rows, k)["same_rows"].values()) for k in kinds) else 1
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
