"""One fit as data (:class:`Task`) and the one way it is run (:func:`run_task`), whatever runs it.

Both fit paths call :func:`run_task`: forked processes (:mod:`finops_lib.forecast.parallel`) and a Spark session's
workers (:mod:`finops_lib.forecast.spark_fits`), so a failing model falls back the same way on either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import pandas as pd

from finops_lib.forecast.models import MODELS, Forecast, ModelSpec, Options

__all__ = ["Task", "run_task"]


@dataclass(frozen=True)
class Task:
    """One fit: a model on a history, ``steps`` days ahead."""

    key: tuple
    model: str
    history: pd.Series
    steps: int
    options: Options


def run_task(task: Task, models: Mapping[str, ModelSpec] = MODELS) -> tuple[tuple, Forecast]:
    """Fit one task; a model that fails falls back to seasonal naive, saying why in the forecast's note.

    Parameters
    ----------
    task
        The fit.
    models
        Where the model is looked up: the registry, or the registered models a Spark worker was sent (a model
        registered in a notebook exists only in the driver's process).

    Returns
    -------
    tuple
        ``(task.key, forecast)``.
    """
    try:
        return task.key, models[task.model].fit(task.history, task.steps, task.options)
    except Exception as exc:  # any model failure becomes a stated fallback, never a crash
        fallback = models["seasonal_naive"].fit(task.history, task.steps, task.options)
        note = f"{task.model} failed ({type(exc).__name__}: {str(exc)[:120]}); seasonal naive used"
        return task.key, replace(fallback, note=note)
