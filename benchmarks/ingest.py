"""Ingest benchmark: ``finops ingest`` against bare DuckDB doing the same work, at 1M and 10M LiteLLM rows.

Generates (once, cached under ``benchmarks/out/``) samples whose LiteLLM ``spend_logs.csv`` holds about 1 and 10
million requests, then times, each approach in a fresh subprocess so peak memory (max RSS) is measured per run:

* ``finops``: :func:`finops_lib.warehouse.ingest` of the file into a new DuckDB warehouse file: detection, the
  file's hash, parse, validation with a reject (file, line, column, value, reason) per bad row, token buckets and
  dimensions from the metadata JSON and the request tags, secrets masked, row keys, line numbers, one transaction
  committed to disk, read = loaded + rejected checked;
* ``duckdb_same_work``: what one would write by hand in DuckDB for the same table: ``read_csv`` (all text), the
  timestamps, spend and counts cast, the token fields out of the metadata JSON (one ``json_transform``), the tags
  list and the team/app/feature/environment tags out of it, the provider, an MD5 row key, bad rows left out
  (not recorded), ``INSERT`` into the same declared ``requests`` table of a DuckDB file, commit. No file hash, no
  line numbers, no rejects table, no masking, no count check: the ratio is what those guarantees cost;
* ``duckdb_same_work_guarded`` (for reference; the goal's ratio is against ``duckdb_same_work``): the same job
  with the two guarantees that cost the most added as the workbench does them: every text value tested for keys
  of known shapes and masked where one is found (:func:`finops_lib.warehouse.privacy.masked_select`, its pattern
  and function) and the file's SHA-256 computed in a thread while it loads. The ratio of ``finops`` to this one is
  what the rest of the workbench's work costs (line numbers, rejects, canonical model ids, six dimensions, the
  count check, two commits);
* ``duckdb_scan`` (for reference only): ``read_csv`` + ``GROUP BY`` (day, model), no table written;
* ``pandas_normalize`` (``--pandas``): the job in plain pandas, chunked, Parquet out.

Then the sample folder (55 small files of 9 formats): ``finops ingest`` into a fresh warehouse, and again when
nothing changed, both in-process (the library call) and as the command (``finops ingest``, a new process; the
median of 5 runs when nothing changed).

Goals (issue 19): at 10M rows finops <= 1.3x ``duckdb_same_work`` with peak RSS under 2 GB; the sample folder
under 3 s on a fresh warehouse and under 1 s when nothing changed. Results are printed and written to
``benchmarks/out/ingest_results.json``.

Usage: ``python benchmarks/ingest.py [--rows N [N ...]] [--pandas] [--repeat K] [--only NAME ...]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "out"
GOALS = {"max_ratio_to_same_work_10m": 1.3, "max_peak_rss_gb": 2.0, "sample_fresh_s": 3.0,
         "sample_unchanged_s": 1.0}
#: What the hand-written DuckDB job reads out of ``metadata`` (the same fields the workbench reads).
META = json.dumps({"usage_object": {"cache_read_input_tokens": "BIGINT",
                                    "prompt_tokens_details": {"cached_tokens": "BIGINT"},
                                    "cache_creation_input_tokens": "BIGINT",
                                    "cache_creation_token_details": {"ephemeral_5m_input_tokens": "BIGINT",
                                                                     "ephemeral_1h_input_tokens": "BIGINT"},
                                    "completion_tokens_details": {"reasoning_tokens": "BIGINT"}},
                   "user_api_key_alias": "VARCHAR", "user_api_key_team_alias": "VARCHAR"})


def ensure_sample(rows: int) -> Path:
    """Generate the scaled sample once; return its LiteLLM CSV."""
    from finops_lib.sample import generate

    folder = OUT / f"sample_{rows}"
    target = folder / "litellm" / "spend_logs.csv"
    if target.exists():
        return target
    base = json.loads((ROOT / "data" / "sample" / "manifest.json").read_text())
    per_scale = next(f["rows"] for f in base["files"] if f["path"].startswith("litellm/"))
    print(f"generating ~{rows:,} LiteLLM rows into {folder} ...", flush=True)
    t0 = time.perf_counter()
    generate(folder, scale=rows / per_scale, compress_gateway_logs=False)
    print(f"  generated in {time.perf_counter() - t0:.0f} s", flush=True)
    return target


def _fresh(name: str) -> Path:
    wh = OUT / name
    shutil.rmtree(wh, ignore_errors=True)
    wh.mkdir(parents=True)
    return wh


def run_finops(path: Path) -> dict:
    from finops_lib import engine
    from finops_lib.warehouse import ingest

    wh = _fresh("bench_finops")
    t0 = time.perf_counter()
    con = engine.connect(warehouse=wh)
    row = ingest([path], con=con).iloc[0]
    con.disconnect()
    return {"seconds": time.perf_counter() - t0, "rows_read": int(row.rows_read), "rows_loaded": int(row.rows_loaded),
            "rows_rejected": int(row.rows_rejected), "status": row.status}


def _tag(key: str) -> str:
    return f"nullif(regexp_extract(list_filter(tags, t -> lower(t) LIKE '{key}:%')[1], ':(.*)$', 1), '')"


def same_work_sql(path: Path) -> str:
    """The hand-written DuckDB job: the same ``requests`` rows, without the workbench's guarantees."""
    quoted = str(path).replace("'", "''")
    return f"""INSERT INTO requests BY NAME
WITH p AS (
  SELECT *, TRY_CAST("startTime" AS TIMESTAMPTZ) AS t_start, TRY_CAST(spend AS DOUBLE) AS n_spend,
         TRY_CAST(prompt_tokens AS BIGINT) AS n_prompt, TRY_CAST(completion_tokens AS BIGINT) AS n_completion,
         try(json_transform(metadata, '{META}')) AS s, try(json_extract_string(request_tags, '$[*]')) AS tags
  FROM read_csv('{quoted}', all_varchar = true, header = true)
), b AS (
  SELECT *, coalesce(s.usage_object.cache_read_input_tokens, s.usage_object.prompt_tokens_details.cached_tokens, 0)
              AS b_read,
         coalesce(s.usage_object.cache_creation_token_details.ephemeral_5m_input_tokens,
                  s.usage_object.cache_creation_input_tokens, 0) AS b_w5m,
         coalesce(s.usage_object.cache_creation_token_details.ephemeral_1h_input_tokens, 0) AS b_w1h
  FROM p WHERE t_start IS NOT NULL AND n_spend IS NOT NULL AND n_prompt IS NOT NULL AND n_completion IS NOT NULL
)
SELECT request_id AS x_RequestId, t_start AS ChargePeriodStart, TRY_CAST("endTime" AS TIMESTAMPTZ) AS ChargePeriodEnd,
  coalesce(custom_llm_provider, 'unknown') AS ProviderName, model AS x_Model, model AS x_ModelRaw,
  lower(call_type) AS x_Operation, 'standard' AS x_ServiceTier,
  n_prompt - b_read - b_w5m - b_w1h AS x_InputUncachedTokens, b_read AS x_InputCacheReadTokens,
  b_w5m AS x_InputCacheWrite5mTokens, b_w1h AS x_InputCacheWrite1hTokens, n_completion AS x_OutputTokens,
  s.usage_object.completion_tokens_details.reasoning_tokens AS x_OutputReasoningTokens,
  TRY_CAST(request_duration_ms AS DOUBLE) AS x_LatencyMs, coalesce(lower(status), 'success') AS x_Status,
  CAST(round(n_spend, 12) AS DECIMAL(38, 12)) AS x_ReportedCost, 'USD' AS BillingCurrency, api_key AS x_ApiKeyId,
  coalesce(nullif(end_user, ''), nullif("user", '')) AS x_UserId,
  coalesce({_tag("team")}, s.user_api_key_team_alias, team_id) AS x_Team, {_tag("app")} AS x_Application,
  {_tag("feature")} AS x_Feature, {_tag("env")} AS x_Environment, session_id AS x_SessionId,
  json_object('request_tags', tags, 'key_alias', s.user_api_key_alias, 'team_id', team_id) AS Tags,
  'litellm_spend_logs' AS x_SourceFormat, '{quoted}' AS x_SourceFile, md5(request_id) AS x_RowHash
FROM b"""


def run_duckdb_same_work(path: Path, *, guarded: bool = False) -> dict:
    """Time the hand-written job; ``guarded``: with the secrets test and the file's hash (see the module's doc)."""
    import types

    import duckdb

    from finops_lib.schema import TABLES
    from finops_lib.warehouse import privacy
    from finops_lib.warehouse.ledger import hash_in_background

    wh = _fresh("bench_same_work_guarded" if guarded else "bench_same_work")
    t0 = time.perf_counter()
    con = duckdb.connect(str(wh / "same_work.duckdb"))
    con.execute("SET memory_limit = '1GB'")  # the workbench's default limit: the same memory budget
    columns = ", ".join(f'"{n}" {t}' for n, t in _duckdb_columns(TABLES["requests"]))
    con.execute(f"CREATE TABLE requests ({columns})")
    statement = same_work_sql(path)
    hashing = None
    if guarded:  # the workbench's own secrets test and masking function, and its hash thread
        hashing = hash_in_background(path)
        head, select = statement.split("\n", 1)
        described = con.execute(f"DESCRIBE {select}").fetchall()
        text = [(name, kind == "VARCHAR") for name, kind, *_ in described]
        statement = f"{head}\n" + privacy.masked_select(types.SimpleNamespace(con=con), "_", text,
                                                          source=f"({select})")
    con.execute("BEGIN")
    con.execute(statement)
    sha = hashing.result() if hashing is not None else None
    con.execute("COMMIT")
    loaded = con.execute("SELECT count(*) FROM requests").fetchone()[0]
    con.close()
    return {"seconds": time.perf_counter() - t0, "rows_loaded": loaded, "sha256": sha}


def run_duckdb_same_work_guarded(path: Path) -> dict:
    return run_duckdb_same_work(path, guarded=True)


def _duckdb_columns(table: object) -> list[tuple[str, str]]:
    from ibis.backends.sql.datatypes import DuckDBType

    return [(c.name, DuckDBType.to_string(c.ibis_type)) for c in table.columns]


def run_duckdb_scan(path: Path) -> dict:
    import duckdb

    t0 = time.perf_counter()
    out = duckdb.connect().execute(
        "SELECT CAST(startTime AS DATE) AS day, model, count(*) AS n, sum(spend) AS spend "
        f"FROM read_csv('{path}', ignore_errors = true) GROUP BY ALL").fetchall()
    return {"seconds": time.perf_counter() - t0, "rows_read": sum(r[2] for r in out)}


def run_pandas_normalize(path: Path) -> dict:
    """The same job in plain pandas, in chunks of 500,000 rows (the whole file does not fit in memory)."""
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
    return {"seconds": time.perf_counter() - t0, "rows_read": read, "rows_loaded": loaded}


def run_sample(folder: Path) -> dict:
    """The sample folder into a fresh warehouse, then again unchanged: in-process and as the command."""
    from finops_lib import engine
    from finops_lib.warehouse import ingest

    wh = _fresh("bench_sample")
    t0 = time.perf_counter()
    con = engine.connect(warehouse=wh)
    summary = ingest([folder], con=con)
    con.disconnect()
    fresh = time.perf_counter() - t0
    t0 = time.perf_counter()
    con = engine.connect(warehouse=wh)
    again = ingest([folder], con=con)
    con.disconnect()
    unchanged = time.perf_counter() - t0
    command = [str(Path(sys.executable).with_name("finops")), "ingest", str(folder), "--warehouse", str(wh)]
    runs = []
    for _ in range(5):  # a new process is mostly imports: the median of 5 (benchmarks/cli_unchanged.py has more)
        t0 = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        runs.append(time.perf_counter() - t0)
    unchanged_command = statistics.median(runs)
    wh2 = _fresh("bench_sample_cli")
    t0 = time.perf_counter()
    subprocess.run([*command[:-1], str(wh2)], check=True, capture_output=True)
    fresh_command = time.perf_counter() - t0
    return {"seconds": fresh, "files": len(summary), "rows_loaded": int(summary.rows_loaded.sum()),
            "unchanged_seconds": unchanged, "unchanged_files": int((again.status == "unchanged").sum()),
            "fresh_command_seconds": fresh_command, "unchanged_command_seconds": unchanged_command}


RUNNERS = {"finops": run_finops, "duckdb_same_work": run_duckdb_same_work,
           "duckdb_same_work_guarded": run_duckdb_same_work_guarded, "duckdb_scan": run_duckdb_scan,
           "pandas_normalize": run_pandas_normalize, "sample": run_sample}


def measure(name: str, path: Path) -> dict:
    """Run one approach in a subprocess; add its peak RSS (GB)."""
    proc = subprocess.Popen([sys.executable, __file__, "--child", name, str(path)], stdout=subprocess.PIPE,
                            text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    output = proc.stdout.read()
    peak = usage.ru_maxrss / 1024**2  # ru_maxrss is in KiB on Linux
    if status != 0:
        print(f"{name} failed (wait status {status}; 9 = killed, e.g. out of memory)", flush=True)
        return {"seconds": float("nan"), "failed": True, "status": status, "peak_rss_gb": peak}
    return {**json.loads(output.strip().splitlines()[-1]), "peak_rss_gb": peak}


def best_of(name: str, path: Path, repeat: int) -> dict:
    runs = [measure(name, path) for _ in range(repeat)]
    best = min(runs, key=lambda r: r["seconds"])
    return {**best, "peak_rss_gb": max(r["peak_rss_gb"] for r in runs)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=1, help="runs per approach (best time kept)")
    parser.add_argument("--pandas", action="store_true", help="also time the job in plain pandas")
    parser.add_argument("--only", nargs="+", choices=list(RUNNERS), help="run only these approaches")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(RUNNERS[args.child[0]](Path(args.child[1])), default=str))
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    names = args.only or ["duckdb_same_work", "duckdb_same_work_guarded", "finops", "duckdb_scan",
                          *(["pandas_normalize"] if args.pandas else [])]
    summary: dict = {"cpu_count": os.cpu_count(), "goals": GOALS, "sizes": {}}
    checked: dict[str, bool] = {}  # goal -> met, for the goals this run measured
    for rows in args.rows:
        path = ensure_sample(rows)
        size_gb = path.stat().st_size / 1024**3
        print(f"\n{rows:,} rows: {path} ({size_gb:.2f} GB)", flush=True)
        results = {}
        for name in (n for n in names if n != "sample"):
            results[name] = best_of(name, path, args.repeat)
            r = results[name]
            print(f"{name:>17}: {r['seconds']:7.1f} s  peak RSS {r['peak_rss_gb']:.2f} GB", flush=True)
        entry = {"file": str(path), "file_gb": round(size_gb, 3), "results": results}
        if {"finops", "duckdb_same_work"} <= set(results):
            ratio = results["finops"]["seconds"] / results["duckdb_same_work"]["seconds"]
            entry["finops_vs_same_work"] = round(ratio, 3)
            print(f"finops / bare DuckDB doing the same work: {ratio:.2f}", flush=True)
            if rows >= 10_000_000:
                checked["max_ratio_to_same_work_10m"] = ratio <= GOALS["max_ratio_to_same_work_10m"]
                checked["max_peak_rss_gb"] = results["finops"]["peak_rss_gb"] <= GOALS["max_peak_rss_gb"]
        if {"finops", "duckdb_same_work_guarded"} <= set(results):  # for reference: not the goal's ratio
            guarded = results["finops"]["seconds"] / results["duckdb_same_work_guarded"]["seconds"]
            entry["finops_vs_same_work_guarded"] = round(guarded, 3)
            print(f"finops / the same work with the secrets test and the file hash: {guarded:.2f}", flush=True)
        summary["sizes"][str(rows)] = entry
    if args.only is None or "sample" in args.only:
        sample = best_of("sample", ROOT / "data" / "sample", args.repeat)
        summary["sample"] = sample
        print(f"\nsample folder ({sample['files']} files): fresh {sample['seconds']:.2f} s "
              f"(command {sample['fresh_command_seconds']:.2f} s), unchanged {sample['unchanged_seconds']:.2f} s "
              f"(command {sample['unchanged_command_seconds']:.2f} s)", flush=True)
        checked["sample_fresh_s"] = sample["seconds"] <= GOALS["sample_fresh_s"]
        checked["sample_unchanged_s"] = sample["unchanged_command_seconds"] <= GOALS["sample_unchanged_s"]
    summary["goals_checked"] = checked
    summary["goals_met"] = bool(checked) and all(checked.values()) and len(checked) == len(GOALS)
    (OUT / "ingest_results.json").write_text(json.dumps(summary, indent=2, default=str))
    missed = [g for g, met in checked.items() if not met]
    unmeasured = [g for g in GOALS if g not in checked]
    print(f"goals met: {len(checked) - len(missed)} of {len(GOALS)}"
          + (f"; NOT MET: {', '.join(missed)}" if missed else "")
          + (f"; not measured by this run: {', '.join(unmeasured)}" if unmeasured else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
