"""``finops forecast``: daily spend or token forecasts per dimension, with backtested accuracy, for scripts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from finops_lib.cli.common import resolve_workspace
from finops_lib.cli.workspace_facts import data_facts
from finops_lib.engines.grouped import spark_session
from finops_lib.errors import ParameterError
from finops_lib.forecast import Event, build_series, calibrate, credits_by_day, forecastable, read_events, series_map
from finops_lib.forecast import backtest as bt
from finops_lib.forecast.choice import choose, forecast_table
from finops_lib.forecast.models import Options
from finops_lib.share import atomic_path, write_csv


def _write(frame: pd.DataFrame, path: Path, *, raw: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        with atomic_path(path) as temp:
            frame.to_parquet(temp, index=False)
    else:
        write_csv(frame, path, neutralise_text=not raw)  # series names come from the billing data


#: Known events of the workspace (``docs/config.md``): launches and price changes.
EVENTS_FILE = "events.csv"


def _events(args: argparse.Namespace) -> list[Event]:
    """Return ``--events`` (``none``: no events), else the workspace's ``config/events.csv`` when present."""
    if str(args.events).lower() == "none":
        return []
    path = Path(args.events).expanduser() if args.events else resolve_workspace(args).config_file(EVENTS_FILE)
    if path is None:
        return []
    events = read_events(path)
    print(f"{len(events)} known events from {path}", file=sys.stderr)
    return events


def run(args: argparse.Namespace) -> int:
    """Build the series, optionally backtest and choose models, forecast and write the files."""
    out = Path(args.out)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise ParameterError(f"--out must end in .parquet or .csv, got {out.name!r}")
    if args.horizon < 1:
        raise ParameterError(f"--horizon must be a positive number of days, got {args.horizon}")
    events = _events(args)
    con, facts = data_facts(args)
    fits_on = con if spark_session(con) is not None else None  # Spark fits on its own workers: keep it open
    try:
        frame, left_out = forecastable(build_series(facts, by=args.by, metric=args.metric))
        credits = credits_by_day(facts) if args.metric == "spend" else None
    finally:
        if fits_on is None:
            con.disconnect()  # type: ignore[attr-defined]
    try:
        return _forecast(args, out, facts.currency, frame, left_out, credits, events, fits_on)
    finally:
        if fits_on is not None:
            con.disconnect()  # type: ignore[attr-defined]


def _forecast(args: argparse.Namespace, out: Path, currency: str, frame: pd.DataFrame, left_out: pd.DataFrame,
              credits: pd.DataFrame | None, events: list[Event], on: object) -> int:  # fmt: skip
    """Backtest and forecast the series; fits on ``on``'s workers when it is a Spark connection, else processes."""
    if credits is not None and len(credits):
        print(f"credits of {credits['credits'].sum():,.2f} {currency} on {len(credits)} days are left out of "
              "the spend series (one-off: not projected)", file=sys.stderr)  # fmt: skip
    for row in left_out.itertuples():
        print(f"series {row.series}: {row.reason}", file=sys.stderr)
    if frame.empty:
        raise ParameterError("no series to forecast: " + "; ".join(left_out["reason"]))
    series = series_map(frame)
    if args.top:
        series = dict(list(series.items())[:args.top])
    options = Options(country=args.country)
    models: dict[str, str] | str = args.model
    calibration = None
    if args.backtest:
        result = bt.backtest(series, horizon=args.horizon, options=options, events=events, workers=args.workers,
                             progress=True, on=on)  # fmt: skip
        accuracy, choice, models = choose(result, series, horizon=args.horizon)
        accuracy = accuracy.merge(choice[["series", "reason"]], on="series", how="left")
        calibration = calibrate.calibrate(result, models) if args.calibrate else None
        target = out.with_name(f"{out.stem}.accuracy{out.suffix}")
        _write(accuracy, target, raw=args.raw_csv)
        print(f"accuracy of {accuracy['model'].nunique()} models on {len(series)} series written to {target}",
              file=sys.stderr)  # fmt: skip
    forecasts = bt.fit_forecasts(series, models, horizon=args.horizon, options=options, events=events,
                                 workers=args.workers, progress=True, calibration=calibration, on=on)  # fmt: skip
    table = forecast_table(series, forecasts, horizon=args.horizon)
    table.insert(0, "metric", args.metric)
    table.insert(1, "unit", currency if args.metric == "spend" else "tokens")
    _write(table, out, raw=args.raw_csv)
    print(f"forecasts of {len(series)} {args.by} series, {args.horizon} days, written to {out}")
    return 0
