"""Spend and token forecasts: series, models (baselines and Prophet), backtests, calibration, budgets.

Modules: ``series`` (daily series from the facts layer), ``models`` (the model registry and the baselines),
``prophet`` (Prophet models, registered on import), ``events`` (known launches and price changes), ``tasks`` (one
fit), ``parallel`` (many fits at once: processes, or a Spark session's workers through ``spark_fits``),
``backtest`` (rolling origins, accuracy, model choice), ``calibrate`` (intervals from backtest errors), ``choice``
(the chosen model per series, the forecast table), ``budgets``.
"""

from finops_lib.forecast.events import EVENT_KINDS, Event, apply_events, catalog_events, event_regressors, read_events
from finops_lib.forecast.models import MODELS, Forecast, Options, register_model
from finops_lib.forecast.parallel import Progress, run_tasks
from finops_lib.forecast.prophet import detect_level_shifts  # also registers the Prophet models
from finops_lib.forecast.series import DIMENSIONS, build_series, credits_by_day, forecastable, series_map
from finops_lib.forecast.tasks import Task, run_task

__all__ = [
    "DIMENSIONS",
    "EVENT_KINDS",
    "MODELS",
    "Event",
    "Forecast",
    "Options",
    "Progress",
    "Task",
    "apply_events",
    "build_series",
    "catalog_events",
    "credits_by_day",
    "detect_level_shifts",
    "event_regressors",
    "forecastable",
    "read_events",
    "register_model",
    "run_task",
    "run_tasks",
    "series_map",
]
