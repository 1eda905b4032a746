"""Never silent: every file is loaded, rejected row by row, or listed as not loaded with a reason, a hint and a
distinct exit code."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finops_lib import engine
from finops_lib.cli import main
from finops_lib.sources import detect_format, explain_unrecognised
from finops_lib.views.overview import page as overview
from finops_lib.warehouse import ingest, skipped_files

DATA = Path(__file__).parent / "data"
ACTUAL = DATA / "quirks" / "azure_ea_actual_cost.csv"


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "exports"
    (root / "oci").mkdir(parents=True)
    shutil.copyfile(ACTUAL, root / ACTUAL.name)
    (root / "oci" / "mystery.csv").write_text("tenant,when,amount\nt1,2026-05-01,3.5\n")
    return root


def test_ingest_exits_3_on_a_skipped_file_and_names_why(folder, tmp_path, capsys) -> None:
    code = main(["ingest", str(folder), "--warehouse", str(tmp_path / "w.duckdb")])
    err = capsys.readouterr().err
    assert code == 3
    assert f"SKIPPED {folder / 'oci' / 'mystery.csv'}: CSV with 3 columns (tenant, when, amount)" in err
    assert "finops formats" in err and "--allow-skipped" in err
    assert main(["ingest", str(folder), "--warehouse", str(tmp_path / "w.duckdb"), "--allow-skipped"]) == 0


def test_ingest_exits_1_on_a_file_that_cannot_be_read(tmp_path, capsys) -> None:
    broken = tmp_path / "broken.json"
    data = (DATA / "openai_usage.json").read_bytes()
    broken.write_bytes(data[: len(data) // 2])  # a truncated API page, read as the format it claims to be
    code = main(["ingest", str(broken), "--format", "openai_usage", "--warehouse", str(tmp_path / "w.duckdb")])
    assert code == 1
    assert f"FAILED {broken}" in capsys.readouterr().err


def test_the_overview_lists_files_not_loaded_largest_first(folder) -> None:
    broken = folder / "azure_cut.csv"
    broken.write_bytes(gzip.compress(b"not really"))  # named .csv, gzip bytes: recognised by nothing
    big = folder / "notes.json"
    big.write_text(json.dumps({"owner": "finance", "rows": list(range(2000))}))
    con = engine.memory()
    ingest([folder], con=con)
    listed = skipped_files(folder, con)
    assert listed["file"].tolist() == ["notes.json", "oci/mystery.csv", "azure_cut.csv"]
    assert listed["bytes"].tolist() == [big.stat().st_size, (folder / "oci" / "mystery.csv").stat().st_size,
                                        broken.stat().st_size]  # fmt: skip
    assert set(listed["status"]) == {"skipped"} and all(listed["reason"].str.len() > 40)
    assert listed["reason"][0].startswith("JSON object with keys (owner, rows)")
    headline = overview.unloaded_headline(listed)
    assert headline.startswith("3 files of the data folder (") and "3 skipped" in headline
    assert skipped_files(None).empty


def test_a_recognised_file_the_warehouse_lacks_is_listed_as_failed(folder) -> None:
    cut = folder / "cut_actual.csv"
    cut.write_text(ACTUAL.read_text().splitlines()[0] + "\n")  # header only: recognised, nothing to load
    con = engine.memory()
    con_rows = ingest([folder / ACTUAL.name], con=con)  # the folder's other files never ingested
    listed = skipped_files(folder, con).set_index("file")
    assert con_rows.status.tolist() == ["loaded"]
    assert listed.loc["cut_actual.csv", "status"] == "failed"
    assert "recognised as azure_cost_details" in listed.loc["cut_actual.csv", "reason"]


@pytest.mark.parametrize(("name", "content", "start"), [
    ("empty.csv", b"", "empty file (0 bytes)"),
    ("blob.bin", bytes(range(256)) * 4, "binary content"),
    ("list.json", json.dumps([{"a": 1, "b": 2}, {"c": 3}]).encode(), "JSON array of 2 items with keys (a, b, c)"),
    ("lines.jsonl", b'{"x": 1}\n{"x": 2}\n', "JSON lines object with keys (x)"),
    ("semi.csv", b"a;b;c\n1;2;3\n", "semicolon-separated text with 3 columns (a, b, c)"),
])  # fmt: skip
def test_unrecognised_files_are_described(tmp_path, name, content, start) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert detect_format(path) is None
    assert explain_unrecognised(path).startswith(start)


def test_an_unknown_parquet_is_described_by_its_columns(tmp_path) -> None:
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"tenant": ["t"], "amount": [1.5]}), path)
    assert explain_unrecognised(path).startswith("Parquet with 2 columns (tenant, amount)")


def test_no_test_file_is_skipped_without_a_reason() -> None:
    for path in sorted(p for p in DATA.rglob("*") if p.is_file()):
        if detect_format(path) is None:
            reason = explain_unrecognised(path)
            assert (len(reason) > 30 and "no registered format" in reason) or reason.startswith("empty"), path


def test_undecodable_bytes_in_a_record_are_a_reject_not_a_crash(tmp_path) -> None:
    path = tmp_path / "gcp.csv"
    path.write_bytes(b"billing_account_id,service.description,sku.description,usage_start_time,usage_end_time,cost,"
                     b"currency\nA,Vertex AI,x,2026-05-01 00:00:00 UTC,2026-05-01 01:00:00 UTC,1\xff2,USD\n")
    con = engine.memory()
    result = ingest([path], con=con, format="gcp_billing_export").iloc[0]
    assert (result.status, result.rows_read, result.rows_rejected) == ("loaded", 1, 1)
    assert "?" in con.sql("SELECT x_Value FROM rejects").to_pandas().x_Value[0]
