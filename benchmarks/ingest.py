"""Ingest benchmark: LiteLLM spend logs through ``finops ingest`` vs bare DuckDB vs plain pandas.

Generates (once, cached under ``benchmarks/out/``) a sample whose LiteLLM ``spend_logs.csv`` holds
about ``--rows`` requests (default 10 million), then times, each in a fresh subprocess so peak
memory (max RSS) is measured per approach:

* ``finops``: :func:`finops_lib.warehouse.ingestion.ingest` of the file into a new DuckDB warehouse: parse,
  validate, split tokens from the metadata JSON, reject bad rows, write ``requests`` to disk;
* ``duckdb``: bare ``read_csv`` (``ignore_errors``: bad rows silently dropped) + ``GROUP BY`` (day, model);
* ``pandas``: ``pandas.read_csv`` (the six columns needed) + ``groupby`` (day, model) on the same file;
* ``pandas_normalize``: the same job as ``finops`` in plain pandas (token buckets from the metadata
  JSON with ``json.loads``, bad rows set aside, Parquet out), for an apples-to-apples figure.

Goals (issue: foundation): finops <= 1.5x the DuckDB time, >= 10x faster than pandas, peak memory
<= 2 GB. Results are printed and written to ``benchmarks/out/ingest_results.json``.

Usage: ``python benchmarks/ingest.py [--rows N] [--skip-pandas] [--repeat K]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
GOALS = {"max_ratio_to_duckdb": 1.5, "min_speedup_vs_pandas": 10.0, "max_peak_rss_gb": 2.0}


def ensure_sample(rows: int) -> Path:
    """Generate the scaled sample once; return its LiteLLM CSV."""
    from finops_lib.sample import generate

    folder = OUT / f"sample_{rows}"
    target = folder / "litellm" / "spend_logs.csv"
    if target.exists():
        return target
    base = json.loads((Path(__file__).resolve().parents[1] / "data" / "sample" / "manifest.json").read_text())
    per_scale = next(f["rows"] for f in base["files"] if f["path"].startswith("litellm/"))
    scale = rows / per_scale
    print(f"generating ~{rows:,} LiteLLM rows (scale {scale:.2f}) into {folder} ...", flush=True)
    t0 = time.perf_counter()
    generate(folder, scale=scale, compress_gateway_logs=False)
    print(f"  generated in {time.perf_counter() - t0:.0f} s", flush=True)
    return target


def run_finops(path: Path) -> dict:
    from finops_lib import engine
    from finops_lib.warehouse.ingestion import ingest

    wh = OUT / "bench_warehouse.duckdb"
    for f in (wh, wh.with_suffix(".duckdb.wal")):
        f.unlink(missing_ok=True)
    t0 = time.perf_counter()
    con = engine.connect(warehouse=wh)
    summary = ingest([path], con=con)
    elapsed = time.perf_counter() - t0
    row = summary.iloc[0]
    con.disconnect()
    return {"seconds": elapsed, "rows_read": int(row.rows_read), "rows_loaded": int(row.rows_loaded),
            "rows_rejected": int(row.rows_rejected)}


def run_duckdb(path: Path) -> dict:
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect()
    out = con.execute(
        "SELECT CAST(startTime AS DATE) AS day, model, count(*) AS n, sum(spend) AS spend, "
        "sum(prompt_tokens) AS prompt, sum(completion_tokens) AS completion "
        f"FROM read_csv('{path}', ignore_errors = true) GROUP BY ALL").fetchall()
    elapsed = time.perf_counter() - t0
    return {"seconds": elapsed, "rows_read": sum(r[2] for r in out), "groups": len(out)}


def run_pandas(path: Path) -> dict:
    import pandas as pd

    t0 = time.perf_counter()
    # Only the columns the aggregation needs: reading all 30 text columns of a 10-million-row dump
    # needs more memory than this machine has.
    frame = pd.read_csv(path, usecols=["request_id", "startTime", "model", "spend", "prompt_tokens",
                                       "completion_tokens"])
    # The dump has a few malformed values (as real ones do): coerce them instead of failing.
    for column in ("spend", "prompt_tokens", "completion_tokens"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame["day"] = pd.to_datetime(frame["startTime"], format="ISO8601", utc=True, errors="coerce").dt.date
    out = frame.groupby(["day", "model"]).agg(n=("request_id", "count"), spend=("spend", "sum"),
                                              prompt=("prompt_tokens", "sum"),
                                              completion=("completion_tokens", "sum"))
    elapsed = time.perf_counter() - t0
    return {"seconds": elapsed, "rows_read": int(out.n.sum()), "groups": len(out)}


def run_pandas_normalize(path: Path) -> dict:
    """The same job as ``finops`` in plain pandas: token buckets from the metadata JSON, per request.

    Read in chunks of 500,000 rows: one ``read_csv`` of the whole dump with its metadata column
    needs more memory than this machine has (the out-of-memory killer ends it).
    """
    import json

    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    columns = ["request_id", "startTime", "model", "spend", "prompt_tokens", "completion_tokens", "metadata",
               "request_tags", "status"]
    read = loaded = 0
    writer = None
    for chunk in pd.read_csv(path, usecols=columns, dtype=str, keep_default_na=False, chunksize=500_000):
        for column in ("spend", "prompt_tokens", "completion_tokens"):
            chunk[column] = pd.to_numeric(chunk[column], errors="coerce")
        chunk["start"] = pd.to_datetime(chunk["startTime"], format="ISO8601", utc=True, errors="coerce")
        usage = [(json.loads(m).get("usage_object") or {}) if m else {} for m in chunk.pop("metadata")]
        chunk["cache_read"] = [u.get("cache_read_input_tokens") or 0 for u in usage]
        chunk["cache_write"] = [u.get("cache_creation_input_tokens") or 0 for u in usage]
        chunk["uncached"] = chunk["prompt_tokens"] - chunk["cache_read"] - chunk["cache_write"]
        good = chunk[~(chunk["start"].isna() | chunk["spend"].isna() | chunk["prompt_tokens"].isna())]
        table = pa.Table.from_pandas(good, preserve_index=False)
        writer = writer or pq.ParquetWriter(OUT / "pandas_requests.parquet", table.schema)
        writer.write_table(table)
        read += len(chunk)
        loaded += len(good)
    writer.close()
    elapsed = time.perf_counter() - t0
    return {"seconds": elapsed, "rows_read": read, "rows_loaded": loaded, "rows_rejected": read - loaded}


RUNNERS = {"finops": run_finops, "duckdb": run_duckdb, "pandas": run_pandas,
           "pandas_normalize": run_pandas_normalize}


def measure(name: str, path: Path) -> dict:
    """Run one approach in a subprocess; add its peak RSS (GB)."""
    proc = subprocess.Popen([sys.executable, __file__, "--child", name, str(path)], stdout=subprocess.PIPE,
                            text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    output = proc.stdout.read()
    if status != 0:
        print(f"{name} failed (wait status {status}; 9 = killed, e.g. out of memory)", flush=True)
        return {"seconds": float("nan"), "rows_read": 0, "failed": True, "status": status,
                "peak_rss_gb": usage.ru_maxrss / 1024**2}
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_gb"] = usage.ru_maxrss / 1024**2  # ru_maxrss is in KiB on Linux
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per approach (best time kept)")
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--only", nargs="+", choices=list(RUNNERS), help="run only these approaches")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(RUNNERS[args.child[0]](Path(args.child[1]))))
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    path = ensure_sample(args.rows)
    size_gb = path.stat().st_size / 1024**3
    print(f"file: {path} ({size_gb:.2f} GB)", flush=True)
    results = {}
    names = args.only or ("duckdb", "finops") + (() if args.skip_pandas else ("pandas", "pandas_normalize"))
    previous = OUT / "ingest_results.json"
    if args.only and previous.exists():  # keep the other approaches' figures from the last run on this file
        last = json.loads(previous.read_text())
        results = last["results"] if last.get("file") == str(path) else {}
    for name in names:
        runs = [measure(name, path) for _ in range(args.repeat if name != "pandas" else 1)]
        best = min(runs, key=lambda r: r["seconds"])
        best["peak_rss_gb"] = max(r["peak_rss_gb"] for r in runs)
        results[name] = best
        print(f"{name:>7}: {best['seconds']:8.1f} s  peak RSS {best['peak_rss_gb']:.2f} GB  "
              f"rows {best['rows_read']:,}", flush=True)
    if not {"finops", "duckdb"} <= set(results):
        return 0
    ratio = results["finops"]["seconds"] / results["duckdb"]["seconds"]
    summary = {"file": str(path), "file_gb": round(size_gb, 3), "cpu_count": os.cpu_count(), "results": results,
               "finops_vs_duckdb": round(ratio, 3), "goals": GOALS}
    print(f"finops / duckdb time: {ratio:.2f} (goal <= {GOALS['max_ratio_to_duckdb']})")
    ok = ratio <= GOALS["max_ratio_to_duckdb"] and results["finops"]["peak_rss_gb"] <= GOALS["max_peak_rss_gb"]
    for name in ("pandas", "pandas_normalize"):
        if name in results:
            speedup = results[name]["seconds"] / results["finops"]["seconds"]
            summary[f"{name}_vs_finops"] = round(speedup, 2)
            print(f"{name} / finops time: {speedup:.1f} (goal >= {GOALS['min_speedup_vs_pandas']})")
            ok = ok and speedup >= GOALS["min_speedup_vs_pandas"]
    summary["goals_met"] = ok
    (OUT / "ingest_results.json").write_text(json.dumps(summary, indent=2))
    print("goals met" if ok else "GOALS NOT MET")
    return 0


if __name__ == "__main__":
    sys.exit(main())
