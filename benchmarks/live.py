"""Benchmark: the live path against the fake vendor server, for an organisation of 50 projects x 10 models.

1. The full first pull: 90 days of OpenAI costs (daily) and usage (28 days hourly, the rest daily), landed and
   ingested (goal: under 2 minutes against the local server).
2. One watch cycle an hour later, with one key in a runaway loop: pull (3 hours of look-back) + ingest + detect on
   hourly series + notify (a file channel) (goal: under 10 seconds).

Usage: python benchmarks/live.py [out-folder]
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from finops_lib import engine
from finops_lib.live import PullOptions, pull
from finops_lib.warehouse import ingest
from finops_lib.watch import load_watch_config, watch_once

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
OUT = Path(ARGS[0] if ARGS else Path(__file__).parent / "out" / "live")
DAY = datetime(2026, 11, 30, 9, tzinfo=UTC)


def start(folder: Path) -> tuple[subprocess.Popen[str], str, Path]:
    control = folder / "control.json"
    control.write_text(json.dumps({"now": DAY.isoformat()}))
    process = subprocess.Popen([sys.executable, "-m", "finops_lib.sample.vendor_server", "--port", "0",
                                "--control-file", str(control), "--size", "bench"], stdout=subprocess.PIPE,
                               text=True)  # fmt: skip
    line = process.stdout.readline() if process.stdout else ""
    return process, line.split()[1], control


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    process, url, control = start(OUT)
    env = {"OPENAI_ADMIN_KEY": "sk-admin-" + "B" * 32, "OPENAI_BASE_URL": url + "/v1"}
    try:
        con = engine.connect(warehouse=OUT / "wh.duckdb")
        began = time.perf_counter()
        report = pull("openai", OUT / "data", env=env, ingest=lambda files: ingest([str(f) for f in files], con=con),
                      options=PullOptions(history=timedelta(days=90), hourly_days=28))  # fmt: skip
        first = time.perf_counter() - began
        rows = int(report.ingest["rows_loaded"].sum())
        con.disconnect()
        pages, results = sum(e.pages for e in report.endpoints), sum(e.results for e in report.endpoints)
        print(f"first pull, 90 days: {first:.1f} s; {report.requests} requests, {pages} pages, {results:,} results, "
              f"{rows:,} rows loaded; exit {report.exit_code}")  # fmt: skip
        (OUT / "watch.yaml").write_text(f"data: {OUT / 'data'}\nwarehouse: {OUT / 'wh.duckdb'}\npull: [openai]\n"
                                        f"notify: [{{type: file, path: {OUT / 'alerts.jsonl'}}}]\n")  # fmt: skip
        config = load_watch_config(OUT / "watch.yaml")
        control.write_text(json.dumps({"now": (DAY + timedelta(hours=2)).isoformat(), "scenarios": [{"runaway": {
            "api_key_id": "key_op071", "start": (DAY + timedelta(hours=1)).isoformat(), "factor": 8}}]}))
        os.environ.update(env)
        timings = []
        for _ in range(3):
            began = time.perf_counter()
            cycle = watch_once(config, env=env)
            timings.append(time.perf_counter() - began)
        print(f"watch cycle (pull 3h + ingest + detect + notify): {min(timings):.1f} s best of 3 "
              f"({', '.join(f'{t:.1f}' for t in timings)}); incidents {[i.incident_id for i in cycle.incidents]}")
        sent = (OUT / "alerts.jsonl").read_text().splitlines() if (OUT / "alerts.jsonl").exists() else []
        print(f"messages sent: {len(sent)}")
    finally:
        process.terminate()


if __name__ == "__main__":
    main()
