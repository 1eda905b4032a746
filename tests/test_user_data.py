"""The sample is a demo default only: nothing of it (files, rules, budgets, fictional prices, answer key) reaches a
user's own folder or warehouse, whichever way the user names it (folder, warehouse alone, command line)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from finops_lib import paths, pricing
from finops_lib.anomalies.evaluation import load_events
from finops_lib.cli import main
from finops_lib.errors import FinopsError, ParameterError
from finops_lib.forecast.budgets import load_budgets
from finops_lib.forecast.events import catalog_events
from finops_lib.rules import Rules, find_rules, resolve_rules
from finops_lib.views.anomalies.page import has_truth
from finops_lib.views.forecast import page as forecast_page
from finops_lib.views.reconciliation import page as reconciliation_page
from finops_lib.warehouse import ingest, open_data, skipped_files

DATA = Path(__file__).parent / "data"
SAMPLE = paths.SAMPLE_DIR


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A user's folder: a FOCUS cost export and a gateway log, no config, no answer key."""
    own = tmp_path / "exports"
    own.mkdir()
    shutil.copy(DATA / "focus.csv", own / "focus.csv")
    shutil.copy(DATA / "litellm_spend_logs_small.csv", own / "spend_logs.csv")
    return own


def ingested(con) -> set[str]:
    return set(con.table("ingested_files").to_pandas()["x_SourceFile"].astype(str))


def test_an_empty_folder_means_the_sample_only_when_no_warehouse_is_named(tmp_path: Path) -> None:
    assert paths.data_folder("", None) == str(SAMPLE) and paths.data_folder(None, "") == str(SAMPLE)
    assert paths.data_folder("", tmp_path / "mine.duckdb") is None
    assert paths.data_folder("exports", tmp_path / "mine.duckdb") == str(Path("exports").resolve())
    assert paths.is_sample(SAMPLE) and paths.is_sample(str(SAMPLE) + "/") and not paths.is_sample(None)
    assert not paths.is_sample("") and not paths.is_sample(tmp_path)


def test_without_a_folder_no_config_of_the_sample_applies(folder: Path) -> None:
    assert find_rules(None) is None and resolve_rules("", None) == Rules.default()
    assert find_rules(folder) is None and resolve_rules("", folder) == Rules.default()
    assert find_rules(SAMPLE) is not None  # the sample's own rules are still the sample's
    assert load_budgets("", None).empty and load_budgets("", folder).empty
    assert not has_truth(None) and not has_truth(folder) and has_truth(SAMPLE)
    with pytest.raises(ParameterError, match="no answer key"):
        load_events("")
    assert skipped_files(None).empty


def test_a_warehouse_named_alone_is_read_as_it_is(folder: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "mine.duckdb"
    con = open_data(folder, warehouse=warehouse)
    before = ingested(con)
    rows = con.table("requests").count().to_pyarrow().as_py()
    con.disconnect()
    assert before and all(path.startswith(str(folder)) for path in before)
    con = open_data(None, warehouse=warehouse)  # a notebook or command given only the warehouse
    try:
        assert ingested(con) == before and con.table("requests").count().to_pyarrow().as_py() == rows
    finally:
        con.disconnect()


def test_the_sample_price_change_is_layered_for_the_sample_folder_only(folder: Path, tmp_path: Path) -> None:
    overlay = str(pricing.SAMPLE_OVERLAY)
    sample_only = {e.name for e in catalog_events(pricing.load_catalog(overlay), start="2026-01-01")} - {
        e.name for e in catalog_events(pricing.load_catalog(), start="2026-01-01")}  # the fictional E09
    assert sample_only
    con = open_data(folder, warehouse=tmp_path / "mine.duckdb")
    try:
        for data_dir, layered in ((str(folder), False), (None, False), (str(SAMPLE), True)):
            _, catalog, _ = reconciliation_page.load(con, data_dir=data_dir)
            assert (overlay in map(str, catalog.origin)) is layered, data_dir
        for data_dir in (str(folder), None):
            inputs = forecast_page.load(con, data_dir=data_dir, dimension="total")
            assert not {e.name for e in inputs.events} & sample_only and inputs.budgets.empty
    finally:
        con.disconnect()


def test_the_commands_never_bring_the_sample_into_a_named_warehouse(folder: Path, tmp_path: Path, capsys) -> None:
    warehouse = tmp_path / "mine.duckdb"
    open_data(folder, warehouse=warehouse).disconnect()
    out, tags_only = tmp_path / "chargeback.csv", tmp_path / "tags_only.csv"
    assert main(["chargeback", "--warehouse", str(warehouse), "--out", str(out)]) == 0
    assert main(["chargeback", "--warehouse", str(warehouse), "--rules", "none", "--out", str(tags_only)]) == 0
    # the sample's rules (and files) would move money to the sample's teams: the owners are the data's own tags
    assert out.read_text(encoding="utf-8") == tags_only.read_text(encoding="utf-8")
    assert len(list(csv.DictReader(out.open(encoding="utf-8")))) > 0
    con = open_data(None, warehouse=warehouse)
    try:
        assert not any(path.startswith(str(SAMPLE)) for path in ingested(con))
    finally:
        con.disconnect()


def test_the_sample_never_shares_a_warehouse_with_a_user_s_data(folder: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine.duckdb"
    ingest([folder], warehouse=mine)
    with pytest.raises(FinopsError, match="never mixed with other data"):  # the sample's prices would apply to them
        ingest([SAMPLE / "anthropic"], warehouse=mine)
    demo = tmp_path / "demo.duckdb"
    ingest([SAMPLE / "anthropic"], warehouse=demo)
    with pytest.raises(FinopsError, match="never mixed with other data"):
        ingest([folder], warehouse=demo)
    con = open_data(None, warehouse=mine)
    try:  # nothing of the sample reached the user's warehouse
        assert ingested(con) and not any(path.startswith(str(SAMPLE)) for path in ingested(con))
    finally:
        con.disconnect()
    assert main(["chargeback", "--data", str(SAMPLE), "--warehouse", str(mine), "--out", str(tmp_path / "c.csv")]) == 2


def _demo_files() -> list[str]:
    """Open the demo (nothing named) and return the files it holds, asserting they are all the sample's."""
    con = open_data()
    try:
        held = list(con.table("ingested_files").select("x_SourceFile").to_pandas()["x_SourceFile"])
    finally:
        con.disconnect()
    assert held and all(Path(f).is_relative_to(paths.SAMPLE_DIR) for f in held)
    return held


def test_the_demo_sample_never_enters_an_engine_a_user_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``$FINOPS_ENGINE`` naming a user's engine does not receive the demo; the report's URL to its own file does."""
    import duckdb

    mine = tmp_path / "mine.duckdb"
    monkeypatch.setenv("FINOPS_ENGINE", f"duckdb:///{mine}")
    monkeypatch.setattr(paths, "BUILD_DIR", tmp_path / "build")
    held = _demo_files()
    assert not mine.exists()  # the user's engine was never opened
    own = next((tmp_path / "build" / "warehouses").glob("sample-*.duckdb"))
    monkeypatch.setenv("FINOPS_ENGINE", f"duckdb:///{own}?read_only=true")  # what finops report sets
    con = open_data()
    try:
        assert con.table("ingested_files").count().execute() == len(held)  # read there, nothing written
    finally:
        con.disconnect()
    with duckdb.connect(str(own), read_only=True) as db:
        assert db.sql("SELECT count(*) FROM ingested_files").fetchone()[0] == len(held)


def test_the_demo_never_reads_a_user_s_engine_as_the_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only ``$FINOPS_ENGINE`` holding a user's data is never shown as the demo (with the sample's prices).

    The demo honours a read-only engine only when it opens the demo's own file (the report's snapshot of it); a
    user's warehouse named read-only is neither read as the sample nor written to: the demo reads its own file.
    """
    import duckdb

    mine = tmp_path / "mine.duckdb"
    ingest([DATA / "focus.csv"], warehouse=mine)
    monkeypatch.setenv("FINOPS_ENGINE", f"duckdb:///{mine}?read_only=true")
    monkeypatch.setattr(paths, "BUILD_DIR", tmp_path / "build")
    _demo_files()  # the demo reads its own file, all of it the sample's
    with duckdb.connect(str(mine), read_only=True) as db:  # the user's warehouse: its one file, nothing else
        assert db.sql("SELECT x_SourceFile FROM ingested_files").fetchall() == [(str(DATA / "focus.csv"),)]
    assert str(pricing.SAMPLE_OVERLAY) not in pricing.catalog_for(None).origin  # the user's side: shipped only
