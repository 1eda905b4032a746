import shutil

import pandas as pd
import pytest

from finops_lib import engine
from finops_lib.cli import main
from finops_lib.ingest import ingest, normalize


@pytest.fixture
def folder(tmp_path, data_dir):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("litellm_spend_logs_small.csv", "openai_usage_page.json", "openai_costs_page.json"):
        shutil.copy(data_dir / name, src / name)
    (src / "README.md").write_text("not data")
    (src / "notes.txt").write_text("not data either")
    return src


def _snapshot(con):
    out = {}
    for table in ("costs", "requests", "rejects"):
        frame = con.table(table).to_pandas()
        out[table] = (len(frame), frame.drop(columns=[]).astype(str).sort_values(list(frame.columns)).to_csv())
    return out


def test_read_equals_loaded_plus_rejected_per_file(folder, tmp_path):
    con = engine.connect(warehouse=tmp_path / "wh")
    summary = ingest([folder], con=con).set_index("format")
    assert (summary.rows_read == summary.rows_loaded + summary.rows_rejected).all()
    assert summary.loc["litellm_spend_logs", ["rows_read", "rows_loaded", "rows_rejected"]].tolist() == [9, 4, 5]
    assert summary.loc["openai_usage", ["rows_read", "rows_loaded", "rows_rejected"]].tolist() == [6, 4, 2]
    skipped = summary[summary.status == "skipped"]
    assert len(skipped) == 1 and skipped.path.iloc[0].endswith("notes.txt")  # README.md never offered
    rejects = con.table("rejects").to_pandas()
    assert len(rejects) == 5 + 2 + 1
    assert rejects.x_SourceFile.str.startswith(str(folder)).all()


def test_second_ingest_changes_nothing(folder, tmp_path):
    con = engine.connect(warehouse=tmp_path / "wh")
    ingest([folder], con=con)
    before = _snapshot(con)
    again = ingest([folder], con=con)
    assert set(again.status) == {"unchanged", "skipped"}
    assert _snapshot(con) == before


def test_copy_of_a_file_is_not_counted_twice(folder, tmp_path):
    con = engine.connect(warehouse=tmp_path / "wh")
    ingest([folder], con=con)
    copy = tmp_path / "copy.json"
    shutil.copy(folder / "openai_costs_page.json", copy)
    result = ingest([copy], con=con)
    assert result.status.tolist() == ["duplicate"]
    assert con.table("costs").count().to_pyarrow().as_py() == _snapshot(con)["costs"][0]


def test_restated_file_replaces_its_rows(folder, tmp_path):
    con = engine.connect(warehouse=tmp_path / "wh")
    ingest([folder], con=con)
    costs_file = folder / "openai_costs_page.json"
    text = costs_file.read_text().replace('"value":3,', '"value":4,')
    costs_file.write_text(text)
    result = ingest([costs_file], con=con)
    assert result.status.tolist() == ["replaced"]
    frame = con.table("costs").filter(con.table("costs").x_CostBasis == "invoiced").to_pandas()
    assert len(frame) == 5
    assert str(frame.BilledCost.sum()) == "5.800123456789"  # 0.1 + 0.2 + 0.000123456789 + 1.5 + 4


def test_same_charge_from_two_files_counts_once(folder, tmp_path):
    con = engine.connect(warehouse=tmp_path / "wh")
    ingest([folder / "openai_usage_page.json"], con=con)
    n = con.table("costs").count().to_pyarrow().as_py()
    # A second pull of the same window (other bytes: pretty-printed) holds the same charges.
    other = tmp_path / "pull2.json"
    other.write_text(pd.io.json.ujson_dumps(pd.read_json(folder / "openai_usage_page.json", typ="series").to_dict(),
                                            indent=2))
    ingest([other], con=con)
    costs = con.table("costs").to_pandas()
    assert len(costs) == n
    assert set(costs.x_SourceFile) == {str(other)}  # the last ingest wins


def test_broken_file_fails_alone(folder, tmp_path):
    (folder / "broken.json").write_text('{"object": "page", "data": [{"object": "organization.costs.result",')
    con = engine.connect(warehouse=tmp_path / "wh")
    summary = ingest([folder], con=con).set_index("path")
    broken = summary.loc[str(folder / "broken.json")]
    assert broken.status == "failed" and "not valid JSON" in broken.message and "line 1" in broken.message
    assert (summary.status == "loaded").sum() == 3


def test_normalize_writes_rows_and_rejects(data_dir, tmp_path):
    out = tmp_path / "n.parquet"
    info = normalize([data_dir / "litellm_spend_logs_small.csv"], out)
    assert info["table"] == "requests" and info["rows"] == 4 and info["records_rejected"] == 5
    rejects = pd.read_parquet(tmp_path / "n.rejects.parquet")
    assert {"x_SourceFile", "x_SourceRow", "x_Column", "x_Value", "x_Reason"} <= set(rejects.columns)


def test_cli_ingest_prints_counts(folder, tmp_path, capsys):
    assert main(["ingest", str(folder), "--warehouse", str(tmp_path / "wh")]) == 0
    out = capsys.readouterr().out
    assert "21 rows read, 13 loaded, 8 rejected" in out


def test_cli_reports_unknown_format_cleanly(tmp_path, capsys):
    target = tmp_path / "x.txt"
    target.write_text("hello")
    assert main(["normalize", str(target), "--out", str(tmp_path / "o.parquet")]) == 2
    assert "no registered format recognises this file" in capsys.readouterr().err


def test_cli_normalize_real_openai_response_keeps_token_totals(real_dir, tmp_path):
    import json

    source = real_dir / "openai_usage_completions_cookbook_2025-01.json"
    out = tmp_path / "X.parquet"
    assert main(["normalize", str(source), "--out", str(out)]) == 0
    rows = pd.read_parquet(out)
    doc = json.loads(source.read_text())
    results = [r for bucket in doc for r in bucket["results"]]
    tokens = rows.ConsumedQuantity.astype(float)
    assert tokens[rows.x_TokenType != "output"].sum() == sum(r["input_tokens"] for r in results)
    assert tokens[rows.x_TokenType == "output"].sum() == sum(r["output_tokens"] for r in results)
    assert pd.read_parquet(tmp_path / "X.rejects.parquet").empty
