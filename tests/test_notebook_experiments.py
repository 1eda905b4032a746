"""The experiment notebook through papermill with non-default parameters; assertions on ``results.json``.

Expected values come from the raw LiteLLM log (csv + json modules), ``truth/experiments.csv`` and
``truth/events.csv``, not through the warehouse.
"""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from nbrun import run_notebook

from finops_lib import paths

NOTEBOOK = paths.NOTEBOOKS_DIR / "20_experiment_comparison.ipynb"
SAMPLE = paths.SAMPLE_DIR
EXPERIMENT = "exp-answer-prompt-v2"

pytestmark = pytest.mark.slow


def raw_experiment_rows() -> list[dict]:
    """Experiment requests of the raw gateway log: request id, variant, status and spend."""
    with (SAMPLE / "truth" / "gateway_bad_rows.csv").open() as handle:
        bad = {row["line"] for row in csv.DictReader(handle)}
    rows = []
    with gzip.open(SAMPLE / "litellm" / "spend_logs.csv.gz", "rt", newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            if str(reader.line_num) in bad:
                continue  # the dirty rows of truth/gateway_bad_rows.csv (physical lines)
            meta = json.loads(row["metadata"]).get("spend_logs_metadata") or {}
            spend = Decimal(row["spend"]).quantize(Decimal("1e-12"))  # the schema keeps 12 places
            if meta.get("experiment_id") == EXPERIMENT:
                rows.append({"id": row["request_id"], "variant": meta["variant"], "status": row["status"],
                             "spend": spend})  # fmt: skip
    return rows


@pytest.fixture(scope="module")
def raw() -> list[dict]:
    return raw_experiment_rows()


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, raw: list[dict], sample_warehouse: Path) -> dict:
    tmp = tmp_path_factory.mktemp("nb20")
    quality = tmp / "scores.csv"  # every v2-gpt-4o-mini request scored 1.0: it becomes the best per quality point
    with quality.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["request_id", "score"])
        writer.writerows([r["id"], "1.0"] for r in raw if r["variant"] == "v2-gpt-4o-mini")
    params = {"warehouse": str(sample_warehouse), "experiment": EXPERIMENT,
              "baseline": "v1-gpt-4o-mini", "metric": "cost", "requests_per_day": 5000, "cache_hit_rate": 0.5,
              "batch_share": 0.5, "price_date": "2026-09-01", "projection_days": 31, "quality_file": str(quality),
              "change_date": "2026-08-24", "change_application": "code-assistant", "change_feature": "review",
              "window_days": 21, "n_boot": 500, "seed": 3, "show_widgets": False}  # fmt: skip
    return run_notebook(NOTEBOOK, tmp, **params)


def test_variants_and_comparison(results: dict, raw: list[dict]) -> None:
    variants = {v["variant"]: v for v in results["variants"]}
    for name in variants:
        mine = [r for r in raw if r["variant"] == name]
        assert int(variants[name]["requests"]) == len(mine)
        mean = sum((r["spend"] for r in mine), Decimal(0)) / len(mine)
        assert float(variants[name]["cost_mean"]) == pytest.approx(float(mean), rel=1e-9)
    rows = {r["variant"]: r for r in results["comparison"]}
    assert set(rows) == {"v2-gpt-4o-mini", "v1-claude-haiku-4-5", "v2-claude-haiku-4-5"}
    truth = {r["variant"]: r for r in csv.DictReader((SAMPLE / "truth" / "experiments.csv").open())}
    for name, row in rows.items():
        assert row["baseline"] == "v1-gpt-4o-mini"
        true_rel = float(truth[name]["true_mean_cost_usd"]) / float(truth["v1-gpt-4o-mini"]["true_mean_cost_usd"]) - 1
        assert float(row["rel_ci_low"]) < true_rel < float(row["rel_ci_high"])
    # The scores file makes v2-gpt-4o-mini (quality 1.0 everywhere) the cheapest per quality point.
    assert results["best_per_quality"] == "v2-gpt-4o-mini"
    assert float(variants["v2-gpt-4o-mini"]["quality_mean"]) == 1.0


def test_projection_is_priced_or_flagged(results: dict) -> None:
    proj = {r["variant"]: r for r in results["projection"]}
    # gpt-4o-mini has no batch price for cached input in the catalog: unprojected, named, never $0.
    for name in ("v1-gpt-4o-mini", "v2-gpt-4o-mini"):
        assert proj[name]["monthly_cost"] is None
        assert "input_cache_read (batch)" in proj[name]["unpriced"]
    for name in ("v1-claude-haiku-4-5", "v2-claude-haiku-4-5"):
        low, mid, high = (float(proj[name][k]) for k in ("monthly_low", "monthly_cost", "monthly_high"))
        assert 0 < low <= mid <= high
        assert float(proj[name]["cost_per_request"]) * 5000 * 31 == pytest.approx(mid, rel=1e-9)
        assert proj[name]["price_date"] == "2026-09-01"


def test_before_after_of_the_prompt_change(results: dict) -> None:
    ba = results["before_after"]
    assert ba["change_date"] == "2026-08-24" and ba["days"] == 21
    metrics = {m["metric"]: m for m in ba["metrics"]}
    rel = float(metrics["input_tokens_per_request"]["rel_change"])
    assert 0.30 < rel < 0.50  # the story's +45% (the generated draws give about +39%)
    parts = sum(Decimal(v) for v in ba["decomposition"].values())
    assert parts == Decimal(ba["total_change"])
    top = results["changes"][0]
    assert (top["x_Application"], top["x_Feature"], top["change_date"]) == ("code-assistant", "review", "2026-08-24")
    assert results["headline"]["Change found"].startswith("2026-08-24")
    truth = next(csv.DictReader((SAMPLE / "truth" / "experiments.csv").open()))
    assert results["date_range"] == [truth["start_date"], truth["end_date"]]  # the experiment's days


@pytest.fixture(scope="module")
def usage_only(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The notebook on a folder with the OpenAI API pages only (no gateway log, no experiment)."""
    tmp = tmp_path_factory.mktemp("nb20_usage")
    data = tmp / "data"
    for folder in ("openai", "config"):
        shutil.copytree(SAMPLE / folder, data / folder)
    return run_notebook(NOTEBOOK, tmp, data_dir=str(data), warehouse=str(tmp / "w.duckdb"), show_widgets=False,
                        change_date="2026-07-06", change_application="ad-copy-lab", window_days=14, n_boot=500)


def test_without_experiments_the_before_after_still_runs(usage_only: dict) -> None:
    assert usage_only["headline"]["Experiment"] == "none with two or more variants in the data"
    assert usage_only["comparison"] == [] and usage_only["projection"] == []
    ba = usage_only["before_after"]
    assert ba["window"] == ["2026-06-22", "2026-07-06", "2026-07-20"]
    assert usage_only["date_range"] == ["2026-06-22", "2026-07-19"]
    with (SAMPLE / "truth" / "daily_cost.csv").open() as handle:
        truth = [r for r in csv.DictReader(handle) if r["application"] == "ad-copy-lab"]
    before = sum(int(r["requests"]) for r in truth if "2026-06-22" <= r["date"] < "2026-07-06")
    after = sum(int(r["requests"]) for r in truth if "2026-07-06" <= r["date"] < "2026-07-20")
    requests = {m["metric"]: m for m in ba["metrics"]}["requests"]
    assert float(requests["after"]) / float(requests["before"]) == pytest.approx(after / before, rel=1e-9)
    assert Decimal(ba["decomposition"]["volume"]) > Decimal("0.99") * Decimal(ba["total_change"])
