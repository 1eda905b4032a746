"""Many (series, model) fits in forked worker processes."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import pandas as pd

from finops_lib.forecast.models import MODELS, Forecast, Options

#: Told ``(done, total)`` after each fit.
Progress = Callable[[int, int], None]


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


def run_tasks(tasks: Sequence[Task], *, workers: int = 2, progress: bool | Progress = False,
              desc: str = "fits") -> dict[tuple, Forecast]:
    """Run fits in ``workers`` processes (in this process when 1 or few tasks), saying how far they are.

    ``progress``: True for a tqdm bar (commands), or a callback told ``(done, total)`` after each fit (a notebook's
    bar, :func:`finops_lib.views.progress.working`).

    Workers are forked (POSIX): they inherit the loaded models and the silenced loggers, and scripts need no
    ``if __name__ == "__main__"`` guard. They only fit models; they never touch the warehouse.
    """
    from tqdm.auto import tqdm

    results: dict[tuple, Forecast] = {}
    bar = tqdm(total=len(tasks), desc=desc, disable=progress is not True, leave=False)
    tell = progress if callable(progress) else None

    def done(key: tuple, forecast: Forecast) -> None:
        results[key] = forecast
        bar.update()
        if tell is not None:
            tell(len(results), len(tasks))

    try:
        if workers <= 1 or len(tasks) < 4:
            for key, forecast in map(run_task, tasks):
                done(key, forecast)
            return results
        context = multiprocessing.get_context("fork")  # scripts without a __main__ guard work; models preloaded
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for key, forecast in pool.map(run_task, tasks, chunksize=max(1, len(tasks) // (workers * 8))):
                done(key, forecast)
    finally:
        bar.close()
    return results
