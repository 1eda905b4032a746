"""Many (series, model) fits in forked worker processes."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import pandas as pd

from finops_lib.forecast.models import MODELS, Forecast, Options


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
