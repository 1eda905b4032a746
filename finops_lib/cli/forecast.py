"""``finops forecast``: daily spend or token forecasts per dimension, with backtested accuracy, for scripts.

Writes the forecasts (history and forecast rows, :func:`finops_lib.forecast.choice.forecast_table`) to ``--out`` and,
with ``--backtest``, the accuracy table (every model per series, the chosen one flagged, with its reason; raw and
calibrated interval coverage) beside it as ``<stem>.accuracy.<ext>``. With ``--backtest`` the intervals are
calibrated on the chosen models' backtest errors (:mod:`finops_lib.forecast.calibrate`; ``lower_raw``/``upper_raw`` keep
the models' own), unless ``--no-calibrate``. Without ``--backtest`` every series uses ``--model`` (default
Prophet) with its own interval.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from finops_lib import paths
from finops_lib.errors import ParameterError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``forecast`` subcommand to ``finops``'s subparsers."""
    from finops_lib.forecast.series import DIMENSIONS

    p = sub.add_parser("forecast", help="forecast daily spend or tokens per dimension, with backtested accuracy")
    p.add_argument("--data", default=str(paths.SAMPLE_DIR), help="data folder (default data/sample/)")
    p.add_argument("--warehouse", help="warehouse file (default: one per data folder under build/)")
    p.add_argument("--by", default="total", choices=DIMENSIONS, help="series dimension (default total)")
    p.add_argument("--metric", default="spend", choices=("spend", "tokens"), help="spend (invoiced) or tokens")
    p.add_argument("--horizon", type=int, default=30, help="days to forecast (default 30)")
    p.add_argument("--backtest", action="store_true", help="backtest every model on rolling origins, choose per "
                   "series, and write <stem>.accuracy.<ext>")  # fmt: skip
    p.add_argument("--no-calibrate", dest="calibrate", action="store_false",
                   help="with --backtest: keep the models' own intervals (no calibration on backtest errors)")
    p.add_argument("--model", default="prophet", help="model without --backtest (default prophet)")
    p.add_argument("--currency", default="USD", help="currency of spend, ISO 4217 (default USD)")
    p.add_argument("--country", default="", help="public holidays of this country for Prophet (e.g. US)")
    p.add_argument("--top", type=int, default=0, help="only the N largest series (default all)")
    p.add_argument("--workers", type=int, default=2, help="processes fitting in parallel (default 2)")
    p.add_argument("--out", required=True, help="target .parquet or .csv file")
    p.set_defaults(func=cmd_forecast)


def _write(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def cmd_forecast(args: argparse.Namespace) -> int:
    """Build the series, optionally backtest and choose models, forecast and write the files."""
    from finops_lib import forecast as fc
    from finops_lib.forecast import backtest as bt
    from finops_lib.forecast import calibrate
    from finops_lib.forecast import choice as forecast_report
    from finops_lib.forecast.models import Options
    from finops_lib.warehouse.ingestion import open_data

    out = Path(args.out)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise ParameterError(f"--out must end in .parquet or .csv, got {out.name!r}")
    if args.horizon < 1:
        raise ParameterError(f"--horizon must be a positive number of days, got {args.horizon}")
    con = open_data(args.data, warehouse=args.warehouse)
    try:
        frame = fc.build_series(con, by=args.by, metric=args.metric, currency=args.currency, data_dir=args.data)
    finally:
        con.disconnect()
    series = fc.series_map(frame)
    if args.top:
        series = dict(list(series.items())[:args.top])
    options = Options(country=args.country)
    models: dict[str, str] | str = args.model
    calibration = None
    if args.backtest:
        result = bt.backtest(series, horizon=args.horizon, options=options, workers=args.workers, progress=True)
        accuracy, choice, models = forecast_report.choose(result, series, horizon=args.horizon)
        accuracy = accuracy.merge(choice[["series", "reason"]], on="series", how="left")
        calibration = calibrate.calibrate(result, models) if args.calibrate else None
        target = out.with_name(f"{out.stem}.accuracy{out.suffix}")
        _write(accuracy, target)
        print(f"accuracy of {accuracy['model'].nunique()} models on {len(series)} series written to {target}",
              file=sys.stderr)  # fmt: skip
    forecasts = bt.fit_forecasts(series, models, horizon=args.horizon, options=options, workers=args.workers,
                                 progress=True, calibration=calibration)  # fmt: skip
    table = forecast_report.forecast_table(series, forecasts, horizon=args.horizon)
    table.insert(0, "metric", args.metric)
    table.insert(1, "unit", args.currency if args.metric == "spend" else "tokens")
    _write(table, out)
    print(f"forecasts of {len(series)} {args.by} series, {args.horizon} days, written to {out}")
    return 0
