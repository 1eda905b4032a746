"""Many (series, model) fits at once: in forked worker processes, or on a Spark session's workers.

:func:`run_tasks` runs the fits where the data is: given a Spark connection (``on=``), on its workers
(:mod:`finops_lib.forecast.spark_fits`); otherwise (DuckDB, or no connection) in ``workers`` forked processes.
Either way every fit is :func:`finops_lib.forecast.tasks.run_task`, and the forecasts are the same.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from finops_lib.engines.grouped import spark_session
from finops_lib.forecast.models import Forecast
from finops_lib.forecast.spark_fits import fit_on_spark
from finops_lib.forecast.tasks import Task, run_task

__all__ = ["Progress", "Task", "run_task", "run_tasks"]

#: Told ``(done, total)`` after each fit.
Progress = Callable[[int, int], None]


def run_tasks(tasks: Sequence[Task], *, workers: int = 2, progress: bool | Progress = False,
              desc: str = "fits", on: Any = None) -> dict[tuple, Forecast]:  # fmt: skip
    """Run fits in ``workers`` processes (in this process when 1 or few tasks), or on Spark; say how far they are.

    Parameters
    ----------
    tasks
        The fits.
    workers
        Processes (ignored on Spark: its session decides how many workers fit).
    progress
        True for a tqdm bar (commands), or a callback told ``(done, total)`` after each fit (a notebook's bar,
        :func:`finops_lib.views.progress.working`). On Spark the fits are counted when they all are back.
    desc
        The bar's label.
    on
        The connection the series came from: a Spark one (an ibis PySpark backend, or a Spark session) fits on
        its workers (:func:`finops_lib.forecast.spark_fits.fit_on_spark`); anything else, or None, in processes.

    Returns
    -------
    dict
        ``{task.key: Forecast}``.

    Notes
    -----
    Processes are forked (POSIX): they inherit the loaded models and the silenced loggers, and scripts need no
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
        session = spark_session(on)
        if session is not None and tasks:
            for key, forecast in fit_on_spark(tasks, session).items():
                done(key, forecast)
            return results
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
