"""One watch cycle: pull, ingest, detect on hourly series and budget burn, notify; and the loop around it.

A cycle holds the warehouse for its own short time only (one writer connection: pulls ingest through it, then
the detectors read through it), so a notebook or a report reading a snapshot is never in its way and a running
``finops ingest`` only makes it wait (``$FINOPS_LOCK_TIMEOUT``). The alert state is saved after the messages
are sent; a message no channel took is planned again on the next cycle.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from ibis.backends import BaseBackend

from finops_lib import engine, pricing
from finops_lib.anomalies import scan
from finops_lib.anomalies.detectors import WEEKLY_HOURS, episodes
from finops_lib.errors import FinopsError, NotEnoughData
from finops_lib.facts import build_cells, open_facts
from finops_lib.forecast.budgets import load_budgets
from finops_lib.live import PullOptions, PullReport, pull
from finops_lib.live.gateway import pull_litellm
from finops_lib.notify import NotifyError, send
from finops_lib.warehouse import ingest
from finops_lib.warehouse.status import ingested_count
from finops_lib.watch.burn import budget_messages
from finops_lib.watch.config import WatchConfig
from finops_lib.watch.incidents import WatchState, find_incidents, plan_messages
from finops_lib.watch.messages import message_for

__all__ = ["CycleReport", "watch_loop", "watch_once"]

LOG = logging.getLogger("finops_lib.watch")
#: Series the watch scans, hourly.
DIMENSIONS = ("total", "provider", "team", "application", "model", "api_key")


@dataclass
class CycleReport:
    """What one cycle did."""

    pulls: list[PullReport] = field(default_factory=list)
    hour: pd.Timestamp | None = None
    incidents: list[Any] = field(default_factory=list)
    sent: list[dict[str, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 all well; 2 a pull stopped or a message reached no channel; 3 a pull is incomplete."""
        if any(p.exit_code == 2 for p in self.pulls) or any(not s["ok"] for s in self.sent):
            return 2
        return 3 if any(p.exit_code == 3 for p in self.pulls) else 0


def _pull_all(config: WatchConfig, con: BaseBackend, env: Mapping[str, str], report: CycleReport) -> None:
    options = PullOptions(lookback=config.lookback, deep_lookback=config.deep_lookback, deep_every=config.deep_every,
                          history=timedelta(days=config.first_pull_days), hourly_days=config.hourly_days)

    def load(files: list[Path]) -> pd.DataFrame:
        return ingest([str(f) for f in files], con=con)

    for spec in config.pulls:
        opts = replace(options, endpoints=spec.endpoints)
        if spec.vendor == "litellm":
            result = pull_litellm(config.data, ingest=load, options=opts, env=env)
        else:
            result = pull(spec.vendor, config.data, ingest=load, options=opts, env=env)
        report.pulls.append(result)
        if result.error:
            report.notes.append(f"pull {spec.vendor} stopped: {result.error}")


def _detect(config: WatchConfig, con: BaseBackend, report: CycleReport) -> tuple[list[Any], pd.DataFrame]:
    """Return (incidents going on at the latest complete hour, hourly cells)."""
    if not ingested_count(con):  # a new workspace: the tables are made by the first ingest
        report.notes.append("nothing ingested yet: nothing to watch (pull a vendor, or finops ingest a folder)")
        return [], pd.DataFrame()
    facts = open_facts(con, currency=config.currency)
    pulled = [e.complete_until for p in report.pulls for e in p.endpoints if e.complete_until]
    last = max(pulled).date() if pulled else facts.date_range("tokens")[1]  # the pulls know: no query needed
    if last is None:
        report.notes.append("no usage yet: nothing to watch")
        return [], pd.DataFrame()
    facts = facts.with_options(start_date=last - timedelta(days=config.detect.history_days))
    cells = build_cells(facts, grain="hour", catalog=pricing.catalog_for(config.data), buckets=False)
    complete = cells[~cells["partial"]] if len(cells) else cells
    if complete.empty:
        report.notes.append("no hourly usage: the watch needs usage in hourly buckets (finops pull) or a gateway log")
        return [], cells
    report.hour = complete["day"].max()
    cells = cells[cells["day"] <= report.hour]
    # hour-of-week baselines once three weeks of hours are in: a quiet weekend is not a level shift, nor Monday a spike
    span = (report.hour - cells["day"].min()) / pd.Timedelta(days=1)
    options = WEEKLY_HOURS if span >= 3 * 7 else None
    points = scan(cells, grain="hour", sensitivity=config.detect.sensitivity, min_impact=config.detect.min_impact,
                  dimensions=DIMENSIONS, options=options)  # fmt: skip
    if options is None:
        report.notes.append(f"{span:.0f} days of hourly history: baselines are the same hour of recent days (the "
                            "same hour of the same weekday needs 21 days; see hourly_days)")
    return find_incidents(points, episodes(points, grain="hour"), cells, hour=report.hour), cells


def watch_once(config: WatchConfig, *, env: Mapping[str, str] | None = None) -> CycleReport:
    """Run one cycle (see the module docstring); return what it did.

    Raises
    ------
    FinopsError
        When the warehouse cannot be opened (busy past the lock timeout, a full disk).
    """
    env = os.environ if env is None else env
    report = CycleReport()
    state = WatchState.load(config.state_file)
    before = state.copy()
    con = engine.connect(warehouse=config.warehouse)
    try:
        _pull_all(config, con, env, report)
        try:
            incidents, cells = _detect(config, con, report)
        except NotEnoughData as exc:
            report.notes.append(f"detection skipped: {exc}")
            incidents, cells = [], pd.DataFrame()
        report.incidents = incidents
        plan = plan_messages(state, incidents, hour=report.hour, grow_factor=config.detect.grow_factor) \
            if report.hour is not None else []  # fmt: skip
        if config.budgets:
            plan += budget_messages(con, config, state, budgets=load_budgets("", _config_root(config)))
    finally:
        con.disconnect()
    _notify(config, plan, cells, state, before, report, env)
    state.save()
    return report


def _config_root(config: WatchConfig) -> Path:
    """Return the folder whose ``config/budgets.csv`` applies: the workspace's, else the data folder's."""
    workspace = engine.warehouse_path(config.warehouse).parent
    return workspace if (workspace / "config" / "budgets.csv").is_file() else config.data


def _notify(config: WatchConfig, plan: list[tuple[str, Any]], cells: pd.DataFrame, state: WatchState,
            before: WatchState, report: CycleReport, env: Mapping[str, str]) -> None:  # fmt: skip
    """Send each planned message to every channel; one no channel took is planned again next cycle."""
    for event, item in plan:
        message = message_for(event, item, config=config, cells=cells, hour=report.hour)
        delivered = False
        for channel in config.channels:
            try:
                send(channel, message, env=env)
                delivered = True
                report.sent.append({"event": event, "incident": message.incident_id, "channel": channel["type"],
                                    "ok": True, "detail": ""})  # fmt: skip
            except NotifyError as exc:
                report.sent.append({"event": event, "incident": message.incident_id, "channel": channel["type"],
                                    "ok": False, "detail": str(exc)})  # fmt: skip
                LOG.warning("watch: %s", exc)
        if config.channels and not delivered:
            state.restore(message.incident_id, before)


def watch_loop(config: WatchConfig, *, every: float, cycles: int | None = None,
               on_cycle: Callable[[CycleReport], None] | None = None) -> int:  # fmt: skip
    """Run a cycle every ``every`` seconds until SIGTERM/SIGINT (or ``cycles`` cycles); return the last exit code."""
    stop = {"now": False}

    def handler(signum: int, frame: object) -> None:
        stop["now"] = True

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    code, done = 0, 0
    try:
        while not stop["now"] and (cycles is None or done < cycles):
            started = time.monotonic()
            try:
                result = watch_once(config)
                code = result.exit_code
                if on_cycle:
                    on_cycle(result)
            except FinopsError as exc:  # a busy warehouse or a full disk: say so, try again next cycle
                LOG.error("watch cycle failed: %s", exc)
                code = 2
            done += 1
            while not stop["now"] and time.monotonic() - started < every and (cycles is None or done < cycles):
                time.sleep(min(1.0, every))
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    return code
