"""The anomaly review notebook through papermill with non-default parameters; assertions on ``results.json``.

Expected values come from ``truth/events.csv`` and ``truth/daily_cost.csv`` read directly.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from nbrun import run_notebook

from finops_lib import paths

NOTEBOOK = paths.NOTEBOOKS_DIR / "40_anomaly_review.ipynb"
TRUTH = paths.SAMPLE_DIR / "truth"
NON_DEFAULT = {"sensitivity": 5.0, "dimension": "application", "series_key": "legal/contract-review",
               "metric": "tokens", "start_date": "2026-08-01", "end_date": "2026-08-31", "anomaly_index": 0,
               "evaluation_sensitivities": [4.0, 5.0], "show_widgets": False}  # fmt: skip

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, sample_warehouse: Path) -> dict:
    tmp = tmp_path_factory.mktemp("anomaly")
    return run_notebook(NOTEBOOK, tmp, timeout=900, warehouse=str(sample_warehouse), **NON_DEFAULT)


def test_window_and_parameters_applied(results: dict) -> None:
    assert results["parameters"]["sensitivity"] == 5.0 and results["parameters"]["dimension"] == "application"
    assert results["alerts"] and all(a["last_seen"] >= "2026-08-01" and a["first_seen"] <= "2026-08-31"
                                      for a in results["alerts"])  # fmt: skip
    assert {a["sensitivity"] for a in results["alerts"]} == {"5.0"}


def test_first_anomaly_of_august_is_the_cache_collapse(results: dict) -> None:
    with (TRUTH / "events.csv").open() as handle:
        e08 = next(r for r in csv.DictReader(handle) if r["event_id"] == "E08")
    chosen = results["chosen"]
    assert (chosen["first_seen"], chosen["team"], chosen["application"]) == (e08["start_date"], e08["team"],
                                                                             e08["application"])  # fmt: skip
    assert chosen["last_seen"] == e08["end_date"] and chosen["driver"] == e08["driver"] == "cache hit rate"
    parts = results["decomposition"]
    assert sum(Decimal(v) for v in parts["components"].values()) == Decimal(parts["change"])
    assert Decimal(parts["current"]) - Decimal(parts["baseline"]) == Decimal(parts["change"])
    with (TRUTH / "daily_cost.csv").open() as handle:
        cost = sum(
            Decimal(r["cost_usd"])
            for r in csv.DictReader(handle)
            if r["team"] == "legal"
            and r["application"] == "contract-review"
            and e08["start_date"] <= r["date"] <= e08["end_date"]
        )
    assert float(parts["current"]) == pytest.approx(float(cost), rel=1e-6)


def test_evaluation_meets_the_acceptance(results: dict) -> None:
    evaluation = results["evaluation"]
    assert evaluation["recall"] >= 0.9 and evaluation["precision"] >= 0.8 and evaluation["driver_accuracy"] >= 0.9
    assert [row["sensitivity"] for row in results["sweep"]] == ["4.0", "5.0"]
    assert Path(NOTEBOOK).is_file() and results["headline"]["Anomalies"] == str(len(results["alerts"]))
