"""``finops status``: what the workspace holds, read through the warehouse's status and the facts layer.

Per source format: files, rows loaded and rejected, first and last day, last ingest; rejects by reason; the files
in no table (skipped or failed, with the reason and the fix); unpriced models; the config in effect; and the
spend over the whole window, the same facts call as the report's overview page and index
(``open_facts(...).total("cost")``): ``Spend (USD), 2026-05-05 to 2026-10-31: $65,871.26``.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from finops_lib import checks
from finops_lib.cli.common import Workspace, open_workspace, print_frame
from finops_lib.cli.config import CONFIG_FILES
from finops_lib.cli.workspace_facts import workspace_rules
from finops_lib.facts import Facts, open_facts, unpriced_models
from finops_lib.fx import fmt_money
from finops_lib.warehouse import sources
from finops_lib.warehouse.status import ingest_times, ingested_paths, rejects_by_reason


def spend(facts: Facts) -> dict[str, str]:
    """Return the spend of the facts' window: ``currency``, ``total`` (exact), ``text``, ``start``, ``end``, ``line``.

    ``line`` reads as the report index's first figure: ``Spend (USD), 2026-05-05 to 2026-10-31: $65,871.26``.
    """
    total = facts.total("cost")
    first, last = facts.date_range("money")
    text = fmt_money(total, facts.currency)
    window = f", {first} to {last}" if first else ""
    return {"currency": facts.currency, "total": str(total), "text": text, "start": str(first or ""),
            "end": str(last or ""), "line": f"Spend ({facts.currency}){window}: {text}"}  # fmt: skip


def _sources(con: Any) -> pd.DataFrame:
    """Per source format and table: files, rows, first and last day, last ingest (UTC)."""
    loaded = sources(con)[["source", "table", "files", "rows_read", "rows_loaded", "rows_rejected", "start", "end"]]
    times = ingest_times(con)[["source", "last_ingest"]]
    out = loaded.merge(times, on="source", how="left")
    for col in ("start", "end"):
        out[col] = pd.to_datetime(out[col]).dt.strftime("%Y-%m-%d").fillna("")
    out["last_ingest"] = pd.to_datetime(out["last_ingest"], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S UTC")
    return out


def _not_loaded(ws: Workspace, held: set[str]) -> pd.DataFrame:
    """Return the files ``finops ingest`` recorded as skipped or failed that are still there and in no table."""
    columns = ["path", "status", "reason", "fix", "at"]
    if ws.log is None or not ws.log.is_file():
        return pd.DataFrame(columns=columns)
    files = json.loads(ws.log.read_text(encoding="utf-8")).get("files", {})
    rows = [{"path": path, **entry} for path, entry in sorted(files.items())
            if path not in held and Path(path).is_file()]  # fmt: skip
    return pd.DataFrame(rows, columns=[*columns, "format"])[columns]


def collect(con: Any, ws: Workspace, *, currency: str = "USD") -> dict[str, Any]:
    """Return everything ``finops status`` shows, as plain values (the ``--json`` document).

    Parameters
    ----------
    con
        The workspace's open warehouse.
    ws
        The workspace (its config and the record of files not loaded).
    currency
        Currency of the spend; other billing currencies are converted at the charge day's rate.
    """
    facts = open_facts(con, currency=checks.currency_code(currency, name="--currency"), rules=workspace_rules(ws))
    with facts.pinned() as pinned:  # the row sets once: spend and unpriced models ask them twice
        total, unpriced = spend(pinned), unpriced_models(pinned)
    loaded = _sources(con)
    rejects = rejects_by_reason(con)
    by_reason = rejects.groupby("reason", as_index=False)["rows"].sum()
    by_reason = by_reason.sort_values(["rows", "reason"], ascending=[False, True])
    held = ingested_paths(con)
    config = {name: str(found) for name in CONFIG_FILES if (found := ws.config_file(name)) is not None}
    return {
        "warehouse": ws.describe(),
        "config_dirs": [str(d) for d in ws.config_dirs],
        "config": config,
        "spend": total,
        "files": int(loaded.drop_duplicates("source")["files"].sum()),
        "last_ingest": max(loaded["last_ingest"].dropna(), default=""),
        "sources": loaded.to_dict("records"),
        "rejects_by_reason": by_reason.to_dict("records"),
        "rejects_by_file": rejects.to_dict("records"),
        "not_loaded": _not_loaded(ws, held).to_dict("records"),
        "unpriced": unpriced[["table", "provider", "model", "bucket", "tokens", "first_day", "last_day"]]
        .astype({"first_day": str, "last_day": str}).to_dict("records"),
    }


def _print(info: dict[str, Any]) -> None:
    print(f"warehouse: {info['warehouse']}")
    print(f"config: {', '.join(f'{k} ({v})' for k, v in info['config'].items()) or 'none'} "
          f"(looked up in {', '.join(info['config_dirs']) or 'no folder'})")  # fmt: skip
    print(info["spend"]["line"])
    print(f"\nfiles: {info['files']}, last ingest {info['last_ingest']}")
    print_frame(pd.DataFrame(info["sources"]))
    sections = (("rejects_by_reason", "rejected rows by reason (see the rejects table for file, line, column)",
                 "no rejected row"),
                ("unpriced", "models with tokens but no price (in no money total)", "every model has a price"))
    for key, title, none in sections:
        frame = pd.DataFrame(info[key])
        print(f"\n{title}:" if len(frame) else f"\n{none}")
        if len(frame):
            print_frame(frame)
    print(f"\nfiles in no table: {len(info['not_loaded'])}" if info["not_loaded"]
          else "\nevery file given to `finops ingest` is in a table")  # fmt: skip
    for row in info["not_loaded"]:
        print(f"{row['status'].upper()} {row['path']} (at {row['at']}): {row['reason']}\n  fix: {row['fix']}")


def _plain(value: object) -> object:
    """JSON for what ``json`` does not know: numpy scalars as numbers, Decimal and times as text."""
    return value.item() if hasattr(value, "item") and not isinstance(value, Decimal) else str(value)


def run(args: argparse.Namespace) -> int:
    """Print what the workspace holds (``--json``: as JSON)."""
    con, ws = open_workspace(args)
    try:
        info = collect(con, ws, currency=args.currency)
    finally:
        con.disconnect()
    if args.json:
        print(json.dumps(info, indent=1, default=_plain))
    else:
        _print(info)
    return 0
