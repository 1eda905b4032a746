"""Benchmark: 10,000 forecast series (team x model x API key) from a warehouse, on this machine, DuckDB or Spark.

Synthetic OpenAI Usage API pages (completions, one daily bucket per page, grouped by project, API key and model:
``--teams`` projects, ``--keys`` keys each, ``--models`` models, ``--days`` days; tokens with a weekly pattern,
growth and noise) and the rules file saying which team owns each project are written once under
``benchmarks/out/``, ingested into a new warehouse, and then timed:

* ``series``: :func:`finops_lib.forecast.build_series` by ``team,model,api_key`` through the facts: tokens (the
  Usage API reports usage per key; money per key would only be its estimate at list prices, which the facts keep out
  of spend), each project's team from the rules;
* ``fits``: Prophet, 30 days ahead, every series, in ``--workers`` processes (:mod:`finops_lib.forecast.parallel`).

``--engine pyspark``: the pages are ingested into a local Spark session's catalog (``finops ingest --engine
pyspark:///catalog``'s path), the series are built through the facts on Spark, and the fits run on the session's
workers (``applyInPandas``, :mod:`finops_lib.forecast.spark_fits`).

Goal (issue 19): 10,000 series, series plus fits, in under 10 minutes on 2 cores with DuckDB; the Spark path shown
on 1,000. Results go to ``benchmarks/out/forecast_many_<engine>_<series>.json``.

Usage: ``python benchmarks/forecast_many.py [--teams 100] [--keys 10] [--models 10] [--days 120] [--workers 2]
[--engine duckdb|pyspark]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "out"
GOAL_SECONDS = 600.0
#: Models of the shipped price catalog (so every row is priced).
MODELS = ["gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06", "gpt-4.1-2025-04-14", "gpt-4.1-mini-2025-04-14",
          "gpt-4.1-nano-2025-04-14", "gpt-5-2025-08-07", "gpt-5-mini-2025-08-07", "gpt-5-nano-2025-08-07",
          "o3-2025-04-16", "o4-mini-2025-04-16"]


def write_pages(folder: Path, *, teams: int, keys: int, models: int, days: int, seed: int = 7) -> int:
    """Write one Usage API page per day and the rules file (project -> team); return the results written."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 5, 4, tzinfo=UTC)
    week = np.array([1.0, 1.0, 1.0, 1.0, 0.95, 0.4, 0.35])
    combos = [(t, k, m) for t in range(teams) for k in range(keys) for m in range(models)]
    level = rng.uniform(20_000, 400_000, len(combos))
    growth = 1 + rng.uniform(0, 0.8, len(combos))
    noise = rng.lognormal(0, 0.1, (days, len(combos)))
    (folder / "openai").mkdir(parents=True, exist_ok=True)
    for d in range(days):
        tokens = (level * week[d % 7] * (1 + (growth - 1) * d / days) * noise[d]).astype(int)
        results = [{"object": "organization.usage.completions.result", "input_tokens": int(n),
                    "input_cached_tokens": 0, "output_tokens": int(n) // 8, "num_model_requests": 1 + int(n) // 5000,
                    "project_id": f"proj_team{t:03d}", "user_id": None, "api_key_id": f"key_{t:03d}_{k:02d}",
                    "model": MODELS[m],
                    "batch": False, "service_tier": "default"} for (t, k, m), n in zip(combos, tokens, strict=True)]
        begin = int((start + timedelta(days=d)).timestamp())
        page = {"object": "page", "data": [{"object": "bucket", "start_time": begin, "end_time": begin + 86_400,
                                            "results": results}], "has_more": False, "next_page": None}
        (folder / "openai" / f"usage_completions_{d:03d}.json").write_text(json.dumps(page))
    rules = ["version: 1", "rules:"]
    for t in range(teams):
        rules += [f"  - name: project-team{t:03d}",
                  f"    match: {{provider: OpenAI, sub_account: proj_team{t:03d}}}",
                  f"    set: {{team: team-{t:03d}}}"]
    (folder / "config").mkdir(exist_ok=True)
    (folder / "config" / "allocation_rules.yaml").write_text("\n".join(rules) + "\n")
    return days * len(combos)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--teams", type=int, default=100)
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model", default="prophet")
    parser.add_argument("--engine", default="duckdb", choices=("duckdb", "pyspark"),
                        help="where the series are built and fitted (pyspark: a local Spark session's workers)")
    parser.add_argument("--metric", default="tokens", choices=("tokens", "spend"),
                        help="tokens (default: usage by key is what the Usage API gives; money by key is only an "
                        "estimate at list prices, which the facts keep out of spend)")
    args = parser.parse_args()

    from finops_lib import engine
    from finops_lib.facts import open_facts
    from finops_lib.forecast import backtest as bt
    from finops_lib.forecast import build_series
    from finops_lib.forecast.series import series_map
    from finops_lib.rules import resolve_rules
    from finops_lib.warehouse import ingest

    expected = args.teams * args.keys * args.models
    folder = OUT / f"forecast_many_{expected}x{args.days}"
    if not (folder / "config" / "allocation_rules.yaml").exists():
        t0 = time.perf_counter()
        rows = write_pages(folder, teams=args.teams, keys=args.keys, models=args.models, days=args.days)
        print(f"wrote {rows:,} usage results in {time.perf_counter() - t0:.0f} s", flush=True)
    warehouse = OUT / f"bench_forecast_many_{args.engine}"
    shutil.rmtree(warehouse, ignore_errors=True)
    t0 = time.perf_counter()
    spark_url = f"pyspark://{warehouse / 'catalog'}" if args.engine == "pyspark" else None
    con = engine.connect(spark_url, warehouse=warehouse)
    ingest([folder], con=con)
    ingest_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    facts = open_facts(con, currency="USD", rules=resolve_rules("", folder))
    frame = build_series(facts, by="team,model,api_key", metric=args.metric)
    series = series_map(frame)
    series_s = time.perf_counter() - t0
    print(f"ingest {ingest_s:.1f} s; {len(series):,} series of {args.days} days built in {series_s:.1f} s", flush=True)

    t0 = time.perf_counter()
    forecasts = bt.fit_forecasts(series, args.model, horizon=30, workers=args.workers, progress=True, on=con)
    fits_s = time.perf_counter() - t0
    fallbacks = sum(1 for f in forecasts.values() if "failed" in (f.note or ""))
    total = series_s + fits_s
    result = {"engine": args.engine, "series": len(series), "expected_series": expected, "days": args.days,
              "model": args.model, "metric": args.metric, "cores": os.cpu_count(),
              "workers": args.workers if args.engine == "duckdb" else "local[*]",
              "ingest_seconds": round(ingest_s, 1),
              "series_seconds": round(series_s, 1),
              "fit_seconds": round(fits_s, 1), "seconds": round(total, 1), "fallbacks": fallbacks,
              "goal_seconds": GOAL_SECONDS, "goal_met": len(series) >= expected and total <= GOAL_SECONDS}
    print(f"{args.engine}: {len(series):,} series: series {series_s:.1f} s + {args.model} fits {fits_s:.1f} s = "
          f"{total:.1f} s (goal {GOAL_SECONDS:.0f} s); {fallbacks} fits fell back to seasonal naive", flush=True)
    (OUT / f"forecast_many_{args.engine}_{expected}.json").write_text(json.dumps(result, indent=2))
    con.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
