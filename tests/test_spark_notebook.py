"""A notebook on Spark (issue 19): the attribution page's figures equal DuckDB's, run through papermill."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from nbrun import run_notebook

from finops_lib import paths

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(shutil.which("java") is None, reason="no Java runtime on PATH"),
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="pyspark not installed"),
]

NOTEBOOK = paths.PROJECT_ROOT / "notebooks" / "10_cost_attribution.ipynb"


def _money(results: dict) -> dict:
    """The results' figures that are money or counts (what must agree to the cent), without paths and timings."""
    keys = ("headline", "findings", "date_range", "input_total", "allocated_total", "by_owner", "by_kind", "coverage",
            "unallocated_keys")
    return {k: results[k] for k in keys}


def test_attribution_notebook_on_spark_equals_duckdb(tmp_path: Path) -> None:
    for side in ("duck", "spark"):
        (tmp_path / side).mkdir()
    params = {"show_widgets": False, "data_dir": str(paths.SAMPLE_DIR)}
    duck = run_notebook(NOTEBOOK, tmp_path / "duck", warehouse=str(tmp_path / "duck.duckdb"), **params)
    spark = run_notebook(NOTEBOOK, tmp_path / "spark", engine=f"pyspark://{tmp_path / 'catalog'}", **params)
    assert (tmp_path / "catalog" / "costs").is_dir()  # the notebook ingested into the Spark catalog
    assert float(duck["input_total"]["USD"]) > 0
    assert _money(spark) == _money(duck)
    csv = [(tmp_path / side / "out" / "chargeback.csv").read_bytes() for side in ("duck", "spark")]
    assert csv[0] == csv[1] and csv[0].count(b"\n") > 10
