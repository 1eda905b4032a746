"""Ingest on Spark (issue 19): the DuckDB ingest warehouse in the catalog folder, published one Parquet file per source.

What these tests hold the publish to: a file's rows are rewritten only when they changed, a publish that stopped
part-way is completed by the next run, and Spark's tables equal DuckDB's ingest of the same folder.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from finops_lib import engine, paths, warehouse
from finops_lib.engines.publish import INGEST_FILE, MARKER, file_part

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(shutil.which("java") is None, reason="no Java runtime on PATH"),
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="pyspark not installed"),
]

PAGES = paths.SAMPLE_DIR / "openai"


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    catalog = tmp_path_factory.mktemp("spark-ingest") / "catalog"
    return engine.connect(f"pyspark://{catalog}")


def _inodes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_ino for p in folder.glob("src-*.parquet")}


def _totals(con, table: str = "costs") -> dict[str, Decimal]:
    frame = con.table(table).group_by("x_SourceFile").aggregate(n=lambda t: t.count(),
                                                                  cost=lambda t: t.BilledCost.sum()).to_pandas()
    return {row.x_SourceFile: (int(row.n), Decimal(str(row.cost))) for row in frame.itertuples()}


def _hand_total(path: Path) -> tuple[int, Decimal]:
    """Rows and total of an OpenAI costs page, read with json (Decimal) rather than by the workbench."""
    page = json.loads(path.read_text(), parse_float=Decimal)
    results = [r for bucket in page["data"] for r in bucket["results"]]
    return len(results), sum((Decimal(str(r["amount"]["value"])) for r in results), Decimal(0))


def test_publish_rewrites_only_changed_files_and_recovers(spark, tmp_path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    first, second = folder / "costs_a.json", folder / "it's costs.json"  # a quote in a path is data, not SQL
    shutil.copy(PAGES / "costs_page_001.json", first)
    shutil.copy(PAGES / "costs_page_002.json", second)
    catalog = Path(spark._session.conf.get("spark.sql.warehouse.dir").removeprefix("file:"))

    summary = warehouse.ingest([folder], con=spark)
    assert list(summary["status"]) == ["loaded", "loaded"]
    assert (catalog / INGEST_FILE).is_file() and not (catalog / MARKER).exists()
    costs = catalog / "costs"
    assert set(_inodes(costs)) == {file_part(str(first)), file_part(str(second))}
    assert _totals(spark) == {str(first): _hand_total(first), str(second): _hand_total(second)}
    before = _inodes(costs)

    # Nothing changed: nothing rewritten.
    summary = warehouse.ingest([folder], con=spark)
    assert list(summary["status"]) == ["unchanged", "unchanged"]
    assert _inodes(costs) == before

    # A new version of one file: only its Parquet file is rewritten, and Spark sees the new rows.
    page = json.loads(second.read_text())
    dropped = page["data"][0]["results"].pop()
    assert dropped["amount"]["value"] > 0
    second.write_text(json.dumps(page))
    summary = warehouse.ingest([folder], con=spark)
    assert list(summary["status"]) == ["loaded", "replaced"] or list(summary["status"]) == ["unchanged", "replaced"]
    after = _inodes(costs)
    assert after[file_part(str(first))] == before[file_part(str(first))]
    assert after[file_part(str(second))] != before[file_part(str(second))]
    assert _totals(spark) == {str(first): _hand_total(first), str(second): _hand_total(second)}

    # A publish that stopped part-way (one file missing, the marker left): the next run completes it.
    (costs / file_part(str(first))).unlink()
    (catalog / MARKER).touch()
    summary = warehouse.ingest([folder], con=spark)
    assert set(summary["status"]) == {"unchanged"}
    assert not (catalog / MARKER).exists()
    assert _totals(spark) == {str(first): _hand_total(first), str(second): _hand_total(second)}

    # The ledger on Spark says what DuckDB's ingest of the same folder says.
    duck = engine.connect("duckdb://")
    warehouse.ingest([folder], con=duck)
    assert _totals(duck) == _totals(spark)
    columns = ["x_SourceFile", "x_FileSha256", "x_RowsRead", "x_RowsLoaded", "x_RowsRejected"]
    left = duck.table("ingested_files").select(columns).order_by("x_SourceFile").to_pandas()
    right = spark.table("ingested_files").select(columns).order_by("x_SourceFile").to_pandas()
    assert right.to_dict("records") == left.to_dict("records")


def test_rows_of_a_file_standing_for_another_move(spark, tmp_path) -> None:
    """A later copy of the same bytes stands for the earlier path, whose Parquet file leaves the catalog."""
    import os

    folder = tmp_path / "exports"
    folder.mkdir()
    early, late = folder / "costs_early.json", folder / "costs_late.json"
    shutil.copy(PAGES / "costs_page_003.json", early)
    warehouse.ingest([folder], con=spark)
    catalog = Path(spark._session.conf.get("spark.sql.warehouse.dir").removeprefix("file:"))
    assert (catalog / "costs" / file_part(str(early))).is_file()
    shutil.copy(early, late)
    stamp = early.stat().st_mtime + 3600
    os.utime(late, (stamp, stamp))
    summary = warehouse.ingest([folder], con=spark).set_index("path")["status"]
    assert summary[str(late)] == "loaded"
    assert not (catalog / "costs" / file_part(str(early))).exists()
    assert (catalog / "costs" / file_part(str(late))).is_file()
    totals = _totals(spark)
    assert str(early) not in totals and totals[str(late)] == _hand_total(PAGES / "costs_page_003.json")
