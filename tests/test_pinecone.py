"""Pinecone's cost-usage export: a zip of FOCUS 1.4 CSV parts and a manifest, read into ``costs`` as one delivery.

The fixture (``tests/pinecone_fixture.py``) is written by hand; every expected figure below is worked from its rows
by hand (list price times quantity, read by eye from ``tests/data/pinecone_cost_usage_export/``), never from the
workbench. Part 1 holds 11 records, part 2 holds 10: 21 in all, $50.000 for November 2026.
"""

from __future__ import annotations

import csv
import io
import json
import os
from decimal import Decimal
from pathlib import Path

import ibis
import pandas as pd
import pytest
from pinecone_fixture import FIXTURE, MEMBERS, build, build_zip, manifest, members

from finops_lib import engine
from finops_lib.facts.layer import open_facts
from finops_lib.feature_cost import feature_stack, guess_layer
from finops_lib.sources import SOURCES, detect_format, focus
from finops_lib.sources import _focus_zip as focus_zip
from finops_lib.sources._compressed import SIZE_VAR
from finops_lib.warehouse import ingest

PART1, PART2 = "part-1-of-2.csv", "part-2-of-2.csv"
ORG = "3c1f8a2e-6b4d-4f0a-9e57-1d2c8b7a6f90"
D = Decimal


@pytest.fixture(scope="module")
def loaded():
    """The fixture ingested into an in-memory warehouse: (summary row, costs rows ordered by x_SourceRow)."""
    con = engine.memory()
    summary = ingest([FIXTURE], con=con).iloc[0]
    rows = con.sql("SELECT * FROM costs ORDER BY x_SourceRow").to_pandas()
    yield summary, rows, con
    con.disconnect()


def _write(folder: Path, name: str, files: dict[str, bytes | str], *, mtime: int | None = None) -> Path:
    path = folder / name
    path.write_bytes(build_zip(files))
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _records(content: bytes | str) -> list[dict[str, str]]:
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _sum(frame: pd.DataFrame, by: str) -> dict[object, Decimal]:
    totals: dict[object, Decimal] = {}
    for key, cost in zip([None if pd.isna(k) else k for k in frame[by]], frame["BilledCost"], strict=True):
        totals[key] = totals.get(key, D(0)) + cost
    return totals


# --- the fixture, detection, version ------------------------------------------------------------------------------


def test_the_committed_zip_is_built_from_its_members():
    assert FIXTURE.read_bytes() == build(), "run: .venv/bin/python tests/pinecone_fixture.py"


def test_detected_as_focus_without_extracting_and_version_1_4(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("detection must not extract a member")

    monkeypatch.setattr(focus_zip, "extract_member", never)
    assert detect_format(FIXTURE).name == "focus"
    header = next(csv.reader(io.StringIO(members()[PART1].decode())))
    assert "ProviderName" not in header and "PublisherName" not in header  # dropped by FOCUS 1.4
    assert focus.focus_version(header) == "1.4"
    assert "1.0-1.4" in SOURCES["focus"].description


def test_a_zip_of_other_files_is_not_focus(tmp_path):
    odd = _write(tmp_path, "notes.zip", {"readme.txt": "hello", "data.json": "{}"})
    other = _write(tmp_path, "other.zip", {"part-1-of-1.csv": "when,amount\n2026-11-01,3\n"})
    assert detect_format(odd) is None and detect_format(other) is None


# --- every row of every part, numbered and located ---------------------------------------------------------------


def test_both_parts_load_every_row(loaded):
    summary, rows, _ = loaded
    in_parts = len(_records(members()[PART1])) + len(_records(members()[PART2]))
    assert in_parts == 21 == summary.rows_read == summary.rows_loaded
    assert (summary.status, summary.rows_rejected, summary.message) == ("loaded", 0, "")
    assert rows.x_SourceRow.tolist() == list(range(1, 22))
    assert set(rows.x_SourceFile) == {str(FIXTURE)}
    assert rows.x_SourceLocator.tolist() == [f"{PART1} line {n}" for n in range(2, 13)] + \
        [f"{PART2} line {n}" for n in range(2, 12)]  # fmt: skip


def test_hand_worked_totals_per_sku_project_and_index(loaded):
    _, rows, _ = loaded
    assert rows.BilledCost.sum() == D("50.000")
    assert _sum(rows, "SkuId") == {
        "serverless-read-units-aws-us-east-1": D("35.20"),  # 20 + 8 + 4 + 2 + 0.80 + 0.40
        "serverless-write-units-aws-us-east-1": D("3.50"),  # 2 + 1 + 0.40 + 0.10
        "serverless-storage-aws-us-east-1": D("2.244"),  # 0.825 x 2 + 0.198 x 2 + 0.099 x 2
        "inference-embed-multilingual-e5-large": D("3.00"),  # 25M + 12.5M tokens at $0.08 per million
        "inference-embed-llama-text-embed-v2": D("0.80"),  # 5M tokens at $0.16 per million
        "inference-rerank-pinecone-rerank-v0": D("3.00"),  # 1,500 requests at $2 per thousand
        "minimum-usage-standard": D("2.256"),  # $50 minimum - $47.744 of usage
    }
    assert _sum(rows, "SubAccountName") == {"rag-prod": D("45.446"), "search-staging": D("2.298"), None: D("2.256")}
    assert _sum(rows, "ResourceName") == {"docs-index": D("32.65"), "support-kb": D("6.796"),
                                          "eval-index": D("1.498"), None: D("9.056")}  # fmt: skip
    assert set(rows.BillingAccountId) == {ORG} and set(rows.BillingCurrency) == {"USD"}


def test_pinecone_rows_are_classified(loaded):
    _, rows, _ = loaded
    rows = rows.set_index("x_SourceRow")
    database = rows[rows.ServiceName == "Pinecone Database"]
    assert len(database) == 16 and set(database.x_TokenType) == {"non_token"} and database.x_Model.isna().all()
    assert set(database.ConsumedUnit) == {"Read Units", "Write Units", "GB-Months"}
    embedding = rows.loc[[2, 10, 14]]
    assert embedding.x_TokenType.tolist() == ["input_uncached"] * 3
    assert embedding.x_Model.tolist() == ["multilingual-e5-large", "llama-text-embed", "multilingual-e5-large"]
    assert embedding.ConsumedQuantity.tolist() == [D(25_000_000), D(5_000_000), D(12_500_000)]
    assert embedding.x_ModelRaw[10] == "Embedding tokens: llama-text-embed-v2"  # the version kept in the raw text
    assert json.loads(embedding.SkuPriceDetails[2]) == {"TokenDirection": "Input", "CacheAction": "None"}
    assert (rows.x_TokenType[3], rows.ConsumedUnit[3], rows.ConsumedQuantity[3]) == ("non_token", "Requests", 1500)
    assert (rows.ChargeCategory[1], rows.ChargeDescription[1]) == ("Adjustment", "Minimum usage commitment")
    assert set(rows.ProviderName) == {"Pinecone"} == set(rows.InvoiceIssuerName) == set(rows.PublisherName)
    assert (rows.x_Team[4], rows.x_Environment[4], rows.x_Application[7]) == ("support", "prod", "kb-bot")
    extra = json.loads(rows.x_SourceExtra[4])  # columns the schema has no place for
    assert (extra["HostProviderName"], extra["x_Plan"], extra["x_IndexType"]) == (
        "Amazon Web Services",
        "Standard",
        "serverless",
    )
    assert json.loads(extra["TagDetails"])["Default"]["Tags"]["team"]["TagSourceId"] == rows.ResourceId[4]
    assert set(rows.x_DataQualityFlags) == {""} and set(rows.x_CostBasis) == {"invoiced"}


def test_every_pinecone_row_lands_in_the_retrieval_layer(loaded):
    _, _, con = loaded
    stack = feature_stack(open_facts(con, currency="USD"))  # no feature map: every layer guessed
    assert set(stack.frame.layer) == {"retrieval"} and stack.frame.cost.sum() == D("50.000")
    spelled = ibis.memtable(pd.DataFrame({
        "ProviderName": ["Pinecone", "Pinecone Systems, Inc.", "pinecone", "Pineconer"],
        "x_Model": pd.Series([None] * 4, dtype="string"), "PricingUnit": ["Read Units"] * 4,
        "ConsumedUnit": ["Read Units"] * 4, "x_TokenType": ["non_token"] * 4,
        "ServiceCategory": ["Databases"] * 4}))  # fmt: skip
    assert con.execute(guess_layer(spelled)).tolist() == ["retrieval"] * 3 + ["storage"]


# --- rejects, idempotency, restatement ----------------------------------------------------------------------------


def test_rejects_name_the_zip_the_member_and_the_line(tmp_path):
    part1 = members()[PART1].decode().split("\n")
    part1[3] += ",one field too many"  # line 4 of part 1: record 3
    part2 = _records(members()[PART2])
    part2[1]["BilledCost"] = "3.00 USD"  # line 3 of part 2: record 13
    path = _write(tmp_path, "export.zip", {**members(), PART1: "\n".join(part1), PART2: _csv(part2)})
    con = engine.memory()
    try:
        summary = ingest([path], con=con).iloc[0]
        rejects = con.sql("SELECT * FROM rejects ORDER BY x_SourceRow").to_pandas()
        loaded = [r[0] for r in con.con.execute("SELECT x_SourceRow FROM costs ORDER BY 1").fetchall()]
    finally:
        con.disconnect()
    assert (summary.status, summary.rows_read, summary.rows_loaded, summary.rows_rejected) == ("loaded", 21, 19, 2)
    assert set(rejects.x_SourceFile) == {str(path)}
    assert rejects.x_SourceRow.tolist() == [3, 13]
    assert rejects.x_SourceLocator.tolist() == [f"{PART1} line 4", f"{PART2} line 3"]
    assert rejects.x_Column[0] == "record" and "too many columns" in rejects.x_Reason[0]
    assert (rejects.x_Column[1], rejects.x_Value[1], rejects.x_Reason[1]) == (
        "BilledCost",
        "3.00 USD",
        "not a decimal number",
    )
    assert loaded == [n for n in range(1, 22) if n not in (3, 13)]  # the rows after a bad line keep their numbers


def test_ingesting_the_zip_again_changes_nothing(tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    first = ingest([FIXTURE], warehouse=warehouse).iloc[0]
    again = ingest([FIXTURE], warehouse=warehouse).iloc[0]
    con = engine.connect(warehouse=warehouse, read_only=True)
    try:
        count, total = con.con.execute("SELECT count(*), sum(BilledCost) FROM costs").fetchone()
    finally:
        con.disconnect()
    assert (first.status, first.rows_loaded) == ("loaded", 21)
    assert (again.status, again.rows_loaded) == ("unchanged", 0)
    assert (count, total) == (21, D("50.000"))


def _restated_export() -> dict[str, str]:
    """November exported again a day later, in one part: docs-index's reads of Nov 2 restated at $9.60."""
    rows = _records(members()[PART1]) + _records(members()[PART2])
    assert rows[14]["ChargeDescription"] == "Read units" and rows[14]["BilledCost"] == "8.00"
    rows[14] = {**rows[14], "BilledCost": "9.60", "EffectiveCost": "9.60", "ListCost": "9.60", "ContractedCost": "9.60",
                "ConsumedQuantity": "600000", "PricingQuantity": "0.6"}  # fmt: skip
    rows[0] = {**rows[0], **dict.fromkeys(("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"), "0.656")}
    return {
        "part-1-of-1.csv": _csv(rows),
        "manifest.json": manifest(
            created_at="2026-12-03T06:00:00.000Z", row_count=21, files=[{"name": "part-1-of-1.csv", "row_count": 21}]
        ),
    }


@pytest.mark.parametrize("order", ["earlier first", "later first"])
def test_a_later_export_of_the_period_restates_the_earlier_whatever_the_order(tmp_path, order):
    # The file times say the opposite of the manifests' export times: the manifests decide.
    earlier = _write(tmp_path, "export-a.zip", members(), mtime=2_000_000_000)
    later = _write(tmp_path, "export-b.zip", _restated_export(), mtime=1_900_000_000)
    con = engine.memory()
    try:
        ingest([earlier] if order == "earlier first" else [later], con=con)
        ingest([later] if order == "earlier first" else [earlier], con=con)
        files = dict(con.con.execute("SELECT x_SourceFile, count(*) FROM costs GROUP BY ALL").fetchall())
        total = con.con.execute("SELECT sum(BilledCost) FROM costs").fetchone()[0]
    finally:
        con.disconnect()
    assert files == {str(later): 21}
    assert total == D("50.000")  # usage + 1.60 of reads, the minimum adjustment 1.60 lower


def _half(rows: list[dict[str, str]], day: str, start: str, end: str) -> dict[str, str]:
    mine = [r for r in rows if r["ChargePeriodStart"].startswith(day)]
    return {
        "part-1-of-1.csv": _csv(mine),
        "manifest.json": manifest(
            period_start=start, period_end=end, row_count=len(mine), files=[{"name": "part-1-of-1.csv"}]
        ),
    }


def test_exports_of_two_halves_of_a_month_keep_each_other(tmp_path):
    rows = _records(members()[PART1]) + _records(members()[PART2])
    first = _write(tmp_path, "first.zip", _half(rows, "2026-11-01", "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"))
    second = _write(tmp_path, "second.zip", _half(rows, "2026-11-02", "2026-11-02T00:00:00Z", "2026-12-01T00:00:00Z"))
    con = engine.memory()
    try:
        summary = ingest([first, second], con=con)
        count, total = con.con.execute("SELECT count(*), sum(BilledCost) FROM costs").fetchone()
        windows = con.con.execute(
            "SELECT x_SourceFile, x_WindowColumn, x_WindowStart, x_WindowEnd FROM ingested_windows ORDER BY 1"
        ).fetchall()
    finally:
        con.disconnect()
    assert summary.rows_loaded.tolist() == [13, 8] and (count, total) == (21, D("50.000"))
    assert [(w[1], w[2].day, w[3].month, w[3].day) for w in windows] == [
        ("ChargePeriodStart", 1, 11, 2),
        ("ChargePeriodStart", 2, 12, 1),
    ]


def test_without_a_stated_period_the_later_export_restates_the_billing_period(tmp_path):
    rows = _records(members()[PART1]) + _records(members()[PART2])
    first = _half(rows, "2026-11-01", "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z")
    second = _half(rows, "2026-11-02", "2026-11-02T00:00:00Z", "2026-12-01T00:00:00Z")
    for files, at in ((first, "2026-11-02T06:00:00Z"), (second, "2026-11-03T06:00:00Z")):
        files["manifest.json"] = json.dumps({"created_at": at})
    con = engine.memory()
    try:
        ingest([_write(tmp_path, "a.zip", first), _write(tmp_path, "b.zip", second)], con=con)
        count = con.con.execute("SELECT count(*) FROM costs").fetchone()[0]
    finally:
        con.disconnect()
    assert count == 8  # the whole of November is the later export's, as with any FOCUS file


# --- never silently partial: missing parts, counts, manifests ------------------------------------------------------


def _failed(path: Path) -> str:
    con = engine.memory()
    try:
        result = ingest([path], con=con).iloc[0]
        held = con.con.execute("SELECT (SELECT count(*) FROM costs) + (SELECT count(*) FROM rejects)").fetchone()[0]
    finally:
        con.disconnect()
    assert (result.status, result.format, held) == ("failed", "focus", 0), result.message
    assert str(path) in result.message
    return result.message


def test_a_part_the_manifest_lists_missing_from_the_zip_fails_it(tmp_path):
    files = {name: content for name, content in members().items() if name != PART2}
    message = _failed(_write(tmp_path, "export.zip", files))
    assert f"{PART2} missing from the archive (its manifest.json lists it)" in message


def test_a_part_the_names_imply_missing_fails_the_zip_without_a_manifest(tmp_path):
    message = _failed(_write(tmp_path, "export.zip", {PART1: members()[PART1]}))
    assert f"{PART2} missing from the archive (its parts are named part-i-of-n)" in message


def test_a_part_the_manifest_lists_that_is_not_csv_fails_the_zip(tmp_path):
    files = {**members(), "part-2-of-2.csv.gz": b"\x1f\x8b"}
    files.pop(PART2)
    files["manifest.json"] = manifest(files=[{"name": PART1}, {"name": "part-2-of-2.csv.gz"}], row_count=None)
    assert "its manifest.json lists part-2-of-2.csv.gz, not a CSV part this reader reads" in _failed(
        _write(tmp_path, "export.zip", files)
    )


def test_a_part_holding_fewer_records_than_the_manifest_says_fails_the_zip(tmp_path):
    short = members()[PART2].decode().rstrip("\n").rsplit("\n", 1)[0] + "\n"
    message = _failed(_write(tmp_path, "export.zip", {**members(), PART2: short}))
    assert f"{PART2} holds 9 records, its manifest.json says 10" in message


@pytest.mark.parametrize(("text", "says"), [
    ("{not json", "its manifest.json is not valid JSON"),
    ("[1, 2]", "its manifest.json is not a JSON object (a list)"),
    ('{"files": "part-1-of-2.csv"}', "its manifest.json gives 'files' as str, not a list of files"),
    ('{"files": [{"rows": 3}]}', "its manifest.json lists a file without a name (files[0]"),
])  # fmt: skip
def test_a_bad_manifest_fails_the_zip_naming_it(tmp_path, text, says):
    assert says in _failed(_write(tmp_path, "export.zip", {**members(), "manifest.json": text}))


def test_a_member_that_is_not_focus_fails_the_zip_naming_the_member(tmp_path):
    header = members()[PART2].decode().replace("BilledCost,", "Cost,", 1)
    assert f"{PART2}, column 'BilledCost': mandatory FOCUS column(s) missing: BilledCost" in _failed(
        _write(tmp_path, "export.zip", {**members(), PART2: header})
    )


def test_the_expansion_limit_holds_for_the_whole_archive(tmp_path, monkeypatch):
    sizes = [len(content) for name, content in members().items() if name.endswith(".csv")]
    monkeypatch.setenv(SIZE_VAR, str(max(sizes) + 100))  # either part fits, both do not
    assert SIZE_VAR in _failed(_write(tmp_path, "export.zip", members()))


def test_read_with_other_files_at_once_as_alone(tmp_path):
    # A folder's new files of a format are read together (Source.read_many): two zips share one typed SELECT.
    second = _write(tmp_path, "export-b.zip", _restated_export())
    paths = [Path(__file__).parent / "data" / "focus.csv", FIXTURE, second]
    con = engine.memory()
    try:
        together = SOURCES["focus"].read_many(paths, con)
        alone = [SOURCES["focus"].read(p, con) for p in paths]
        for many, one in zip(together, alone, strict=True):
            key = ["x_SourceRow", "BilledCost", "x_SourceLocator", "x_TokenType", "x_Model", "x_RowHash"]
            frames = [r.costs.to_pandas().sort_values("x_SourceRow")[key].reset_index(drop=True) for r in (many, one)]
            pd.testing.assert_frame_equal(*frames)
            assert (many.rows_read, many.windows, many.delivered_at) == (one.rows_read, one.windows, one.delivered_at)
    finally:
        con.disconnect()
    assert [r.rows_read for r in alone] == [None, 21, 21]  # a plain CSV's records are counted as it loads
    assert (alone[0].delivered_at, alone[1].delivered_at.isoformat()) == (None, "2026-12-02T06:00:00+00:00")


def test_other_members_are_named_in_a_note(tmp_path):
    path = _write(tmp_path, "export.zip", {**members(), "README.txt": "Pinecone cost usage export"})
    result = ingest([path], con=engine.memory()).iloc[0]
    assert (result.status, result.rows_loaded) == ("loaded", 21)
    assert "not read (only CSV parts and manifest.json are): README.txt" in result.message


def test_members_in_a_folder_of_the_archive_are_read_by_name(tmp_path):
    files = {f"export-9f2c/{name}": content for name, content in members().items()}
    result = ingest([_write(tmp_path, "export.zip", files)], con=engine.memory()).iloc[0]
    assert (result.status, result.rows_loaded, result.message) == ("loaded", 21, "")


def test_the_members_are_the_shape_pinecone_documents():
    doc = json.loads((MEMBERS / "manifest.json").read_text())
    assert [f["name"] for f in doc["files"]] == [PART1, PART2] and doc["row_count"] == 21
    for name in (PART1, PART2):
        rows = _records(members()[name])
        order = [(r["ChargePeriodStart"], r["SubAccountName"], r["ResourceName"], r["ChargeDescription"], r["SkuId"],
                  r["ResourceId"]) for r in rows]  # fmt: skip
        assert order == sorted(order) and len(rows) <= 800_000
        assert all(c.startswith("x_") for c in rows[0] if c not in focus.REQUIRED and not c[0].isupper())
