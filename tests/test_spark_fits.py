"""Forecast fits on a Spark session's workers equal the processes' (issue 19): one Spark session per test session.

Prophet is deterministic here (its optimiser starts from fixed values and its sample paths use the seeded global
generator), so even its forecasts and sample paths are compared exactly, not within a tolerance.
"""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pandas as pd
import pytest

from finops_lib import engine
from finops_lib.engines.grouped import spark_session
from finops_lib.forecast import MODELS, Options, Task, run_tasks
from finops_lib.forecast import backtest as bt
from finops_lib.forecast.models import register_model
from finops_lib.forecast.spark_fits import fit_on_spark

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(shutil.which("java") is None, reason="no Java runtime on PATH"),
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="pyspark not installed"),
]

DAYS = pd.date_range("2026-03-02", periods=63, freq="D")  # nine whole weeks, Monday to Sunday


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    return engine.connect(f"pyspark://{tmp_path_factory.mktemp('spark_fits')}/catalog")


def _series(k: int) -> pd.Series:
    """A weekly pattern growing week by week, as :func:`finops_lib.forecast.series.series_map` names it."""
    week = np.array([10.0, 12, 11, 13, 9, 3, 2]) * (k + 1)
    values = np.concatenate([week + 0.5 * w * (k + 1) for w in range(len(DAYS) // 7)])
    index = pd.DatetimeIndex(DAYS.as_unit("us").to_numpy(), name="day")  # no frequency, as read from a warehouse
    return pd.Series(values, index=index, name=f"team {k}")


def _assert_same(spark_fits: dict, process_fits: dict) -> None:
    assert list(spark_fits) == list(process_fits)
    for key, ours in spark_fits.items():
        theirs = process_fits[key]
        pd.testing.assert_frame_equal(ours.frame, theirs.frame, check_exact=True)
        for name in ("samples", "samples_raw"):
            a, b = getattr(ours, name), getattr(theirs, name)
            assert (a is None) == (b is None), (key, name)
            assert a is None or np.array_equal(a, b), (key, name)
        assert (ours.model, ours.note) == (theirs.model, theirs.note), key


def test_seasonal_naive_repeats_last_week_on_spark_as_in_processes(spark) -> None:
    keys = [("team 0", "seasonal_naive", pd.Timestamp("2026-05-03")), ("b", 2), ("team 2",)]
    tasks = [Task(key, "seasonal_naive", _series(k), 10, Options(seed=k)) for k, key in enumerate(keys)]
    on_spark = run_tasks(tasks, on=spark)
    assert list(on_spark) == keys
    for k, key in enumerate(keys):
        last_week = np.array([10.0, 12, 11, 13, 9, 3, 2]) * (k + 1) + 0.5 * 8 * (k + 1)
        frame = on_spark[key].frame
        assert frame["forecast"].tolist() == [*last_week, *last_week[:3]]
        assert frame.index[0] == pd.Timestamp("2026-05-04") and len(frame) == 10 and frame.index.name == "day"
        assert on_spark[key].samples.shape == (10, 200) and on_spark[key].model == "seasonal_naive"
    _assert_same(on_spark, run_tasks(tasks, workers=2))


def test_every_model_gives_the_processes_forecast_exactly(spark) -> None:
    tasks = [Task((model, k), model, _series(k), 30, Options(seed=k, interval=0.9))
             for model in ("drift", "ets", "prophet", "prophet_multiplicative") for k in range(2)]  # fmt: skip
    on_spark = run_tasks(tasks, on=spark)
    _assert_same(on_spark, run_tasks(tasks, workers=2))
    assert on_spark[("prophet", 0)].model == "prophet" and on_spark[("prophet", 0)].frame.shape == (30, 3)


def test_a_failing_model_falls_back_with_the_same_note(spark) -> None:
    def fails(history, steps, options):  # defined here: Spark pickles it by value, as a notebook's model
        raise ValueError("boom")

    register_model("fails_on_purpose", description="test model", min_history=1)(fails)
    try:
        tasks = [Task(("x",), "fails_on_purpose", _series(0), 7, Options()),
                 Task(("y",), "never_registered", _series(1), 7, Options())]  # fmt: skip
        on_spark = run_tasks(tasks, on=spark)
        in_process = run_tasks(tasks, workers=1)
    finally:
        MODELS.pop("fails_on_purpose")
    assert on_spark[("x",)].note == "fails_on_purpose failed (ValueError: boom); seasonal naive used"
    assert on_spark[("y",)].note == "never_registered failed (KeyError: 'never_registered'); seasonal naive used"
    assert on_spark[("x",)].frame["forecast"].tolist() == [14.0, 16, 15, 17, 13, 7, 6]  # last week of series 0
    _assert_same(on_spark, in_process)


def test_the_backtest_and_the_forecasts_fit_on_the_connection_they_are_given(spark) -> None:
    series = {f"team {k}": _series(k) for k in range(2)}
    told: list[tuple[int, int]] = []
    ours = bt.backtest(series, horizon=7, models=("seasonal_naive", "drift"), n_origins=2, spacing=7, on=spark,
                       progress=lambda done, total: told.append((done, total)))  # fmt: skip
    theirs = bt.backtest(series, horizon=7, models=("seasonal_naive", "drift"), n_origins=2, spacing=7, workers=2)
    pd.testing.assert_frame_equal(ours.errors, theirs.errors, check_exact=True)
    pd.testing.assert_frame_equal(ours.residuals, theirs.residuals, check_exact=True)
    assert told[-1] == (8, 8)  # 2 series x 2 models x 2 origins, counted when they are back
    _assert_same(bt.fit_forecasts(series, "drift", horizon=14, on=spark),
                 bt.fit_forecasts(series, "drift", horizon=14, workers=1))  # fmt: skip


def test_nothing_to_fit_touches_no_worker(spark) -> None:
    assert run_tasks([], on=spark) == {} and fit_on_spark([], spark_session(spark)) == {}


def test_only_a_spark_connection_runs_the_spark_path(spark) -> None:
    assert spark_session(spark) is spark._session
    assert spark_session(spark._session) is spark._session
    assert spark_session(engine.connect("duckdb://")) is None
