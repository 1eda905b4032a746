"""DuckDB and Spark give the same figures to the cent (issue 19): one Spark session per test session."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pandas as pd
import pytest

from finops_lib import engine, paths, warehouse
from finops_lib.errors import EngineError

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(shutil.which("java") is None, reason="no Java runtime on PATH"),
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="pyspark not installed"),
]


@pytest.fixture(scope="session")
def engines(tmp_path_factory):
    """The sample ingested on DuckDB and on Spark (ingest warehouse, then Parquet catalog): duck, spark, summaries."""
    duck = engine.connect("duckdb://")
    duck_summary = warehouse.ingest([paths.SAMPLE_DIR], con=duck)
    spark = engine.connect(f"pyspark://{tmp_path_factory.mktemp('spark')}/catalog")
    spark_summary = warehouse.ingest([paths.SAMPLE_DIR], con=spark)
    return duck, spark, (duck_summary, spark_summary)


def test_spark_connect_url_is_recognised_and_fails_clearly() -> None:
    with pytest.raises(EngineError, match="no Spark Connect server listens"):
        engine.connect("sc://localhost:15999")


def test_local_session_settings(engines) -> None:
    _, spark, _ = engines
    assert spark.name == "pyspark"
    assert spark._session.conf.get("spark.sql.session.timeZone") == "UTC"


@pytest.mark.parametrize("name", ["costs", "requests", "rejects"])
def test_row_counts_equal(engines, name) -> None:
    duck, spark, _ = engines
    assert spark.table(name).count().execute() == duck.table(name).count().execute() > 0


def test_ingest_summaries_equal(engines) -> None:
    """Ingest on Spark reports every file as DuckDB does: the same statuses and rows read, loaded and rejected."""
    _, _, (duck_summary, spark_summary) = engines
    assert len(duck_summary) == 55 and set(duck_summary["status"]) == {"loaded"}
    pd.testing.assert_frame_equal(spark_summary, duck_summary)
    assert spark_summary["rows_rejected"].sum() == 4  # the sample's planted bad LiteLLM lines


def test_ledger_tables_equal(engines) -> None:
    duck, spark, _ = engines
    columns = ["x_SourceFile", "x_FileSha256", "x_SourceFormat", "x_RowsRead", "x_RowsLoaded", "x_RowsRejected"]
    for name in ("ingested_files", "ingested_windows"):
        cols = columns if name == "ingested_files" else ["x_SourceFile", "x_SourceFormat"]
        left = duck.table(name).select(cols).to_pandas().sort_values(cols[:1]).reset_index(drop=True)
        right = spark.table(name).select(cols).to_pandas().sort_values(cols[:1]).reset_index(drop=True)
        pd.testing.assert_frame_equal(right, left, check_dtype=False)


@pytest.mark.parametrize("key", ["ProviderName", "x_TokenType"])
def test_cost_totals_equal_to_the_cent(engines, key) -> None:
    duck, spark, _ = engines

    def totals(con):
        t = con.table("costs")
        frame = t.group_by(key).aggregate(billed=t.BilledCost.sum(), effective=t.EffectiveCost.sum()).execute()
        return {r[key]: (r["billed"], r["effective"]) for r in frame.to_dict("records")}

    d, s = totals(duck), totals(spark)
    assert d and d == s


# -- the analytic layer on both engines: equal frames, to the cent ------------------------------------------


def _same(left, right) -> None:
    import pandas.testing as pt

    keys = [c for c in left.columns if not left[c].map(lambda v: isinstance(v, (list, dict))).any()]
    left = left.sort_values(keys).reset_index(drop=True)
    right = right.sort_values(keys).reset_index(drop=True)
    pt.assert_frame_equal(left, right, check_exact=True)


def _rules():
    from finops_lib.rules import load_rules

    return load_rules(paths.SAMPLE_DIR / "config" / "allocation_rules.yaml")


def test_facts_totals_and_breakdowns_equal(engines) -> None:
    from finops_lib.facts import open_facts

    duck, spark, _ = engines
    d, s = open_facts(duck, rules=_rules()), open_facts(spark, rules=_rules())
    assert d.total("cost") == s.total("cost") > 0
    by = ["provider", "day"]
    _same(d.aggregate(["cost", "tokens"], by=by), s.aggregate(["cost", "tokens"], by=by))
    _same(d.aggregate(["cost"], by=["model", "month"]), s.aggregate(["cost"], by=["model", "month"]))
    _same(d.series("cost", by="team"), s.series("cost", by="team"))


def test_chargeback_csv_byte_identical(engines, tmp_path) -> None:
    from finops_lib.allocation import allocate, write_chargeback
    from finops_lib.facts import open_facts

    duck, spark, _ = engines
    files = [write_chargeback(allocate(open_facts(con, rules=_rules())), tmp_path / f"{con.name}.csv")
             for con in (duck, spark)]  # fmt: skip
    texts = [Path(f).read_text(encoding="utf-8") for f in files]
    assert texts[0] == texts[1] and texts[0].count("\n") > 5


def test_reconciliation_forecast_inputs_and_anomalies_equal(engines) -> None:
    from finops_lib.anomalies import detect_anomalies
    from finops_lib.facts import build_cells, open_facts
    from finops_lib.forecast import build_series
    from finops_lib.reconcile import reconcile

    duck, spark, _ = engines
    d, s = open_facts(duck, rules=_rules()), open_facts(spark, rules=_rules())
    _same(reconcile(d).lines, reconcile(s).lines)
    _same(build_series(d, by="team", metric="spend"), build_series(s, by="team", metric="spend"))
    _same(build_cells(d), build_cells(s))
    _same(detect_anomalies(d), detect_anomalies(s))


def test_json_functions_agree(engines) -> None:
    import ibis

    from finops_lib.engines.functions import json_string, json_string_list, json_valid

    duck, spark, _ = engines
    rows = {"j": ['{"a b": "x", "k.d": 1.50, "o": {"p": "q"}, "u": "\\u00e9", "nul": null, "request_tags": ["t1", 2]}',
                  "not json", None]}  # fmt: skip

    def read(con):
        t = ibis.memtable(rows)
        text = ibis.ifelse(json_valid(t.j), t.j, None)
        expr = t.select(ok=json_valid(t.j), ab=json_string(text, ("a b",)), kd=json_string(text, ("k.d",)),
                        o=json_string(text, ("o",)), p=json_string(text, ("o", "p")), u=json_string(text, ("u",)),
                        nul=json_string(text, ("nul",)), tags=json_string_list(text, ("request_tags",)))  # fmt: skip
        return con.to_pyarrow(expr).to_pydict()

    d = read(duck)
    assert d == read(spark)
    assert d["ab"] == ["x", None, None] and d["kd"][0] == "1.5" and d["o"][0] == '{"p":"q"}' and d["u"][0] == "é"
    assert d["tags"][0] == ["t1", "2"] and d["nul"][0] is None and d["ok"][:2] == [True, False]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_focus_export_equal(engines, tmp_path, suffix) -> None:
    import pyarrow.parquet as pq

    from finops_lib.warehouse import export_focus

    duck, spark, _ = engines
    done = [export_focus(con, tmp_path / f"{con.name}{suffix}") for con in (duck, spark)]
    assert done[0]["rows"] == done[1]["rows"] > 0 and done[0]["left_out"] == done[1]["left_out"]
    files = [Path(d["path"]) for d in done]
    if suffix == ".csv":
        assert files[0].read_bytes() == files[1].read_bytes()
    else:
        tables = [pq.read_table(f) for f in files]
        assert tables[0].schema.equals(tables[1].schema)
        _same(tables[0].to_pandas(), tables[1].to_pandas())  # Parquet rows are written in parallel: order free
