"""Cost bases side by side, natural keys that never merge money, and deliveries that win whatever the ingest order.

Expected figures are read from the fixtures with the stdlib ``csv`` module and Decimal, never from the workbench.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections import defaultdict
from decimal import Decimal as D
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops_lib import engine
from finops_lib.facts import in_ai_scope, open_facts
from finops_lib.warehouse import export_focus, ingest

QUIRKS = Path(__file__).parent / "data" / "quirks"
ACTUAL, AMORTIZED = QUIRKS / "azure_ea_actual_cost.csv", QUIRKS / "azure_ea_amortized_cost.csv"
SAME_METER = QUIRKS / "azure_usage_same_meter_id.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def _by_day(path: Path) -> dict[str, D]:
    out: dict[str, D] = defaultdict(D)
    for row in _rows(path):
        month, day, year = row["Date"].split("/")
        out[f"{year}-{month}-{day}"] += D(row["CostInBillingCurrency"])
    return dict(out)


def _copy(files: list[Path], folder: Path, *, mtimes: dict[str, int] | None = None) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, path in enumerate(files):
        target = folder / path.name
        shutil.copyfile(path, target)
        stamp = (mtimes or {}).get(path.name, 1_780_000_000 + i)
        os.utime(target, (stamp, stamp))
        out.append(target)
    return out


def _facts(files: list[Path]):
    con = engine.memory()
    summary = ingest(files, con=con)
    return con, summary, open_facts(con, currency="USD")


@pytest.mark.parametrize("order", [(ACTUAL, AMORTIZED), (AMORTIZED, ACTUAL)], ids=["actual-first", "amortized-first"])
def test_actual_and_amortized_are_two_datasets_not_a_restatement(order, tmp_path) -> None:
    con, summary, facts = _facts(_copy(list(order), tmp_path))
    assert summary.rows_replaced.tolist() == [0, 0] and summary.rows_superseded.tolist() == [0, 0]
    assert summary.rows_loaded.tolist() == [len(_rows(p)) for p in order]  # every row of both files is kept
    billed, effective = _by_day(ACTUAL), _by_day(AMORTIZED)
    assert facts.total("cost") == sum(billed.values())  # 5.10: the $3.25 reservation purchase is billed
    assert facts.total("effective_cost") == sum(effective.values())
    daily = facts.aggregate(["cost", "effective_cost"], by=["day"])
    daily = daily.set_index(daily["day"].astype(str))
    for day, amount in billed.items():
        assert daily.loc[day, "cost"] == amount, day
    for day, amount in effective.items():
        assert daily.loc[day, "effective_cost"] == amount, day
    assert billed["2026-04-01"] == D("3.85") and effective["2026-04-01"] == D("0.70")  # the two views differ
    assert facts.total("tokens") == 2_500_000  # the token meters of one view, counted once
    assert con.sql("SELECT count(DISTINCT x_CostDataset) AS n FROM costs").to_pandas().n[0] == 2


def test_either_order_gives_identical_tables(tmp_path) -> None:
    files = _copy([ACTUAL, AMORTIZED], tmp_path)
    tables = []
    for order in (files, files[::-1]):
        con = engine.memory()
        for path in order:
            ingest([path], con=con)
        tables.append(_snapshot(con))
    assert tables[0].keys() == tables[1].keys()
    for name in tables[0]:
        pd.testing.assert_frame_equal(tables[0][name], tables[1][name], check_dtype=False)


def test_the_focus_export_counts_each_view_once(tmp_path) -> None:
    con, _, _ = _facts(_copy([ACTUAL, AMORTIZED], tmp_path))
    out = export_focus(con, tmp_path / "focus.csv")
    focus = pd.read_csv(out["path"], dtype=str)
    assert sum(D(v) for v in focus.BilledCost) == sum(_by_day(ACTUAL).values())
    assert sum(D(v) for v in focus.EffectiveCost) == sum(_by_day(AMORTIZED).values())


def test_a_newer_delivery_of_the_same_dataset_restates_whatever_the_order(tmp_path) -> None:
    rows = ACTUAL.read_text().splitlines()
    assert ",0.15,0.15,0.3," in rows[4]
    v2 = "\n".join([*rows[:4], rows[4].replace(",0.15,0.15,0.3,", ",0.15,0.15,0.31,"), *rows[5:]]) + "\n"
    old_dir, new_dir = tmp_path / "v1", tmp_path / "v2"
    old = _copy([ACTUAL], old_dir, mtimes={ACTUAL.name: 1_780_000_000})[0]
    new_dir.mkdir()
    new = new_dir / ACTUAL.name
    new.write_text(v2)
    os.utime(new, (1_780_086_400, 1_780_086_400))  # delivered a day later
    expected = sum(_by_day(ACTUAL).values()) + D("0.01")
    for order in ([old, new], [new, old]):
        con = engine.memory()
        results = [ingest([p], con=con) for p in order]
        assert open_facts(con, currency="USD").total("cost") == expected
        files = con.sql("SELECT count(DISTINCT x_SourceFile) AS n FROM costs").to_pandas().n[0]
        assert files == 1
        if order[0] == old:
            assert results[1].rows_replaced[0] == len(rows) - 1
        else:
            second = results[1].iloc[0]
            assert (second.rows_loaded, second.rows_superseded, second.rows_read) == (0, len(rows) - 1, len(rows) - 1)


def test_an_undetermined_export_takes_its_manifest_word(tmp_path) -> None:
    folder = tmp_path / "export" / "20260401-20260430" / "run-1"
    folder.mkdir(parents=True)
    header, *rows = ACTUAL.read_text().splitlines()
    payg = [header, *(r for r in rows if "Reservation" not in r)]
    (folder / "part_0_0001.csv").write_text("\n".join(payg) + "\n")
    (folder / "manifest.json").write_text(json.dumps({
        "exportConfig": {"type": "AmortizedCost"}, "runInfo": {"submittedTime": "2026-05-01T03:00:00Z"}}))
    con = engine.memory()
    ingest([tmp_path / "export"], con=con)
    got = con.sql("SELECT DISTINCT x_CostDataset FROM costs").to_pandas().x_CostDataset.tolist()
    delivered = con.sql("SELECT x_DeliveredAt FROM ingested_files").to_pandas().x_DeliveredAt[0]
    assert got == ["amortized"] and delivered == pd.Timestamp("2026-05-01T03:00:00Z")


def test_rows_that_differ_in_money_are_never_merged(tmp_path) -> None:
    _con, summary, facts = _facts(_copy([SAME_METER], tmp_path))
    rows = _rows(SAME_METER)
    assert (summary.rows_loaded[0], summary.rows_rejected[0]) == (len(rows), 0)
    assert rows[0]["MeterId"] == rows[1]["MeterId"] and rows[0]["CostInBillingCurrency"] != rows[1][
        "CostInBillingCurrency"]
    assert rows[2] == rows[3]  # two identical usage lines are two charges
    assert facts.total("cost") == sum(D(r["CostInBillingCurrency"]) for r in rows)


def test_the_same_rows_under_another_name_are_not_counted_twice(tmp_path) -> None:
    first = _copy([SAME_METER], tmp_path / "a")[0]
    (tmp_path / "b").mkdir()
    second = tmp_path / "b" / "renamed.csv"
    second.write_text(SAME_METER.read_text() + "\n")  # other bytes, same rows
    _con, summary, facts = _facts([first, second])
    assert summary.status.tolist() == ["loaded", "loaded"]
    assert summary.rows_replaced.tolist() == [0, 4]  # each line restates its twin, the identical pair included
    assert facts.total("cost") == sum(D(r["CostInBillingCurrency"]) for r in _rows(SAME_METER))


def test_a_repeated_request_id_with_other_money_is_kept_and_flagged(tmp_path) -> None:
    header = ("request_id,call_type,api_key,spend,total_tokens,prompt_tokens,completion_tokens,startTime,endTime,"
              "model,custom_llm_provider,metadata,status")
    lines = [header,
             "q1,acompletion,k,0.002,150,100,50,2026-05-01T10:00:00Z,,gpt-4o-mini,openai,{},success",
             "q1,acompletion,k,0.002,150,100,50,2026-05-01T10:00:00Z,,gpt-4o-mini,openai,{},success",
             "q1,acompletion,k,0.004,300,200,100,2026-05-01T10:00:00Z,,gpt-4o-mini,openai,{},success"]
    path = tmp_path / "spend_logs.csv"
    path.write_text("\n".join(lines) + "\n")
    con = engine.memory()
    summary = ingest([path], con=con).iloc[0]
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (3, 2, 1)
    reason = con.sql("SELECT x_SourceRow, x_Reason FROM rejects").to_pandas()
    assert reason.values.tolist() == [[3, "duplicate: same request_id and amounts as line 2 (kept)"]]
    kept = con.sql("SELECT x_ReportedCost, x_DataQualityFlags FROM requests ORDER BY x_SourceRow").to_pandas()
    assert kept.x_ReportedCost.tolist() == [D("0.002"), D("0.004")]
    assert all("line_id_repeated" in f.split(",") for f in kept.x_DataQualityFlags)


def test_ml_compute_is_not_ai_spend(tmp_path) -> None:
    con, _, _ = _facts(_copy([ACTUAL], tmp_path))
    t = con.table("costs")
    scoped = t.mutate(ai=in_ai_scope(t)).select("SkuMeter", "ServiceCategory", "ServiceSubcategory", "ai")
    frame = scoped.to_pandas().set_index("SkuMeter")
    assert not frame.loc["NC6 Low Priority", "ai"] and not frame.loc["P10 LRS Disk", "ai"]
    assert frame.loc["NC6 Low Priority", "ServiceSubcategory"] == "Machine Learning"
    assert frame.loc["gpt-4o-mini-0718-Inp-glbl", "ai"]


def _snapshot(con) -> dict[str, pd.DataFrame]:
    out = {}
    for name in ("costs", "requests", "rejects", "ingested_windows"):
        frame = con.table(name).to_pandas()
        out[name] = frame.sort_values(list(frame.columns)).reset_index(drop=True).astype(str)
    files = con.table("ingested_files").to_pandas().drop(columns=["x_IngestedAt"])
    out["ingested_files"] = files.sort_values("x_SourceFile").reset_index(drop=True).astype(str)
    return out


#: Our folder of the real-export quirks: cost bases side by side, rows differing only in money, a credit, short CUR
#: rows, Python-literal GCP lists, FOCUS short rows and literal tags, CUR 2.0 Bedrock maps, an OCI cost report.
QUIRK_FILES = [*sorted(p for p in QUIRKS.iterdir() if p.is_file()),
               *sorted(p for p in (QUIRKS.parent / "tolerance").iterdir() if p.is_file()),
               QUIRKS.parent / "oci_cost_report.csv", QUIRKS.parent / "litellm_spend_logs_api.json"]  # fmt: skip


def _records_in(path: Path) -> int:
    """Records of a CSV file (lines after the header, by the csv module) or of a JSON array."""
    if path.suffix == ".json":
        return len(json.loads(path.read_text(encoding="utf-8")))
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return sum(1 for row in csv.reader(fh) if row) - 1


def test_every_row_of_the_quirks_folder_is_accounted_for(tmp_path) -> None:
    files = _copy(QUIRK_FILES, tmp_path)
    con = engine.memory()
    summary = ingest(files, con=con)
    assert set(summary.status) == {"loaded"}, summary[["path", "status", "message"]]
    for row in summary.itertuples():
        assert row.rows_read == _records_in(Path(row.path)), row.path
        assert row.rows_read == row.rows_loaded + row.rows_rejected + row.rows_superseded, row.path
    rejects = con.sql("SELECT x_SourceFile, x_SourceRow, x_Column, x_Reason FROM rejects").to_pandas()
    assert len(rejects) == summary.rows_rejected.sum() and rejects.x_Reason.str.len().min() > 5
    flags = ",".join(con.sql("SELECT x_DataQualityFlags FROM costs").to_pandas().x_DataQualityFlags.fillna(""))
    assert {"row_padded", "python_literal"} <= set(flags.split(","))


@pytest.fixture(scope="module")
def quirk_folder(tmp_path_factory) -> list[Path]:
    """The quirks folder plus a newer delivery of the actual export, with fixed modification times."""
    folder = tmp_path_factory.mktemp("quirks")
    files = _copy(QUIRK_FILES, folder)
    restated = folder / "restated" / ACTUAL.name
    restated.parent.mkdir()
    rows = ACTUAL.read_text().splitlines()
    assert ",0.6,0.6,0.3," in rows[5]
    restated.write_text("\n".join([*rows[:5], rows[5].replace(",0.6,0.6,0.3,", ",0.6,0.6,0.33,"), *rows[6:]]) + "\n")
    os.utime(restated, (1_790_000_000, 1_790_000_000))
    copy = folder / "copy" / SAME_METER.name  # the same bytes delivered twice
    copy.parent.mkdir()
    shutil.copyfile(SAME_METER, copy)
    os.utime(copy, (1_790_000_000, 1_790_000_000))
    return [*files, restated, copy]


@pytest.fixture(scope="module")
def reference(quirk_folder) -> dict[str, pd.DataFrame]:
    con = engine.memory()
    ingest(quirk_folder, con=con)
    return _snapshot(con)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_ingest_order_changes_no_table(data, quirk_folder, reference) -> None:
    files = data.draw(st.permutations(quirk_folder))
    con = engine.memory()
    for path in files:
        ingest([path], con=con)
    got = _snapshot(con)
    for name, frame in reference.items():
        pd.testing.assert_frame_equal(got[name], frame, check_dtype=False, obj=name)
