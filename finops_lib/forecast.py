"""Spend and token forecasts: daily series from the warehouse, known events, many series fitted in parallel.

Series (:func:`build_series`): one value per day and group, every day of the range present (zero days
explicit). **Spend** is invoiced money (``overview.money_rows``: invoiced rows, priced estimates only where a
provider has no invoice), converted to one currency at the charge day's rate: it is what finance budgets.
``total``, ``provider`` and ``model`` series sum those rows; ``team`` and ``application`` series are the
chargeback view (:func:`finops_lib.allocation.allocate` with the data folder's rules, per day): direct cost
by the ownership rules plus the shared pools' splits, so team series add up to the total. **Tokens** use
``overview.token_rows`` the same way. Floats are used from here on; amounts are exact to about 1e-9.

Models: the baselines of :mod:`finops_lib.forecast_baselines` and Prophet (:mod:`finops_lib.forecast_prophet`,
registered when this module is imported; :func:`detect_level_shifts` is re-exported here).

Events: known past events (:class:`Event`, :func:`read_events`, :func:`catalog_events`) become step regressors
(:func:`event_regressors`); future events with an ``effect_pct`` scale the forecast from their day
(:func:`apply_events`).

Parallel fits: :func:`run_tasks` fits many (series, model) tasks in forked worker processes.
"""

from __future__ import annotations

import csv
import multiprocessing
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

import ibis
import numpy as np
import pandas as pd

from finops_lib.errors import ParameterError, SourceError
from finops_lib.forecast_baselines import MODELS, Forecast, Options
from finops_lib.forecast_prophet import detect_level_shifts  # also registers the Prophet models

__all__ = ["DIMENSIONS", "EVENT_KINDS", "Event", "apply_events", "build_series", "catalog_events",
           "detect_level_shifts", "event_regressors", "read_events", "run_tasks", "series_map"]  # fmt: skip

#: Dimensions a series can be built by.
DIMENSIONS: tuple[str, ...] = ("total", "provider", "team", "application", "model")
EVENT_KINDS: tuple[str, ...] = ("launch", "price_change", "other")
Metric = Literal["spend", "tokens"]


# --- series from the warehouse ---------------------------------------------------------------------------


def build_series(con: Any, *, by: str = "total", metric: Metric = "spend", currency: str = "USD",
                 data_dir: str | Path | None = None, rules_file: str | Path | None = "",
                 start_date: str | date | None = None, end_date: str | date | None = None) -> pd.DataFrame:  # fmt: skip
    """Return daily series of spend (in ``currency``) or tokens per group of ``by``, zero days filled in.

    Parameters
    ----------
    con
        The warehouse (:func:`finops_lib.ingest.open_data`).
    by
        One of :data:`DIMENSIONS`.
    metric
        ``spend`` (invoiced money, see the module docstring) or ``tokens``.
    currency
        ISO 4217 code of the spend.
    data_dir, rules_file
        Where the allocation rules of ``team``/``application`` series come from (as ``finops chargeback``).
    start_date, end_date
        Inclusive UTC days; None means the whole data.

    Returns
    -------
    pandas.DataFrame
        ``day`` (Timestamp), ``series`` (group name; ``total`` for the total), ``value`` (float): every day
        from the first to the last day of the data for every group.

    Raises
    ------
    ParameterError
        On an unknown ``by`` or ``metric``, or no data in the window.
    """
    from finops_lib import overview  # analyses sit below forecasts; imported late to keep start-up light

    if by not in DIMENSIONS:
        raise ParameterError(f"by must be one of {', '.join(DIMENSIONS)}; got {by!r}")
    if metric not in ("spend", "tokens"):
        raise ParameterError(f"metric must be spend or tokens; got {metric!r}")
    costs = overview.filter_costs(con.table("costs"), start_date=start_date, end_date=end_date)
    if by in ("team", "application"):
        agg = _allocated(con, costs, by=by, metric=metric, currency=currency, data_dir=data_dir, rules_file=rules_file)
    else:
        agg = _engine_series(costs, by=by, metric=metric, currency=currency)
    if agg.empty:
        raise ParameterError(f"no {metric} in the data for the window {start_date or 'start'} to {end_date or 'end'}")
    agg["day"] = pd.to_datetime(agg["day"]).dt.tz_localize(None).dt.normalize()
    days = pd.date_range(agg["day"].min(), agg["day"].max(), freq="D")
    grid = pd.MultiIndex.from_product([sorted(agg["series"].astype(str).unique()), days], names=["series", "day"])
    out = agg.groupby(["series", "day"])["value"].sum().reindex(grid, fill_value=0.0).reset_index()
    return out[["day", "series", "value"]].astype({"value": float})


def _engine_series(costs: Any, *, by: str, metric: Metric, currency: str) -> pd.DataFrame:
    from finops_lib import overview

    if metric == "spend":
        rows, _ = overview.in_currency(overview.money_rows(costs), currency)
        value = "BilledCost"
    else:
        rows, value = overview.token_rows(costs), "ConsumedQuantity"
    group = rows[overview.DIMENSIONS[by]].fill_null(overview._missing(by)) if by != "total" else None
    rows = rows.mutate(day=rows.ChargePeriodStart.date(), series=group if group is not None else ibis.literal("total"))
    agg = rows.group_by(["day", "series"]).aggregate(value=rows[value].sum().cast("float64")).to_pandas()
    return agg


def _allocated(con: Any, costs: Any, *, by: str, metric: Metric, currency: str, data_dir: str | Path | None,
               rules_file: str | Path | None) -> pd.DataFrame:  # fmt: skip
    from finops_lib import allocation, fx

    rules = allocation.resolve_rules(rules_file, data_dir)
    result = allocation.allocate(costs, rules, requests=con.table("requests"), period="day",
                                 measure="cost" if metric == "spend" else "tokens")  # fmt: skip
    frame = result.frame
    value = "cost" if metric == "spend" else "tokens"
    out = pd.DataFrame({"day": pd.to_datetime(frame["period"]), "series": frame[by].fillna("(unallocated)")
                        .astype(str), "value": frame[value].map(float)})  # fmt: skip
    if metric == "spend":
        rates = fx.load_rates()
        pairs = frame[["currency"]].assign(day=out["day"]).drop_duplicates()
        factor = {(c, d): float(fx.rate(rates, c, currency, d.date())[0]) for c, d in pairs.itertuples(index=False)}
        out["value"] *= [factor[(c, d)] for c, d in zip(frame["currency"], out["day"], strict=True)]
    return out


def series_map(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Return ``{series name: daily values}`` from a :func:`build_series` frame, largest total first."""
    order = frame.groupby("series")["value"].sum().sort_values(ascending=False, kind="stable").index
    return {str(name): frame[frame["series"] == name].set_index("day")["value"].rename(str(name)) for name in order}


# --- events -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """A known event: a launch or a price change on a day, for every series (``series`` empty) or one.

    ``effect_pct`` is the expected change of the series' spend from that day (``-25`` = a quarter less); it is
    needed for future events only: past events are step regressors whose size Prophet estimates.
    """

    day: date
    name: str
    kind: str = "launch"
    effect_pct: float | None = None
    series: str = ""

    def applies_to(self, series: str) -> bool:
        """Whether the event concerns ``series``."""
        return not self.series or self.series == series


def read_events(path: str | Path) -> list[Event]:
    """Read known events from a CSV: ``date, name, kind`` (launch, price_change, other), optional ``effect_pct``
    and ``series``.

    Raises
    ------
    SourceError
        Naming the file, line and column of a missing or malformed value.
    """  # noqa: D205
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"date", "name", "kind"} - set(reader.fieldnames or ())
        if missing:
            raise SourceError(path, f"missing column(s) {sorted(missing)}", line=1)
        return [_event(row, path, line) for line, row in enumerate(reader, start=2)]


def _event(row: dict[str, str], path: Path, line: int) -> Event:
    try:
        day = date.fromisoformat((row.get("date") or "").strip())
    except ValueError:
        raise SourceError(path, "not an ISO date", line=line, column="date", value=row.get("date")) from None
    kind = (row.get("kind") or "").strip()
    if kind not in EVENT_KINDS:
        raise SourceError(path, f"kind must be one of {', '.join(EVENT_KINDS)}", line=line, column="kind", value=kind)
    text = (row.get("effect_pct") or "").strip()
    try:
        effect = float(text) if text else None
    except ValueError:
        raise SourceError(path, "not a number", line=line, column="effect_pct", value=text) from None
    if effect is not None and effect <= -100:
        raise SourceError(path, "must be above -100", line=line, column="effect_pct", value=text)
    return Event(day, (row.get("name") or "").strip() or kind, kind, effect, (row.get("series") or "").strip())


def catalog_events(catalog: Any, *, start: str | date, end: str | date | None = None) -> list[Event]:
    """Return the catalog's price changes in [start, end] as ``price_change`` events for the model's series.

    A change is a catalog row whose price differs from the previous row of the same provider, model, bucket and
    tiers. The event's ``effect_pct`` is left empty: the effect on a model's spend depends on its token mix (set
    it to apply a future change; past changes are estimated by Prophet).

    Examples
    --------
    >>> from finops_lib import prices
    >>> [e.name for e in catalog_events(prices.load_catalog(prices.SAMPLE_OVERLAY), start="2026-05-01")]
    ['Google gemini-2.5-flash output -25%']
    """
    frame = catalog.prices.copy()
    frame["effective_from"] = pd.to_datetime(frame["effective_from"]).dt.date
    keys = ["provider", "model", "token_type", "service_tier", "context_tier", "deployment"]
    frame = frame.sort_values([*keys, "effective_from"], kind="stable")
    frame["previous"] = frame.groupby(keys, dropna=False)["price_per_1m"].shift()
    lo, hi = pd.Timestamp(start).date(), pd.Timestamp(end).date() if end else date.max
    changed = frame[frame["previous"].notna() & (frame["price_per_1m"] != frame["previous"])
                    & frame["effective_from"].between(lo, hi)]  # fmt: skip
    events = []
    for row in changed.itertuples():
        pct = (float(row.price_per_1m) / float(row.previous) - 1) * 100 if float(row.previous) else float("inf")
        events.append(Event(row.effective_from, f"{row.provider} {row.model} {row.token_type} {pct:+.0f}%",
                            "price_change", None, str(row.model)))  # fmt: skip
    return events


def event_regressors(events: Iterable[Event], history: pd.Series, steps: int, *, series: str = "") -> pd.DataFrame:
    """Return step regressors (0 before, 1 from the day) of the past events of ``series`` (none: empty frame).

    Only events with at least 3 history days on each side are kept: Prophet cannot size a step it has not seen.
    """
    days = pd.date_range(history.index[0], periods=len(history) + steps, freq="D")
    last = history.index[-1]
    cols = {}
    for event in events:
        when = pd.Timestamp(event.day)
        if event.applies_to(series) and history.index[0] + pd.Timedelta(days=3) <= when <= last - pd.Timedelta(days=2):
            cols[f"event {event.name}"] = (days >= when).astype(float)
    return pd.DataFrame(cols, index=days)


def apply_events(forecast: Forecast, events: Iterable[Event], *, series: str = "") -> Forecast:
    """Scale a forecast from each future event's day by ``1 + effect_pct / 100`` (events without an effect: none).

    Examples
    --------
    >>> days = pd.date_range("2026-01-01", periods=4)
    >>> fc = Forecast(pd.DataFrame({"forecast": 10.0, "lower": 8.0, "upper": 12.0}, index=days), model="x")
    >>> apply_events(fc, [Event(date(2026, 1, 3), "cut", "price_change", -50.0)]).frame["forecast"].tolist()
    [10.0, 10.0, 5.0, 5.0]
    """
    factor = np.ones(len(forecast.frame))
    applied = []
    for event in events:
        if event.effect_pct is not None and event.applies_to(series):
            hit = forecast.frame.index >= pd.Timestamp(event.day)
            if hit.any():
                factor[hit] *= 1 + event.effect_pct / 100
                applied.append(f"{event.name} ({event.effect_pct:+g}%)")
    if not applied:
        return forecast
    frame = forecast.frame.mul(factor, axis=0)
    samples, raw = (None if s is None else s * factor[:, None] for s in (forecast.samples, forecast.samples_raw))
    note = "; ".join(filter(None, [forecast.note, "events applied: " + ", ".join(applied)]))
    return replace(forecast, frame=frame, samples=samples, samples_raw=raw, note=note)


# --- many fits in parallel --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One fit: a model on a history, ``steps`` days ahead."""

    key: tuple
    model: str
    history: pd.Series
    steps: int
    options: Options


def run_task(task: Task) -> tuple[tuple, Forecast]:
    """Fit one task; a model that fails falls back to seasonal naive, saying why in the forecast's note."""
    try:
        return task.key, MODELS[task.model].fit(task.history, task.steps, task.options)
    except Exception as exc:  # any model failure becomes a stated fallback, never a crash
        fallback = MODELS["seasonal_naive"].fit(task.history, task.steps, task.options)
        note = f"{task.model} failed ({type(exc).__name__}: {str(exc)[:120]}); seasonal naive used"
        return task.key, replace(fallback, note=note)


def run_tasks(tasks: Sequence[Task], *, workers: int = 2, progress: bool = False,
              desc: str = "fits") -> dict[tuple, Forecast]:
    """Run fits in ``workers`` processes (in this process when 1 or few tasks), with an optional tqdm bar.

    Workers are forked (POSIX): they inherit the loaded models and the silenced loggers, and scripts need no
    ``if __name__ == "__main__"`` guard. They only fit models; they never touch the warehouse.
    """
    from tqdm.auto import tqdm

    results: dict[tuple, Forecast] = {}
    bar = tqdm(total=len(tasks), desc=desc, disable=not progress, leave=False)
    try:
        if workers <= 1 or len(tasks) < 4:
            outputs: Iterable[tuple[tuple, Forecast]] = map(run_task, tasks)
            for key, forecast in outputs:
                results[key] = forecast
                bar.update()
            return results
        context = multiprocessing.get_context("fork")  # scripts without a __main__ guard work; models preloaded
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for key, forecast in pool.map(run_task, tasks, chunksize=max(1, len(tasks) // (workers * 8))):
                results[key] = forecast
                bar.update()
    finally:
        bar.close()
    return results
