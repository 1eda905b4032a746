import shutil

import ibis
import pandas as pd
import pyarrow as pa
import pytest
from commit_counter import CommitCounter

from finops_lib import engine
from finops_lib.cli import main
from finops_lib.warehouse import ingest, normalize


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
    rows = con.table("costs").count().to_pyarrow().as_py()
    copy = tmp_path / "copy.json"
    shutil.copy2(folder / "openai_costs_page.json", copy)  # same bytes, same modification time: the older path
    result = ingest([copy], con=con)
    assert result.status.tolist() == ["duplicate"]
    assert con.table("costs").count().to_pyarrow().as_py() == rows
    newer = tmp_path / "zz" / "copy.json"
    newer.parent.mkdir()
    shutil.copy(folder / "openai_costs_page.json", newer)  # delivered later: it stands for the bytes instead
    result = ingest([newer], con=con)
    assert result.status.tolist() == ["loaded"] and result.rows_replaced[0] > 0
    assert con.table("costs").count().to_pyarrow().as_py() == rows


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
    assert main(["ingest", str(folder), "--warehouse", str(tmp_path / "wh")]) == 3  # notes.txt is skipped
    captured = capsys.readouterr()
    assert "21 rows read, 13 loaded, 8 rejected" in captured.out
    assert f"SKIPPED {folder / 'notes.txt'}: text starting 'not data either'" in captured.err
    assert main(["ingest", str(folder), "--warehouse", str(tmp_path / "wh"), "--allow-skipped"]) == 0


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


# --- Restated windows, replaced counts, schema migration --------------------------------------------------------
# A tiny test-only format: {"account": "A1", "month": "2026-05", "days": {"01": "1.25", ...}} -> one invoiced row per
# day. Each file restates its whole (account, month) window, the way a CUR or a monthly cost export does.

_WINDOWED = "test_windowed_month"


def _windowed_reader(path, con):
    import json
    from datetime import UTC, datetime
    from decimal import Decimal

    from finops_lib.sources import ReadResult, Window
    from finops_lib.sources._common import month_bounds, records_table, row_hash

    doc = json.loads(path.read_text())
    start, end = month_bounds(datetime.strptime(doc["month"], "%Y-%m").replace(tzinfo=UTC))
    rows = []
    for i, (day, amount) in enumerate(sorted(doc["days"].items()), start=1):
        begin = start.replace(day=int(day))
        cost = Decimal(amount)
        rows.append({
            "BillingAccountId": doc["account"], "BillingCurrency": "USD", "BillingPeriodStart": start,
            "BillingPeriodEnd": end, "ChargeCategory": "Usage", "ChargePeriodStart": begin,
            "ChargePeriodEnd": begin.replace(hour=23), "InvoiceIssuerName": "T", "ProviderName": "T",
            "PublisherName": "T", "ServiceCategory": "AI and Machine Learning", "ServiceName": "T",
            "BilledCost": cost, "EffectiveCost": cost, "ListCost": cost, "ContractedCost": cost,
            "x_TokenType": "non_token", "x_CostBasis": "invoiced", "x_SourceFormat": _WINDOWED,
            "x_SourceFile": str(path), "x_SourceRow": i, "x_RowHash": row_hash(_WINDOWED, doc["account"], day, path),
            "x_DataQualityFlags": "",
        })
    window = Window(start, end, scope=(("BillingAccountId", doc["account"]),))
    return ReadResult(_WINDOWED, str(path), records_table(rows, "costs"), None, records_table([], "rejects"),
                      len(rows), windows=(window,))


@pytest.fixture
def windowed_format():
    from finops_lib.sources import SOURCES, register_source

    register_source(_WINDOWED, table="costs", description="test", detect=lambda p, h: '"days"' in h)(
        _windowed_reader)
    yield _WINDOWED
    SOURCES.pop(_WINDOWED)


def _write(path, account, month, days):
    import json

    path.write_text(json.dumps({"account": account, "month": month, "days": days}))
    return path


def _billed(con):
    frame = con.table("costs").to_pandas()
    return {(r.BillingAccountId, str(r.ChargePeriodStart)[:10]): str(r.BilledCost) for r in frame.itertuples()}


def test_restated_window_replaces_rows_from_other_files(windowed_format, tmp_path):
    con = engine.memory()
    first = _write(tmp_path / "may-pull1.json", "A1", "2026-05", {"01": "1.25", "02": "2.50", "03": "4.00"})
    other_account = _write(tmp_path / "may-a2.json", "A2", "2026-05", {"01": "9.00"})
    june = _write(tmp_path / "june.json", "A1", "2026-06", {"01": "7.00"})
    ingest([first, other_account, june], con=con)
    # The re-pulled May of account A1 drops day 03 (a charge withdrawn) and corrects day 02. Because its row
    # hashes differ from the first pull's (the path is part of this test format's key), only the window can
    # remove the stale rows.
    second = _write(tmp_path / "may-pull2.json", "A1", "2026-05", {"01": "1.25", "02": "2.75"})
    result = ingest([second], con=con)
    assert result.rows_replaced.tolist() == [3]
    assert _billed(con) == {
        ("A1", "2026-05-01"): "1.250000000000", ("A1", "2026-05-02"): "2.750000000000",
        ("A2", "2026-05-01"): "9.000000000000", ("A1", "2026-06-01"): "7.000000000000",
    }


def test_restated_path_counts_its_replaced_rows(windowed_format, tmp_path):
    con = engine.memory()
    path = _write(tmp_path / "may.json", "A1", "2026-05", {"01": "1", "02": "2"})
    assert ingest([path], con=con).rows_replaced.tolist() == [0]
    _write(path, "A1", "2026-05", {"01": "1", "02": "2", "03": "3"})
    result = ingest([path], con=con)
    assert result.status.tolist() == ["replaced"] and result.rows_replaced.tolist() == [2]
    assert sorted(_billed(con).values()) == ["1.000000000000", "2.000000000000", "3.000000000000"]


def test_cli_says_how_many_rows_were_replaced(windowed_format, tmp_path, capsys):
    wh = tmp_path / "wh.duckdb"
    path = _write(tmp_path / "may.json", "A1", "2026-05", {"01": "1", "02": "2"})
    assert main(["ingest", str(path), "--warehouse", str(wh)]) == 0
    _write(path, "A1", "2026-05", {"01": "5"})
    assert main(["ingest", str(path), "--warehouse", str(wh)]) == 0
    assert "2 rows already in the warehouse replaced" in capsys.readouterr().out


def test_old_warehouse_gains_newly_declared_columns(tmp_path, folder):
    from finops_lib.warehouse.ingestion import ensure_tables

    wh = tmp_path / "old.duckdb"
    con = engine.connect(warehouse=wh)
    ingest([folder / "openai_costs_page.json"], con=con)
    con.con.execute('ALTER TABLE costs DROP COLUMN "x_SourceExtra"')  # as written by an older version
    n = con.table("costs").count().to_pyarrow().as_py()
    ensure_tables(con)
    assert "x_SourceExtra" in con.table("costs").columns
    assert con.table("costs").count().to_pyarrow().as_py() == n
    result = ingest([folder / "openai_usage_page.json"], con=con)
    assert result.status.tolist() == ["loaded"]


def test_partial_openai_bucket_is_replaced_when_completed(tmp_path):
    """A pull ending mid-day, then a later pull of the whole day: the day is counted once, from the later pull."""
    import json

    def page(end, input_tokens, output_tokens):
        result = {"object": "organization.usage.completions.result", "input_tokens": input_tokens,
                  "input_cached_tokens": 0, "input_cache_write_tokens": 0, "output_tokens": output_tokens,
                  "num_model_requests": 4, "project_id": "proj_a", "user_id": None, "api_key_id": "key_a",
                  "model": "gpt-4o-2024-08-06", "batch": False, "service_tier": "default"}
        day = 1777680000  # 2026-05-02 00:00 UTC
        return {"object": "page", "data": [
            {"object": "bucket", "start_time": day - 86400, "end_time": day, "results": [dict(result)]},
            {"object": "bucket", "start_time": day, "end_time": end, "results": [result]}]}

    first, second = tmp_path / "pull-noon.json", tmp_path / "pull-next-day.json"
    first.write_text(json.dumps(page(1777680000 + 43200, 600, 60)))  # the second day cut at noon: partial
    second.write_text(json.dumps(page(1777680000 + 86400, 1000, 100)))  # the same day, complete
    con = engine.memory()
    ingest([first], con=con)
    costs = con.table("costs")
    assert "partial_bucket" in costs.filter(costs.ChargePeriodStart.day() == 2).x_DataQualityFlags.to_pyarrow() \
        .to_pylist()[0]
    result = ingest([second], con=con)
    assert result.rows_replaced.tolist() == [4]  # both days' input and output rows of the first pull
    frame = con.table("costs").to_pandas()
    assert set(frame.x_SourceFile) == {str(second)}
    tokens = frame.groupby(frame.ChargePeriodStart.dt.day).ConsumedQuantity.sum().astype(int).to_dict()
    assert tokens == {1: 1100, 2: 1100}
    assert not frame.x_DataQualityFlags.str.contains("partial_bucket").any()


def test_rows_of_an_engine_view_are_staged_without_compiling_and_equal_the_compiled_rows(tmp_path, monkeypatch):
    # The ingest selects a reader's view directly (no ibis compilation) when its columns already have the declared
    # types, the date window's mark written as SQL: the rows must equal what the compiled expression gives, edge
    # dates of the window and already rejected rows included.
    from datetime import UTC, datetime

    import ibis

    from finops_lib.schema import TABLES, conform
    from finops_lib.sources import REJECT_MARK, _reject_outside_window
    from finops_lib.warehouse.staging import declared_view_sql

    monkeypatch.setenv("FINOPS_DATE_WINDOW", "2020-01-01:2030-12-31")
    con = engine.connect(warehouse=tmp_path / "wh")
    spec = TABLES["costs"]
    con.create_table("edge", schema=spec.ibis_schema(), temp=True)
    moments = [None, datetime(2019, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC),
               datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC),
               datetime(1999, 5, 1, 12, 30, tzinfo=UTC)]
    flags = [None, "", "estimated", f"{REJECT_MARK}BilledCost\x1fnot a number\x1fabc"]
    for i, (moment, flag) in enumerate((m, f) for m in moments for f in flags):
        con.con.execute('INSERT INTO edge ("ChargePeriodStart", "x_DataQualityFlags", "x_SourceRow", "BilledCost") '
                        "VALUES (?, ?, ?, 1.5)", [moment, flag, i + 2])
    rows = conform(_reject_outside_window(conform(con.table("edge"), "costs")), "costs")
    fast = declared_view_sql(rows, "costs")
    assert fast is not None and "edge" in fast  # selected from the table itself
    order = ' ORDER BY "x_SourceRow"'
    got = con.con.execute(f"{fast}{order}").fetchall()
    want = con.con.execute(f"SELECT * FROM ({con.compile(rows)}){order}").fetchall()
    assert got == want
    marked = [r[spec.names.index("x_DataQualityFlags")] for r in got]
    outside = [m is not None and not datetime(2020, 1, 1, tzinfo=UTC) <= m < datetime(2031, 1, 1, tzinfo=UTC)
               for m in moments for _ in flags]
    given = [f for _ in moments for f in flags]
    assert sum(str(f).startswith(f"{REJECT_MARK}ChargePeriodStart") for f in marked) == sum(
        o and not str(f).startswith(REJECT_MARK) for o, f in zip(outside, given, strict=True))
    # A real cast (text to a number) is not written here: the compiled path keeps ibis's semantics.
    text = con.table("edge").mutate(BilledCost=ibis.literal("2.5"))
    assert declared_view_sql(conform(text, "costs"), "costs") is None


@pytest.mark.parametrize("files_per_transaction", [1, 64])
def test_files_read_together_settle_as_if_loaded_one_after_the_other(windowed_format, tmp_path, monkeypatch,
                                                                     files_per_transaction):
    # a.json is the newer delivery of account A1's May, b.json an older one, ingested in one run (a first, by name).
    # Loaded together (one INSERT for both), a.json is settled while b.json's rows are in the table but not yet
    # settled: they are left alone, and b.json's turn finds them restated by the newer a.json. So a.json replaces
    # nothing and every record of b.json is superseded, exactly as when each file has its own transaction.
    import os

    from finops_lib.warehouse import grouping

    monkeypatch.setattr(grouping, "GROUP_FILES", files_per_transaction)
    newer = _write(tmp_path / "a.json", "A1", "2026-05", {"01": "1.25", "02": "2.75"})
    older = _write(tmp_path / "b.json", "A1", "2026-05", {"01": "1.25", "02": "2.50", "03": "4.00"})
    os.utime(older, (1_780_000_000, 1_780_000_000))
    os.utime(newer, (1_780_086_400, 1_780_086_400))  # a day later
    con = engine.memory()
    earlier = tmp_path / "earlier"  # rows of another account already held: every load looks for rows to restate
    earlier.mkdir()
    ingest([_write(earlier / "a2.json", "A2", "2026-05", {"01": "9.00"})], con=con)
    counting = con.con = CommitCounter(con.con)  # a group failing its count check is redone file by file
    result = ingest([newer, older], con=con)
    assert counting.commits == (1 if files_per_transaction > 1 else 2)
    counts = result[["rows_read", "rows_loaded", "rows_rejected", "rows_replaced", "rows_superseded"]]
    assert counts.values.tolist() == [[2, 2, 0, 0, 0], [3, 0, 0, 0, 3]]
    assert _billed(con) == {("A1", "2026-05-01"): "1.250000000000", ("A1", "2026-05-02"): "2.750000000000",
                            ("A2", "2026-05-01"): "9.000000000000"}
    held = con.con.execute("SELECT x_RowsRead, x_RowsLoaded, x_RowsSuperseded FROM ingested_files WHERE "
                           "x_SourceFile <> ? ORDER BY x_SourceFile", [str(earlier / "a2.json")]).fetchall()
    assert held == [(2, 2, 0), (3, 0, 3)]


def _unwindowed_reader(path, con):
    """The windowed test format without its window, keyed by account and day only: files restate by key alone."""
    from dataclasses import replace

    result = _windowed_reader(path, con)
    frame = result.costs.to_pyarrow()
    keys = [f"{a}|{str(d)[:10]}" for a, d in zip(frame["BillingAccountId"].to_pylist(),
                                                  frame["ChargePeriodStart"].to_pylist(), strict=True)]
    frame = frame.set_column(frame.schema.get_field_index("x_RowHash"), "x_RowHash", pa.array(keys))
    frame = frame.set_column(frame.schema.get_field_index("x_SourceFormat"), "x_SourceFormat",
                             pa.array(["test_unwindowed"] * len(frame)))
    return replace(result, format="test_unwindowed", costs=ibis.memtable(frame), windows=())


def test_the_same_charges_in_two_files_read_together_count_once(tmp_path):
    # Rows without a line id get content keys, numbered by occurrence within their file. Two deliveries of the same
    # charges read together (one INSERT) must key as they would alone, so the later one restates the earlier by key
    # instead of adding to it.
    import os

    from finops_lib.sources import SOURCES, register_source

    register_source("test_unwindowed", table="costs", description="test", detect=lambda p, h: '"days"' in h)(
        _unwindowed_reader)
    try:
        first = _write(tmp_path / "a.json", "A1", "2026-05", {"01": "1.25", "02": "2.50"})
        second = tmp_path / "b.json"
        second.write_text(first.read_text() + "\n")  # other bytes, the same charges
        os.utime(first, (1_780_000_000, 1_780_000_000))
        os.utime(second, (1_780_086_400, 1_780_086_400))
        con = engine.memory()
        result = ingest([tmp_path], con=con)
    finally:
        SOURCES.pop("test_unwindowed")
    # a.json loads, then b.json replaces its rows (the summary says what each load did when it ran) ...
    assert result[["rows_read", "rows_loaded", "rows_replaced"]].values.tolist() == [[2, 2, 0], [2, 2, 2]]
    assert _billed(con) == {("A1", "2026-05-01"): "1.250000000000", ("A1", "2026-05-02"): "2.500000000000"}
    assert con.con.execute("SELECT DISTINCT x_SourceFile FROM costs").fetchall() == [(str(second),)]
    # ... and the ledger says what each file holds now
    held = con.con.execute("SELECT x_RowsLoaded, x_RowsSuperseded FROM ingested_files ORDER BY 1").fetchall()
    assert held == [(0, 2), (2, 0)]
