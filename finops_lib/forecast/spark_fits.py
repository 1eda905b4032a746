"""Many fits on a Spark session's workers: the histories as rows, one ``applyInPandas`` group per fit.

What goes to Spark: one row per task and history day (:data:`HISTORY_COLUMNS`: ``task``, the task's position;
``ds``, the day; ``y``, the value). What travels with the function (pickled into the job, small): each task's model,
steps and options, its history's name, dtype and index type, and the registered models the tasks name (a model
registered in a notebook exists only in the driver's process, and the workers are not forked from it).

Each worker rebuilds the history, runs :func:`finops_lib.forecast.tasks.run_task` (the same fallback, the same note
as the processes) and returns the forecast as rows (:data:`RESULT_SCHEMA`), one per forecast day: ``values`` the
frame's columns that day, ``samples`` and ``samples_raw`` that day's sample paths; the first row also carries
``meta``, JSON of the rest (model, note, the frame's column names, its index's name, dtype and frequency, which
sample paths exist). The driver rebuilds every :class:`~finops_lib.forecast.models.Forecast` from them. Floats travel
as doubles through Arrow and the fits run the same code on the same inputs, so the forecasts equal the processes'
exactly (``tests/test_spark_fits.py``).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from finops_lib.engines.grouped import map_groups
from finops_lib.forecast.models import MODELS, Forecast, ModelSpec, Options
from finops_lib.forecast.tasks import Task, run_task

__all__ = ["HISTORY_COLUMNS", "RESULT_SCHEMA", "fit_on_spark"]

#: The rows sent to Spark: one per task and history day.
HISTORY_COLUMNS = ("task", "ds", "y")
#: The rows each fit returns: one per forecast day (a forecast of no day: one row, ``position`` -1, no day).
RESULT_SCHEMA = ("task long, position int, day timestamp_ntz, values array<double>, samples array<double>, "
                 "samples_raw array<double>, meta string")  # fmt: skip


@dataclass(frozen=True)
class _Plan:
    """What a worker needs of a task besides its rows."""

    model: str
    steps: int
    options: Options
    name: Hashable
    dtype: str
    index: dict[str, Any]


def fit_on_spark(tasks: Sequence[Task], session: Any, *, partitions: int | None = None) -> dict[tuple, Forecast]:
    """Fit every task on the session's workers; return ``{task.key: forecast}`` as the processes would.

    Parameters
    ----------
    tasks
        The fits (:class:`finops_lib.forecast.tasks.Task`); a key given twice keeps the later task's forecast.
    session
        A Spark session (:func:`finops_lib.engines.grouped.spark_session`).
    partitions
        Spark tasks the fits are spread over (default :func:`finops_lib.engines.grouped.map_groups`'s).

    Returns
    -------
    dict
        ``{key: Forecast}`` in the order of ``tasks``.
    """
    if not tasks:
        return {}
    spread = [i for i, task in enumerate(tasks) if len(task.history)]
    fitted: dict[int, Forecast] = {}
    if spread:
        plans = {i: _plan(tasks[i]) for i in spread}
        named = {tasks[i].model for i in spread} | {"seasonal_naive"}
        models = {name: MODELS[name] for name in named if name in MODELS}  # an unknown one fails as in a process
        fit = partial(_fit_group, plans=plans, models=models)
        fitted = _forecasts(map_groups(session, _history_rows(tasks, spread), by="task", fn=fit, schema=RESULT_SCHEMA,
                                       partitions=partitions))  # fmt: skip
    for i, task in enumerate(tasks):
        if i not in fitted:  # no history, no rows to send: fitted here, failing as it would in a process
            fitted[i] = run_task(task)[1]
    return {task.key: fitted[i] for i, task in enumerate(tasks)}


def _plan(task: Task) -> _Plan:
    index = pd.DatetimeIndex(task.history.index)
    spec = {"name": index.name, "dtype": str(index.dtype), "freq": index.freqstr}
    return _Plan(task.model, task.steps, task.options, task.history.name, str(task.history.dtype), spec)


def _history_rows(tasks: Sequence[Task], positions: Sequence[int]) -> pa.Table:
    sizes = [len(tasks[i].history) for i in positions]
    days = np.concatenate([_naive(pd.DatetimeIndex(tasks[i].history.index)) for i in positions])
    values = np.concatenate([tasks[i].history.to_numpy(dtype=float) for i in positions])
    return pa.table({"task": pa.array(np.repeat(np.asarray(positions, dtype=np.int64), sizes)),
                     "ds": pa.array(days, pa.timestamp("us")), "y": pa.array(values, pa.float64())})  # fmt: skip


def _naive(index: pd.DatetimeIndex) -> np.ndarray:
    """Return the days as naive microseconds (UTC wall time for an index with a time zone)."""
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.as_unit("us").to_numpy()


def _restore(days: np.ndarray, spec: Mapping[str, Any]) -> pd.DatetimeIndex:
    """Return the index :func:`_naive` was given, from its days and its ``name``, ``dtype`` and ``freq``."""
    dtype = pd.api.types.pandas_dtype(spec["dtype"])
    index = pd.DatetimeIndex(days)
    if isinstance(dtype, pd.DatetimeTZDtype):
        index = index.tz_localize("UTC").tz_convert(dtype.tz)
    return pd.DatetimeIndex(index.astype(dtype), freq=spec["freq"], name=spec["name"])


def _fit_group(group: pd.DataFrame, *, plans: Mapping[int, _Plan], models: Mapping[str, ModelSpec]) -> pd.DataFrame:
    """On a worker: one task's rows -> its history -> :func:`run_task` -> the forecast's rows."""
    position = int(group["task"].iloc[0])
    plan = plans[position]
    group = group.sort_values("ds")
    index = _restore(group["ds"].to_numpy(dtype="datetime64[us]"), plan.index)
    history = pd.Series(group["y"].to_numpy(dtype=float), index=index, name=plan.name).astype(plan.dtype)
    _, forecast = run_task(Task((position,), plan.model, history, plan.steps, plan.options), models)
    return _forecast_rows(position, forecast)


def _forecast_rows(position: int, forecast: Forecast) -> pd.DataFrame:
    frame = forecast.frame
    index = pd.DatetimeIndex(frame.index)
    meta = json.dumps({"model": forecast.model, "note": forecast.note, "columns": [str(c) for c in frame.columns],
                       "index": {"name": index.name, "dtype": str(index.dtype), "freq": index.freqstr},
                       "samples": _width(forecast.samples), "samples_raw": _width(forecast.samples_raw)})  # fmt: skip
    n = len(frame)
    if n == 0:
        return pd.DataFrame({"task": [position], "position": [-1], "day": [pd.NaT], "values": [None],
                             "samples": [None], "samples_raw": [None], "meta": [meta]})  # fmt: skip
    return pd.DataFrame({"task": np.full(n, position, dtype=np.int64), "position": np.arange(n, dtype=np.int32),
                         "day": _naive(index), "values": list(frame.to_numpy(dtype=float)),
                         "samples": _per_day(forecast.samples, n), "samples_raw": _per_day(forecast.samples_raw, n),
                         "meta": [meta] + [None] * (n - 1)})  # fmt: skip


def _width(samples: np.ndarray | None) -> int | None:
    return None if samples is None else int(np.shape(samples)[1])


def _per_day(samples: np.ndarray | None, days: int) -> list:
    if samples is None:
        return [None] * days
    paths = np.asarray(samples, dtype=float)
    if paths.ndim != 2 or paths.shape[0] != days:
        raise ValueError(f"sample paths of shape {paths.shape}: expected one row per forecast day ({days})")
    return list(paths)


def _forecasts(table: pa.Table) -> dict[int, Forecast]:
    """Rebuild each task's forecast from its rows (:data:`RESULT_SCHEMA`)."""
    table = table.sort_by([("task", "ascending"), ("position", "ascending")]).combine_chunks()
    tasks = table["task"].to_numpy()
    starts = np.flatnonzero(np.r_[True, tasks[1:] != tasks[:-1]]) if len(tasks) else np.array([], dtype=int)
    ends = np.r_[starts[1:], len(tasks)]
    days = table["day"].to_numpy()
    columns = {name: table[name].chunk(0) if table[name].num_chunks else None
               for name in ("values", "samples", "samples_raw")}  # fmt: skip
    out = {}
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        meta = json.loads(table["meta"][start].as_py())
        n = 0 if table["position"][start].as_py() < 0 else end - start
        frame = pd.DataFrame(_block(columns["values"], start, n, len(meta["columns"])),
                             index=_restore(days[start:start + n], meta["index"]), columns=meta["columns"])  # fmt: skip
        samples, raw = (None if meta[name] is None else _block(columns[name], start, n, meta[name])
                        for name in ("samples", "samples_raw"))  # fmt: skip
        out[int(tasks[start])] = Forecast(frame, samples, meta["model"], meta["note"], raw)
    return out


def _block(column: pa.ListArray, start: int, n: int, width: int) -> np.ndarray:
    """Rows ``start`` to ``start + n`` of a list column as an ``(n, width)`` float array (a copy, writable)."""
    flat = column.slice(start, n).flatten().to_numpy(zero_copy_only=False)
    return np.array(flat, dtype=float).reshape(n, width)
