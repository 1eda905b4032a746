"""One workspace for every command: `finops ingest` then any analysis command reads what was ingested.

Real DuckDB files and real fixture files, no mocks. The expected spend is summed here from the fixtures' own
``BilledCost`` column with the csv module and Decimal (every row is an invoiced USD charge; the LiteLLM gateway
log adds requests, never spend).
"""

from __future__ import annotations

import csv
import json
import shutil
from argparse import Namespace
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from thin_folders import focus_60_days_one_provider

from finops_lib import engine, paths
from finops_lib.cli import main
from finops_lib.cli.common import resolve_workspace

DATA = Path(__file__).parent / "data"
CENT = Decimal("0.01")
UNRECOGNISED_FIX = "fix: pass --format NAME or --mapping FILE.yaml for an in-house CSV (see `finops formats`)"


def _billed(folder: Path) -> Decimal:
    """The spend of a folder's FOCUS files: the sum of their BilledCost column."""
    total = Decimal(0)
    for path in folder.rglob("*.csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if "BilledCost" in (reader.fieldnames or ()):
                total += sum((Decimal(row["BilledCost"]) for row in reader), Decimal(0))
    return total


def _exports(root: Path) -> Path:
    """A user's folder: a FOCUS export, a gateway log with bad rows, and 60 days of a Bedrock FOCUS export."""
    folder = root / "exports"
    folder.mkdir(parents=True)
    shutil.copy(DATA / "focus.csv", folder / "focus.csv")
    shutil.copy(DATA / "litellm_spend_logs_small.csv", folder / "spend_logs.csv")
    focus_60_days_one_provider(folder / "bedrock")
    return folder


def _status(capsys: pytest.CaptureFixture, *options: str) -> dict:
    capsys.readouterr()
    assert main(["status", "--json", *options]) == 0
    return json.loads(capsys.readouterr().out)


def _ingested(warehouse: Path) -> list[str]:
    con = engine.connect(warehouse=warehouse, read_only=True)
    try:
        return sorted(con.table("ingested_files").to_pandas()["x_SourceFile"])
    finally:
        con.disconnect()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A workspace (through ``$FINOPS_WAREHOUSE``) holding the exports, ingested once for the module."""
    root = tmp_path_factory.mktemp("workspace")
    exports, folder = _exports(root), root / "ws"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FINOPS_WAREHOUSE", str(folder))
        assert main(["ingest", str(exports)]) == 0
    return exports, folder


@pytest.fixture
def env(workspace: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("FINOPS_WAREHOUSE", str(workspace[1]))
    return workspace


def test_ingest_through_the_environment_fills_the_workspace_and_status_shows_it(env, capsys) -> None:
    exports, folder = env
    info = _status(capsys)
    assert info["warehouse"] == str(folder / engine.WAREHOUSE_FILE)
    assert Decimal(info["spend"]["total"]) == _billed(exports) and _billed(exports) > 0
    assert info["spend"]["line"] == (f"Spend (USD), {info['spend']['start']} to {info['spend']['end']}: "
                                     f"${_billed(exports).quantize(CENT):,.2f}")  # fmt: skip
    assert info["spend"]["start"] == "2026-05-01" and info["spend"]["end"] == "2026-10-31"
    per_source = {(s["source"], s["table"]): s for s in info["sources"]}
    assert per_source[("focus", "costs")]["files"] == 2 and per_source[("focus", "costs")]["rows_loaded"] == 124
    logs = per_source[("litellm_spend_logs", "requests")]
    assert (logs["rows_read"], logs["rows_loaded"], logs["rows_rejected"]) == (9, 4, 5)
    assert sum(r["rows"] for r in info["rejects_by_reason"]) == 5 and info["files"] == 3
    assert info["not_loaded"] == [] and info["unpriced"] == [] and info["last_ingest"]


@pytest.mark.slow
def test_every_analysis_command_reads_the_ingested_workspace(env, tmp_path, capsys) -> None:
    exports, _ = env
    spend = _billed(exports)
    chargeback = tmp_path / "chargeback.csv"
    assert main(["chargeback", "--out", str(chargeback)]) == 0
    with chargeback.open(encoding="utf-8") as handle:
        assert sum(Decimal(row["total"]) for row in csv.DictReader(handle)) == spend.quantize(CENT)
    forecast = tmp_path / "forecast.csv"
    assert main(["forecast", "--out", str(forecast), "--model", "seasonal_naive", "--horizon", "7"]) == 0
    table = pd.read_csv(forecast)
    actual = table[table["kind"] == "actual"]
    assert actual["value"].sum() == pytest.approx(float(spend), rel=1e-9)
    assert (table["kind"] == "forecast").sum() == 7
    capsys.readouterr()
    alerts = tmp_path / "alerts.json"
    assert main(["anomalies", "--no-explain", "--out", str(alerts)]) == 0
    assert "anomalies written to" in capsys.readouterr().out and alerts.is_file()


@pytest.mark.slow
def test_a_warehouse_named_on_the_command_line_is_the_workspace(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("FINOPS_WAREHOUSE", raising=False)
    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(DATA / "focus.csv", folder / "focus.csv")
    warehouse = tmp_path / "mine.duckdb"
    assert main(["ingest", str(folder), "--warehouse", str(warehouse)]) == 0
    assert "warehouse: " + str(warehouse) in capsys.readouterr().out
    info = _status(capsys, "--warehouse", str(warehouse))
    assert Decimal(info["spend"]["total"]) == _billed(folder) and info["warehouse"] == str(warehouse)
    assert _ingested(warehouse) == [str(folder / "focus.csv")]


def test_a_command_with_nothing_ingested_exits_2_and_says_what_to_run(tmp_path, monkeypatch, capsys) -> None:
    empty = tmp_path / "empty_ws"
    monkeypatch.setenv("FINOPS_WAREHOUSE", str(empty))
    for command in (["status"], ["chargeback", "--out", str(tmp_path / "c.csv")],
                    ["forecast", "--out", str(tmp_path / "f.csv")], ["anomalies"],
                    ["export-focus", "--out", str(tmp_path / "x.csv")]):  # fmt: skip
        assert main(command) == 2, command
        err = capsys.readouterr().err
        assert (f"nothing ingested in {empty / engine.WAREHOUSE_FILE}: run `finops ingest <folder>` first, or pass "
                "--data data/sample for the demo") in err, command  # fmt: skip
    assert not (empty / engine.WAREHOUSE_FILE).exists()  # asking created no warehouse


@pytest.mark.slow
def test_data_ingests_into_the_workspace_then_reads_all_of_it(env, tmp_path) -> None:
    exports, folder = env
    shutil.copytree(folder, tmp_path / "ws")  # a copy: the module's workspace stays as ingested
    more = tmp_path / "more"
    more.mkdir()
    shutil.copy(DATA / "focus_1.3_aws.csv", more / "aws.csv")
    out = tmp_path / "chargeback.csv"
    assert main(["chargeback", "--data", str(more), "--warehouse", str(tmp_path / "ws"), "--out", str(out)]) == 0
    held = _ingested(tmp_path / "ws" / engine.WAREHOUSE_FILE)
    assert str(more / "aws.csv") in held and str(exports / "focus.csv") in held
    with out.open(encoding="utf-8") as handle:  # the whole workspace: what was there and what --data added
        total = sum(Decimal(row["total"]) for row in csv.DictReader(handle))
    assert total == (_billed(exports) + _billed(more)).quantize(CENT)


def test_the_sample_named_with_data_is_a_demo_outside_the_workspace(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FINOPS_WAREHOUSE", str(tmp_path / "ws"))
    demo = resolve_workspace(Namespace(data=str(paths.SAMPLE_DIR), warehouse=None))
    assert demo.demo and demo.warehouse is None and demo.config_dirs == (paths.SAMPLE_DIR / "config",)
    mine = resolve_workspace(Namespace(data=None, warehouse=None))
    assert mine.warehouse == tmp_path / "ws" / engine.WAREHOUSE_FILE and not mine.demo
    explicit = resolve_workspace(Namespace(data=str(paths.SAMPLE_DIR), warehouse=str(tmp_path / "demo.duckdb")))
    assert not explicit.demo and explicit.warehouse == tmp_path / "demo.duckdb"  # named on purpose: it goes there
    assert explicit.config_dirs == (tmp_path / "config", paths.SAMPLE_DIR / "config")
    monkeypatch.delenv("FINOPS_WAREHOUSE")
    assert resolve_workspace(Namespace()).warehouse == paths.PROJECT_ROOT / "data" / "warehouse" / "finops.duckdb"


@pytest.mark.slow
def test_data_sample_never_writes_into_the_workspace(env, capsys) -> None:
    _, folder = env
    before = _ingested(folder / engine.WAREHOUSE_FILE)
    stamp = (folder / engine.WAREHOUSE_FILE).stat().st_mtime_ns
    sample = _status(capsys, "--data", str(paths.SAMPLE_DIR))
    assert sample["warehouse"].startswith("the sample's own warehouse") and sample["spend"]["end"] == "2026-10-31"
    assert _ingested(folder / engine.WAREHOUSE_FILE) == before
    assert (folder / engine.WAREHOUSE_FILE).stat().st_mtime_ns == stamp and not (folder / "config").exists()


def _unloaded_folder(root: Path) -> Path:
    folder = root / "exports"
    folder.mkdir()
    shutil.copy(DATA / "litellm_spend_logs_small.csv", folder / "spend_logs.csv")
    (folder / "inhouse.csv").write_text("when,amount\n2026-05-01,3\n", encoding="utf-8")
    (folder / "empty.json").write_text("", encoding="utf-8")
    return folder


def test_ingest_names_the_reason_and_fix_of_every_file_in_no_table(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("FINOPS_WAREHOUSE", str(tmp_path / "ws"))
    folder = _unloaded_folder(tmp_path)
    assert main(["ingest", str(folder), "-v"]) == 3
    out, err = capsys.readouterr()
    assert "NaN" not in out and "(unrecognised)" in out
    assert f"SKIPPED {folder / 'inhouse.csv'}: CSV with 2 columns (when, amount)" in err
    assert UNRECOGNISED_FIX in err
    assert f"SKIPPED {folder / 'empty.json'}: empty file (0 bytes)" in err and "fix: nothing to load" in err
    assert f"REJECTED 5 of 9 rows of {folder / 'spend_logs.csv'}: " in err and "not a number: 1 row from line" in err
    assert "see `finops status` or the rejects table" in err


@pytest.mark.slow
def test_status_lists_the_files_in_no_table_while_they_are_there(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("FINOPS_WAREHOUSE", str(tmp_path / "ws"))
    folder = _unloaded_folder(tmp_path)
    assert main(["ingest", str(folder), "--allow-skipped"]) == 0
    info = _status(capsys)
    assert [(f["path"], f["status"]) for f in info["not_loaded"]] == [(str(folder / "empty.json"), "skipped"),
                                                                     (str(folder / "inhouse.csv"), "skipped")]
    assert "CSV with 2 columns" in info["not_loaded"][1]["reason"] and info["not_loaded"][1]["fix"] in UNRECOGNISED_FIX
    assert sum(r["rows"] for r in info["rejects_by_reason"]) == 5
    (folder / "inhouse.csv").unlink()  # gone from the folder: no longer listed
    assert [f["path"] for f in _status(capsys)["not_loaded"]] == [str(folder / "empty.json")]


def test_a_report_on_an_empty_engine_someone_named_never_shows_the_sample(tmp_path, monkeypatch, capsys) -> None:
    """``$FINOPS_ENGINE`` names the user's engine: empty, the report stops (exit 2) rather than show fictional money."""
    monkeypatch.delenv("FINOPS_WAREHOUSE", raising=False)
    monkeypatch.setenv("FINOPS_ENGINE", f"duckdb:///{tmp_path / 'theirs.duckdb'}")
    out = tmp_path / "report"
    assert main(["report", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "nothing ingested" in err and "showing the demo sample" not in err
    assert not out.exists() or not any(out.rglob("*.html"))
