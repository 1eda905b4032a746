"""DuckDB and Spark give the same figures to the cent (issue 19): one Spark session per test session."""

from __future__ import annotations

import importlib.util
import shutil

import pytest

from finops_lib import engine, warehouse
from finops_lib.engines.transfer import copy_tables
from finops_lib.errors import EngineError

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(shutil.which("java") is None, reason="no Java runtime on PATH"),
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="pyspark not installed"),
]


@pytest.fixture(scope="session")
def engines(tmp_path_factory):
    duck = engine.connect("duckdb://")
    warehouse.ingest(["data/sample"], con=duck)
    spark = engine.connect(f"pyspark://{tmp_path_factory.mktemp('spark')}/catalog")
    copied = copy_tables(duck, spark)
    return duck, spark, copied


def test_spark_connect_url_is_recognised_and_fails_clearly() -> None:
    with pytest.raises(EngineError, match="no Spark Connect server listens"):
        engine.connect("sc://localhost:15999")


def test_local_session_settings(engines) -> None:
    _, spark, _ = engines
    assert spark.name == "pyspark"
    assert spark._session.conf.get("spark.sql.session.timeZone") == "UTC"


@pytest.mark.parametrize("name", ["costs", "requests", "rejects"])
def test_row_counts_equal(engines, name) -> None:
    duck, spark, copied = engines
    assert spark.table(name).count().execute() == duck.table(name).count().execute() == copied[name] > 0


@pytest.mark.parametrize("key", ["ProviderName", "x_TokenType"])
def test_cost_totals_equal_to_the_cent(engines, key) -> None:
    duck, spark, _ = engines

    def totals(con):
        t = con.table("costs")
        frame = t.group_by(key).aggregate(billed=t.BilledCost.sum(), effective=t.EffectiveCost.sum()).execute()
        return {r[key]: (r["billed"], r["effective"]) for r in frame.to_dict("records")}

    d, s = totals(duck), totals(spark)
    assert d and d == s
