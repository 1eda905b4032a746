"""``make demo-watch``: the live path end to end against the fake vendor server, in about two minutes.

Starts :mod:`finops_lib.sample.vendor_server` (a real HTTP process) playing a generated organisation whose API key
``key_op011`` runs away (x8) from 10:00 to 13:00 on 2026-11-30, then runs ``finops watch --once`` every 15
simulated minutes from 08:00 to 14:30 with a file channel: what a Slack or e-mail channel would have received lands
in ``build/demo-watch/alerts.jsonl``, one JSON line per message. Nothing here touches the network beyond loopback.

Usage: ``python -m finops_lib.watch.demo [folder]`` (default ``build/demo-watch``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from finops_lib import paths
from finops_lib.watch import load_watch_config, watch_once

__all__ = ["main"]

DAY = datetime(2026, 11, 30, tzinfo=UTC)
KEY = "key_op011"


def _start(folder: Path) -> tuple[subprocess.Popen[str], str, Path]:
    control = folder / "server" / "control.json"
    control.parent.mkdir(parents=True, exist_ok=True)
    control.write_text(json.dumps({"now": DAY.replace(hour=8).isoformat(), "scenarios": [{"runaway": {
        "api_key_id": KEY, "start": DAY.replace(hour=10).isoformat(), "end": DAY.replace(hour=13).isoformat(),
        "factor": 8}}]}))  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "finops_lib.sample.vendor_server", "--port", "0",
                                "--control-file", str(control), "--size", "demo"], stdout=subprocess.PIPE,
                               text=True)  # fmt: skip
    line = process.stdout.readline() if process.stdout else ""
    if not line.startswith("LISTENING "):
        process.kill()
        raise RuntimeError(f"the fake vendor server did not start: {line!r}")
    return process, line.split()[1], control


def main(argv: list[str] | None = None) -> int:
    """Run the demo; print each cycle and where the alerts are."""
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]) if args else paths.BUILD_DIR / "demo-watch"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    process, url, control = _start(folder)
    alerts = folder / "alerts.jsonl"
    (folder / "watch.yaml").write_text(
        f"data: {folder / 'data'}\nwarehouse: {folder / 'warehouse.duckdb'}\npull: [openai]\nfirst_pull_days: 40\n"
        f"hourly_days: 40\nnotify: [{{type: file, path: {alerts}}}]\n")  # fmt: skip
    env = {"OPENAI_ADMIN_KEY": "sk-admin-demo-" + "0" * 24, "OPENAI_BASE_URL": url + "/v1"}
    config = load_watch_config(folder / "watch.yaml")
    try:
        moment = DAY.replace(hour=8)
        while moment <= DAY.replace(hour=14, minute=30):
            doc = json.loads(control.read_text())
            control.write_text(json.dumps({**doc, "now": moment.isoformat()}))
            report = watch_once(config, env=env)
            said = "; ".join(f"{s['event']} {s['incident']}" for s in report.sent) or "nothing to say"
            print(f"{moment:%H:%M} simulated: {said}", flush=True)
            moment += timedelta(minutes=15)
    finally:
        process.terminate()
    print(f"\nwhat the channels received: {alerts}")
    for line in alerts.read_text().splitlines() if alerts.exists() else []:
        print("\n" + json.loads(line)["text"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
