"""Budgets: the budget file, burn-down, projected month-end spend, probability of exceeding, breach date.

Budget file (CSV): ``month`` (``YYYY-MM``), ``dimension`` (``total``, ``team``, ``application``, ``provider``),
``name`` (the team, application or provider; ``total`` for the total), ``amount`` (decimal) and ``currency``
(ISO 4217), optional ``note``. One budget per dimension, name and month.

For a month ``M`` and a forecast made after day ``c`` (the last day of history):

* spent to date = actual spend of ``M`` up to ``c``;
* projected month-end = spent to date + point forecast for the rest of ``M``;
* P(exceed) = share of the forecast's sample paths whose month total (spent to date + the path's days of ``M``)
  is above the budget. With calibrated forecasts (:mod:`finops_lib.forecast.calibrate`) the paths are rescaled to the
  month-to-go errors the model made in the backtest; ``p_exceed_raw`` is the same share over the model's own
  paths (equal to ``p_exceed`` when the forecast is not calibrated);
* breach date = the first day of ``M`` on which cumulative spend (actual, then forecast) reaches the budget
  (``>=``: the budget is used up that day); an actual day when the budget is already used up, None when the
  projection stays below it.

Examples
--------
>>> days = pd.date_range("2026-06-01", "2026-06-15")
>>> history = pd.Series(40.0, index=days)
>>> future = pd.Series(40.0, index=pd.date_range("2026-06-16", "2026-06-30"))
>>> breach_date(history, future, budget=1000.0, month="2026-06")
Timestamp('2026-06-25 00:00:00')
"""

from __future__ import annotations

import csv
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd

from finops_lib.errors import ParameterError, SourceError
from finops_lib.forecast.models import Forecast

__all__ = ["BUDGETS_FILE", "BUDGET_COLUMNS", "BUDGET_DIMENSIONS", "breach_date", "budget_for", "budget_risk",
           "burn_down", "load_budgets", "month_status", "read_budgets"]  # fmt: skip

#: Where a data folder keeps its budgets (the sample writes one).
BUDGETS_FILE = "config/budgets.csv"

BUDGET_COLUMNS: tuple[str, ...] = ("month", "dimension", "name", "amount", "currency")
BUDGET_DIMENSIONS: tuple[str, ...] = ("total", "team", "application", "provider")
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_CURRENCY = re.compile(r"[A-Z]{3}")


def read_budgets(path: str | Path) -> pd.DataFrame:
    """Read a budget file (module docstring).

    Returns
    -------
    pandas.DataFrame
        ``month`` (text ``YYYY-MM``), ``dimension``, ``name``, ``amount`` (:class:`~decimal.Decimal`),
        ``currency``, ``note``, ``line`` (the file's line number).

    Raises
    ------
    SourceError
        Naming the file, line, column and value at fault (missing column, bad month, dimension, amount or
        currency, a duplicate budget).
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(path, "budget file not found")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in BUDGET_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise SourceError(path, f"missing column(s) {missing}; expected {', '.join(BUDGET_COLUMNS)}", line=1)
        rows = [_budget(row, path, line) for line, row in enumerate(reader, start=2)]
    frame = pd.DataFrame(rows, columns=[*BUDGET_COLUMNS, "note", "line"])
    dup = frame.duplicated(["month", "dimension", "name"], keep="first")
    if dup.any():
        first = frame[dup].iloc[0]
        raise SourceError(path, "duplicate budget for this month, dimension and name", line=int(first["line"]),
                          column="name", value=first["name"])  # fmt: skip
    return frame


def load_budgets(budget_file: str | Path | None = "", data_dir: str | Path | None = None) -> pd.DataFrame:
    """Read ``budget_file``, else ``<data_dir>/config/budgets.csv`` when it exists, else return no budgets.

    Without ``data_dir`` (no folder) only an explicit file counts. An explicit ``budget_file`` that does not exist
    raises.
    """
    if budget_file:
        return read_budgets(budget_file)
    candidate = Path(data_dir) / BUDGETS_FILE if data_dir else None
    if candidate is not None and candidate.is_file():
        return read_budgets(candidate)
    return pd.DataFrame(columns=[*BUDGET_COLUMNS, "note", "line"])


def budget_for(budgets: pd.DataFrame, *, dimension: str, name: str, month: str | pd.Period) -> float | None:
    """Return the budget amount of one name and month as float, None when there is none."""
    rows = budgets[(budgets["dimension"] == dimension) & (budgets["name"] == name)
                   & (budgets["month"] == str(pd.Period(month, freq="M")))]  # fmt: skip
    return float(rows["amount"].iloc[0]) if len(rows) else None


def _budget(row: dict[str, str], path: Path, line: int) -> dict[str, object]:
    def bad(column: str, problem: str) -> SourceError:
        return SourceError(path, problem, line=line, column=column, value=row.get(column))

    values = {c: (row.get(c) or "").strip() for c in BUDGET_COLUMNS}
    if not _MONTH.fullmatch(values["month"]):
        raise bad("month", "month must be YYYY-MM")
    if values["dimension"] not in BUDGET_DIMENSIONS:
        raise bad("dimension", f"dimension must be one of {', '.join(BUDGET_DIMENSIONS)}")
    if not values["name"]:
        raise bad("name", "name is required")
    try:
        amount = Decimal(values["amount"])
    except InvalidOperation:
        raise bad("amount", "amount must be a decimal number") from None
    if not amount.is_finite() or amount <= 0:
        raise bad("amount", "amount must be positive")
    if not _CURRENCY.fullmatch(values["currency"]):
        raise bad("currency", "currency must be an ISO 4217 code such as USD")
    return {**values, "amount": amount, "note": (row.get("note") or "").strip(), "line": line}


def _month_days(month: str | pd.Period) -> pd.DatetimeIndex:
    period = pd.Period(month, freq="M")
    return pd.date_range(period.start_time.normalize(), period.end_time.normalize(), freq="D")


def breach_date(history: pd.Series, future: pd.Series, *, budget: float, month: str | pd.Period) -> pd.Timestamp | None:
    """Return the first day of ``month`` whose cumulative spend (actual, then forecast) reaches ``budget``."""
    days = _month_days(month)
    daily = pd.concat([history, future[future.index > history.index[-1]]]).reindex(days)
    cumulative = daily.fillna(0.0).cumsum()
    reached = cumulative[cumulative >= budget - 1e-9]
    return None if reached.empty else reached.index[0]


def burn_down(history: pd.Series, forecast: Forecast, *, month: str | pd.Period,
              budget: float | None = None) -> pd.DataFrame:  # fmt: skip
    """Return the month's cumulative spend per day: actual, then projected (point and interval bounds).

    Returns
    -------
    pandas.DataFrame
        ``day``, ``kind`` (``actual`` or ``forecast``), ``cumulative``, ``lower``, ``upper`` (cumulative bounds
        from the sample paths' quantiles; equal to ``cumulative`` on actual days), ``budget`` (or NaN) and
        ``remaining`` (budget - cumulative).
    """
    days = _month_days(month)
    actual = history.reindex(days[days <= history.index[-1]]).fillna(0.0)
    spent = float(actual.sum())
    ahead = days[days > history.index[-1]]
    point = forecast.frame["forecast"].reindex(ahead).fillna(0.0)
    out = pd.DataFrame({"day": days, "kind": ["actual"] * len(actual) + ["forecast"] * len(ahead),
                        "cumulative": np.concatenate([actual.cumsum().to_numpy(), spent + point.cumsum().to_numpy()])})
    lower = upper = out["cumulative"].to_numpy().copy()
    if forecast.samples is not None and len(ahead):
        rows = forecast.frame.index.get_indexer(ahead)
        paths = np.where(rows[:, None] >= 0, forecast.samples[np.clip(rows, 0, None)], 0.0).cumsum(axis=0) + spent
        lo, hi = np.quantile(paths, [0.1, 0.9], axis=1)
        lower, upper = lower.copy(), upper.copy()
        lower[len(actual):], upper[len(actual):] = lo, hi
    out["lower"], out["upper"] = lower, upper
    out["budget"] = float("nan") if budget is None else float(budget)
    out["remaining"] = out["budget"] - out["cumulative"]
    return out


def _share_above(spent: float, samples: np.ndarray | None, rows: np.ndarray, budget: float) -> float:
    return float("nan") if samples is None else float(np.mean(spent + samples[rows].sum(axis=0) > budget))


def month_status(history: pd.Series, forecast: Forecast, *, budget: float, month: str | pd.Period) -> dict[str, object]:
    """Return spent to date, projected month-end, P(exceed) (calibrated and raw) and breach date for one budget.

    See the module docstring; ``p_exceed_raw`` uses ``forecast.samples_raw`` when the forecast was calibrated.

    Examples
    --------
    >>> history = pd.Series(40.0, index=pd.date_range("2026-06-01", "2026-06-15"))
    >>> frame = pd.DataFrame({"forecast": 40.0, "lower": 40.0, "upper": 40.0},
    ...                      index=pd.date_range("2026-06-16", "2026-06-30"))
    >>> status = month_status(history, Forecast(frame, np.full((15, 4), 40.0)), budget=1000.0, month="2026-06")
    >>> status["projected_month_end"], status["p_exceed"], str(status["breach_date"].date())
    (1200.0, 1.0, '2026-06-25')
    """
    days = _month_days(month)
    spent = float(history.reindex(days[days <= history.index[-1]]).fillna(0.0).sum())
    ahead = days[days > history.index[-1]]
    point = forecast.frame["forecast"].reindex(ahead)
    note = ""
    if point.isna().any():
        note = f"forecast stops on {forecast.frame.index[-1].date()}, before the end of {pd.Period(month, 'M')}"
    projected = spent + float(point.fillna(0.0).sum())
    p_exceed = p_raw = float("nan")
    if not len(ahead):
        p_exceed = p_raw = float(spent > budget)
    elif forecast.samples is not None and not point.isna().any():
        rows = forecast.frame.index.get_indexer(ahead)
        p_exceed = _share_above(spent, forecast.samples, rows, budget)
        p_raw = p_exceed if forecast.samples_raw is None else _share_above(spent, forecast.samples_raw, rows, budget)
    elif forecast.samples is None:
        note = "; ".join(filter(None, [note, "no sample paths: P(exceed) not computed"]))
    return {"spent_to_date": spent, "projected_month_end": projected, "p_exceed": p_exceed, "p_exceed_raw": p_raw,
            "breach_date": breach_date(history, forecast.frame["forecast"], budget=budget, month=month), "note": note}


def _status(row: dict[str, object], budget: float) -> str:
    breach = row["breach_date"]
    if row["spent_to_date"] >= budget:
        return "exceeded"
    if breach is not None:
        return "breach projected"
    return "at risk" if np.isfinite(row["p_exceed"]) and row["p_exceed"] >= 0.2 else "on track"


def budget_risk(series: dict[str, pd.Series], forecasts: dict[str, Forecast], budgets: pd.DataFrame, *,
                dimension: str, currency: str, month: str | pd.Period | None = None) -> pd.DataFrame:  # fmt: skip
    """Return the budget risk of every series with a budget for ``month`` (default: the month after the history).

    Parameters
    ----------
    series, forecasts
        Histories and their forecasts, by series name (:func:`finops_lib.forecast.backtest.fit_forecasts`).
    budgets
        :func:`read_budgets`; rows of other dimensions or months are ignored.
    dimension, currency
        The series' dimension and currency; budgets in another currency raise.

    Returns
    -------
    pandas.DataFrame
        ``series``, ``month``, ``budget``, ``spent_to_date``, ``projected_month_end``, ``projected_pct`` (of the
        budget), ``p_exceed``, ``p_exceed_raw`` (from the model's own paths), ``breach_date``, ``status``
        (``exceeded``, ``breach projected``, ``at risk``: P(exceed) >= 20 %, ``on track``), ``note``; largest
        P(exceed) first.
    """
    columns = ["series", "month", "budget", "spent_to_date", "projected_month_end", "projected_pct", "p_exceed",
               "p_exceed_raw", "breach_date", "status", "note"]  # fmt: skip
    if not series:
        return pd.DataFrame(columns=columns)
    last = max(s.index[-1] for s in series.values())
    period = pd.Period(month, freq="M") if month else pd.Period(last + pd.Timedelta(days=1), freq="M")
    mine = budgets[(budgets["dimension"] == dimension) & (budgets["month"] == str(period))]
    wrong = mine[mine["currency"] != currency]
    if len(wrong):
        raise ParameterError(f"budget line {int(wrong['line'].iloc[0])} is in {wrong['currency'].iloc[0]}, the "
                             f"forecast in {currency}: forecast in the budget's currency")  # fmt: skip
    rows = []
    for budget in mine.itertuples():
        if budget.name not in series:
            rows.append({"series": budget.name, "month": str(period), "budget": float(budget.amount),
                         "status": "no data", "note": f"no {dimension} {budget.name!r} in the data"})  # fmt: skip
            continue
        amount = float(budget.amount)
        row = month_status(series[budget.name], forecasts[budget.name], budget=amount, month=period)
        row |= {"series": budget.name, "month": str(period), "budget": amount,
                "projected_pct": 100 * row["projected_month_end"] / amount}  # fmt: skip
        row["status"] = _status(row, amount)
        rows.append(row)
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["p_exceed", "projected_pct"], ascending=False, na_position="last").reset_index(drop=True)
