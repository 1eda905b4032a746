"""The source-format contract, run against every registered format and its one committed fixture.

In the spirit of ibis's backend test suite: one parametrized contract, each registered format a
parameter (formats registered at run time by tests, ``test_*``, are skipped). A new format passes
once it ships ``tests/data/<format>.<ext>`` and a :class:`source_cases.Case`, and honours:

1. detection: its fixture is detected as itself and by no other detector, and its detector takes no
   other format's fixture (detectors are mutually exclusive on committed files);
2. the rows: ``normalize`` writes the declared table, every row with provenance, every record of the
   fixture (counted here with the stdlib) loaded or rejected exactly once, money exact, tokens whole;
3. rejects: one bad value in one record rejects that record alone, naming file, line, column, value
   and reason; a broken JSON document fails as a whole, naming the file;
4. idempotency: ingesting a file again, a byte copy of it, or a re-delivery of the same records never
   adds rows.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from source_cases import (
    CASES,
    DATA,
    SAMPLE,
    VARIANTS,
    case_ids,
    committed_formats,
    fixture_path,
    fixtures_of,
    format_of,
    rezip,
    zip_members,
    zip_parts,
)

from finops_lib import engine
from finops_lib.schema import METRIC_KINDS, QUALITY_FLAGS, REQUEST_TOKEN_COLUMNS, TABLES, TOKEN_TYPES, validate
from finops_lib.sources import REJECT_MARK, SOURCES, detect_format, read_head
from finops_lib.warehouse import normalize
from finops_lib.warehouse.ingestion import ingest
from finops_lib.warehouse.loading import DATA_TABLES

FORMATS = committed_formats()
#: Every case: each format's own fixture, and the variants (``focus+pinecone``: a zip of FOCUS CSV parts).
CASE_IDS = case_ids()
TWELVE_PLACES = Decimal("1e-12")


def test_every_format_has_one_fixture_and_a_case():
    assert FORMATS, "no source format registered"
    fixtures = {fmt: fixtures_of(fmt) for fmt in FORMATS}
    assert {f: p for f, p in fixtures.items() if len(p) != 1} == {}, "each format needs exactly one fixture"
    assert sorted(CASES) == sorted(CASE_IDS), "add a Case to tests/sources/source_cases.py for each new format"
    assert all(format_of(v) in FORMATS and fixture_path(v).is_file() for v in VARIANTS)


# --- 1. detection ---------------------------------------------------------------------------------------------


@cache
def _claimants(path: Path) -> tuple[str, ...]:
    """The committed formats whose detector accepts ``path``."""
    head = read_head(path)
    return tuple(fmt for fmt in FORMATS if SOURCES[fmt].detect(path, head))


@pytest.mark.parametrize("case", CASE_IDS)
def test_fixture_is_detected_as_its_format_and_no_other(case):
    path = fixture_path(case)
    assert detect_format(path).name == format_of(case)
    assert _claimants(path) == (format_of(case),)


@pytest.mark.parametrize("fmt", FORMATS)
def test_detector_takes_no_other_format_fixture(fmt):
    taken = [other for other in CASE_IDS if format_of(other) != fmt and fmt in _claimants(fixture_path(other))]
    assert taken == [], f"the {fmt} detector accepts the fixtures of {taken}"


def test_every_committed_data_file_is_claimed_by_at_most_one_detector():
    files = [p for root in (DATA, SAMPLE) if root.is_dir() for p in sorted(root.rglob("*")) if p.is_file()]
    assert len(files) > len(FORMATS)
    clashes = {str(p): claimed for p in files if len(claimed := _claimants(p)) > 1}
    assert clashes == {}


# --- 2. the rows ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Normalized:
    """One fixture run through :func:`normalize` (``fmt``: the format that reads it; ``case``: its case id)."""

    fmt: str
    path: Path
    table: str
    summary: dict
    rows: pa.Table
    rejects: pa.Table
    out: Path
    case: str

    @property
    def loaded(self) -> set[int]:
        """Record numbers of the loaded rows."""
        return set(self.rows["x_SourceRow"].to_pylist())


@pytest.fixture(scope="module", params=CASE_IDS)
def normalized(request, tmp_path_factory) -> Normalized:
    case = request.param
    fmt, path = format_of(case), fixture_path(case)
    out = tmp_path_factory.mktemp("normalized") / "rows.parquet"
    summary = normalize([path], out, format=fmt)
    return Normalized(fmt, path, SOURCES[fmt].table, summary, pq.read_table(out), pq.read_table(summary["rejects"]),
                      out, case)


def test_rows_are_the_declared_table(normalized):
    n = normalized
    assert n.summary["table"] == n.table and n.summary["rows"] == n.rows.num_rows > 0
    declared = TABLES[n.table].ibis_schema().to_pyarrow()
    assert [(f.name, f.type) for f in n.rows.schema] == [(f.name, f.type) for f in declared]
    con = engine.memory()
    try:
        validate(con.read_parquet(n.out), n.table)
        validate(con.read_parquet(n.summary["rejects"]), "rejects")
    finally:
        con.disconnect()


def test_every_row_has_provenance(normalized):
    n = normalized
    rows = n.rows.to_pydict()
    assert set(rows["x_SourceFormat"]) == {n.fmt}
    assert set(rows["x_SourceFile"]) == {str(n.path)}
    assert all(r is not None and r >= 1 for r in rows["x_SourceRow"])
    hashes = rows["x_RowHash"]
    assert None not in hashes and len(set(hashes)) == len(hashes), "x_RowHash must be a unique natural key"


def test_quality_flags_are_known_sorted_and_no_reject_is_left_inline(normalized):
    for text in normalized.rows["x_DataQualityFlags"].to_pylist():
        assert not text.startswith(REJECT_MARK)
        names = text.split(",") if text else []
        assert names == sorted(set(names)) and set(names) <= set(QUALITY_FLAGS), text


def test_every_record_is_loaded_or_rejected_exactly_once(normalized):
    n = normalized
    records = CASES[n.case].records(n.path)  # counted from the raw file, without the workbench
    rejected = n.rejects["x_SourceRow"].to_pylist()
    assert n.summary["records_read"] == len(records)
    assert n.summary["records_read"] == len(n.loaded) + n.summary["records_rejected"]
    assert len(rejected) == len(set(rejected)) == n.summary["records_rejected"]
    assert n.loaded.isdisjoint(rejected)
    assert n.loaded | set(rejected) == set(records)


def test_rejects_name_file_line_column_and_reason(normalized):
    n = normalized
    records = CASES[n.case].records(n.path)
    for reject in n.rejects.to_pylist():
        assert reject["x_SourceFormat"] == n.fmt and reject["x_SourceFile"] == str(n.path)
        assert reject["x_SourceRow"] in records
        assert reject["x_Column"] and reject["x_Reason"] and reject["x_TargetTable"] == n.table


def test_money_is_exact_decimal_and_matches_the_raw_amounts(normalized):
    n = normalized
    money = [c.name for c in TABLES[n.table].columns if c.dtype == "decimal"]
    for name in money:
        assert n.rows.schema.field(name).type == pa.decimal128(38, 12)
        values = [v for v in n.rows[name].to_pylist() if v is not None]
        assert all(isinstance(v, Decimal) and v.as_tuple().exponent >= -12 for v in values), name
    case = CASES[n.case]
    if case.amount is None:
        return
    amount_of, column = case.amount
    records = case.records(n.path)
    loaded: dict[int, Decimal] = {}
    for row, value in zip(n.rows["x_SourceRow"].to_pylist(), n.rows[column].to_pylist(), strict=True):
        loaded[row] = loaded.get(row, Decimal(0)) + value
    # Values are rounded half-even to 12 places once, at load (schema.py).
    raw = {row: amount_of(records[row]).quantize(TWELVE_PLACES, rounding=ROUND_HALF_EVEN) for row in loaded}
    assert loaded == raw


def test_token_counts_are_non_negative_integers(normalized):
    n = normalized
    if n.table == "requests":
        for name in (*REQUEST_TOKEN_COLUMNS.values(), "x_OutputReasoningTokens"):
            column = n.rows[name]
            assert column.type == pa.int64()
            assert pc.min(column).as_py() is None or pc.min(column).as_py() >= 0, name
        required = TABLES["requests"]
        assert all(n.rows[c].null_count == 0 for c in REQUEST_TOKEN_COLUMNS.values() if required.column(c).required)
        output, reasoning = n.rows["x_OutputTokens"].to_pylist(), n.rows["x_OutputReasoningTokens"].to_pylist()
        assert all(r is None or r <= o for r, o in zip(reasoning, output, strict=True)), "reasoning is output's subset"
        return
    rows = n.rows.to_pylist()
    if n.table == "metrics":  # a counter or an amount of hours never negative, a token counter a whole number
        assert rows and {r["x_MetricKind"] for r in rows} <= set(METRIC_KINDS)
        counters = [r for r in rows if r["x_MetricKind"] == "counter"]
        assert all(r["x_Value"] >= 0 for r in counters)
        assert all(r["x_Value"] >= 0 for r in rows if r["x_Unit"].endswith("hours"))
        assert all(r["x_Value"] == int(r["x_Value"]) for r in counters if r["x_Unit"] == "tokens")
        return
    assert {r["x_TokenType"] for r in rows} <= set(TOKEN_TYPES)
    for r in rows:
        if r["ConsumedUnit"] == "Tokens":
            q = r["ConsumedQuantity"]
            assert q is not None and q >= 0 and q == q.to_integral_value(), (r["x_SourceRow"], q)


# --- 3. rejects -----------------------------------------------------------------------------------------------


def _reject_keys(con, path: str) -> set[tuple]:
    rows = con.con.execute("SELECT x_SourceRow, x_Column, x_Reason FROM rejects WHERE x_SourceFile = ?", [path])
    return set(rows.fetchall())


def test_one_bad_record_is_rejected_alone(normalized, tmp_path):
    n, bad = normalized, CASES[normalized.case].corruption
    assert bad.row in n.loaded, "the corrupted record must load cleanly in the fixture"
    target = tmp_path / n.path.name
    target.write_bytes(bad.apply(n.path.read_bytes()))
    con = engine.memory()
    try:
        result = ingest([target], con=con).iloc[0]  # detected: one bad value must not change the format
        assert (result.format, result.status, result.message) == (n.fmt, "loaded", "")
        assert result.rows_read == n.summary["records_read"]
        assert result.rows_rejected == n.summary["records_rejected"] + 1
        assert result.rows_loaded == len(n.loaded) - 1
        loaded = {r[0] for r in con.con.execute(f"SELECT DISTINCT x_SourceRow FROM {n.table}").fetchall()}
        assert loaded == n.loaded - {bad.row}
        before = {(r["x_SourceRow"], r["x_Column"], r["x_Reason"]) for r in n.rejects.to_pylist()}
        assert _reject_keys(con, str(target)) >= before
        new = con.sql(f"SELECT * FROM rejects WHERE x_SourceRow = {bad.row}").to_pyarrow().to_pylist()
    finally:
        con.disconnect()
    assert len(new) == 1, new
    assert new[0]["x_SourceFile"] == str(target) and new[0]["x_SourceFormat"] == n.fmt
    assert (new[0]["x_Column"], new[0]["x_Value"], new[0]["x_TargetTable"]) == (bad.column, bad.value, n.table)
    assert bad.reason in new[0]["x_Reason"]


#: Formats whose fixture is one JSON document (API page, array, OTLP export) rather than lines of records.
JSON_DOCUMENTS = [f for f in FORMATS if [p.suffix for p in fixtures_of(f)] == [".json"]]


@pytest.mark.parametrize("fmt", JSON_DOCUMENTS)
def test_a_broken_json_document_fails_as_a_whole(fmt, tmp_path):
    # A JSON document holds its records inside one value: cut short, no record can be told apart from the
    # rest, so the documented outcome is a SourceError naming the file (status "failed") and nothing loaded.
    # Line-based formats (CSV, JSON lines) reject the broken record alone, as tested above.
    path = fixture_path(fmt)
    target = tmp_path / path.name
    data = path.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    con = engine.memory()
    try:
        result = ingest([target], con=con, format=fmt).iloc[0]
        counts = [con.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in (*DATA_TABLES, "rejects", "ingested_files")]
    finally:
        con.disconnect()
    assert result.status == "failed" and str(target) in result.message, result.message
    assert counts == [0] * (len(DATA_TABLES) + 2)


# --- 4. idempotency -------------------------------------------------------------------------------------------


def _counts(con) -> dict[str, int]:
    return {t: con.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in (*DATA_TABLES, "ingested_files")}


def _redeliver(path: Path, target: Path, newlines: int) -> Path:
    """Write the same records in other bytes (trailing newlines): a re-pulled export, not a byte copy.

    A zip of parts is exported again: the same parts, its manifest stating the new export's time.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".zip":
        data = path.read_bytes()
        name = next(n for n in zip_members(data) if n.endswith("manifest.json"))
        manifest = {**json.loads(zip_members(data)[name]), "created_at": datetime.now(UTC).isoformat()}
        target.write_bytes(rezip(data, {name: json.dumps(manifest).encode()}, comment=b"\n" * newlines))
        return target
    target.write_bytes(path.read_bytes() + b"\n" * newlines)
    return target


@pytest.fixture(scope="module")
def warehouse(normalized):
    """An in-memory warehouse holding the fixture, shared by the idempotency tests of one format.

    Each test compares the counts before and after its own ingest, so their order does not matter.
    """
    con = engine.memory()
    first = ingest([normalized.path], con=con).iloc[0]
    assert first.status == "loaded" and first.rows_loaded == len(normalized.loaded)
    yield con
    con.disconnect()


def test_ingesting_the_same_file_again_changes_nothing(normalized, warehouse):
    before = _counts(warehouse)
    again = ingest([normalized.path], con=warehouse).iloc[0]
    # "unchanged" is ingest's word for a file skipped because its path and bytes were ingested before.
    assert (again.status, again.rows_read, again.rows_loaded) == ("unchanged", 0, 0)
    assert _counts(warehouse) == before


def test_a_byte_copy_under_another_name_is_not_counted_twice(normalized, tmp_path):
    warehouse = engine.memory()  # its own: the copy ends up holding the rows, which the other tests do not expect
    ingest([normalized.path], con=warehouse)
    before = _counts(warehouse)
    copy = tmp_path / f"copy-of-{normalized.path.name}"
    shutil.copyfile(normalized.path, copy)
    result = ingest([copy], con=warehouse).iloc[0]
    # The copy is the later delivery (a newer modification time): it stands for the bytes, the original's rows go.
    assert (result.status, result.rows_loaded, result.rows_replaced) == ("loaded", len(normalized.loaded),
                                                                         _rows_of(warehouse, copy))
    assert _counts(warehouse) == before
    again = ingest([normalized.path], con=warehouse).iloc[0]  # the older copy, offered again: a duplicate
    assert (again.status, again.rows_loaded) == ("duplicate", 0) and str(copy) in again.message
    assert _counts(warehouse) == before


def _with_a_repeat(path: Path, fmt: str, record: int, target: Path) -> None:
    """Write ``path`` with raw record ``record`` repeated once more (same file kind, every field equal)."""
    raw = CASES[fmt].records(path)[record]
    if path.suffix == ".zip":  # a zip of CSV parts: the record again at the end of the last part, counted
        data = path.read_bytes()
        last = zip_parts(data)[-1]
        text = zip_members(data)[last].decode("utf-8-sig")
        header = next(csv.reader(io.StringIO(text)))
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow([raw.get(h, "") for h in header])
        repeated = (text.rstrip("\n") + "\n" + line.getvalue()).encode()
        target.write_bytes(rezip(data, {last: repeated}, recount=True))
        return
    text = path.read_text(encoding="utf-8-sig")
    if isinstance(raw, dict) and path.suffix == ".csv":
        header = next(csv.reader(io.StringIO(text)))
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow([raw.get(h, "") for h in header])
        target.write_text(text.rstrip("\n") + "\n" + line.getvalue(), encoding="utf-8")
        return
    if path.suffix in (".jsonl", ".prom"):  # a record per line
        lines = text.splitlines()
        target.write_text("\n".join([*lines, lines[record - 1]]) + "\n", encoding="utf-8")
        return
    document = json.loads(text)
    if fmt == "opencost_allocation":  # allocations are values of a step's map: the copy comes as a step of its own
        document["data"].append({"repeated": json.loads(json.dumps(raw, default=float))})
        target.write_text(json.dumps(document), encoding="utf-8")
        return
    stack = [document]
    while stack:  # the list holding the record: append a copy of it there
        node = stack.pop()
        items = node if isinstance(node, list) else list(node.values()) if isinstance(node, dict) else []
        if isinstance(node, list):
            for item in node:
                if item == raw or json.loads(json.dumps(item), parse_float=Decimal) == raw:
                    node.append(copy.deepcopy(item))
                    target.write_text(json.dumps(document), encoding="utf-8")
                    return
        stack.extend(i for i in items if isinstance(i, (list, dict)))
    pytest.skip(f"{fmt}: no list holding record {record} found to repeat it in")


def test_a_repeated_record_is_two_charges_or_one_record_delivered_twice(normalized, tmp_path):
    """Every format, one loaded record repeated verbatim: two charges, unless the format documents a line id."""
    n = normalized
    record = min(n.loaded)
    target = tmp_path / n.path.name
    _with_a_repeat(n.path, n.case, record, target)
    con = engine.memory()
    try:
        before = ingest([n.path], con=con, format=n.fmt).iloc[0]
        con2 = engine.memory()
        after = ingest([target], con=con2, format=n.fmt).iloc[0]
        reasons = con2.sql("SELECT x_Reason FROM rejects").to_pandas().x_Reason.tolist()
        con2.disconnect()
    finally:
        con.disconnect()
    assert after.rows_read == before.rows_read + 1
    line_id = SOURCES[n.fmt].line_id
    if line_id and line_id != "file stem and line":  # a made-up id of stem and line never repeats in a file
        assert (after.rows_loaded, after.rows_rejected) == (before.rows_loaded, before.rows_rejected + 1)
        assert any(r.startswith(f"duplicate: same {line_id} and amounts as line {record}") for r in reasons), reasons
    else:
        assert (after.rows_loaded, after.rows_rejected) == (before.rows_loaded + 1, before.rows_rejected)


def _rows_of(con, path: Path) -> int:
    """Rows of ``path`` in every data table (a format may fill both, one record giving a row in each)."""
    return sum(con.con.execute(f"SELECT count(*) FROM {t} WHERE x_SourceFile = ?", [str(path)]).fetchone()[0]
               for t in DATA_TABLES)  # fmt: skip


def test_a_redelivery_from_another_folder_replaces_rows(normalized, warehouse, tmp_path):
    before = _counts(warehouse)
    held = _rows_of(warehouse, normalized.path)
    again = _redeliver(normalized.path, tmp_path / "redelivered" / normalized.path.name, 1)
    result = ingest([again], con=warehouse).iloc[0]
    assert (result.status, result.rows_loaded, result.rows_replaced) == ("loaded", len(normalized.loaded), held)
    assert _counts(warehouse) == {**before, "ingested_files": before["ingested_files"] + 1}


def test_a_redelivery_under_another_name_replaces_rows(normalized, warehouse, tmp_path, request):
    if SOURCES[normalized.fmt].line_id == "file stem and line":
        # Mapped formats without a request id column key their rows by <file stem>:<line> (mapped.py): the
        # same records under another file name are other requests. Strict: the day it holds, drop this.
        request.applymarker(pytest.mark.xfail(reason="mapped rows are keyed by file stem and line", strict=True))
    before = _counts(warehouse)
    again = _redeliver(normalized.path, tmp_path / f"redelivered-{normalized.path.name}", 2)
    result = ingest([again], con=warehouse).iloc[0]
    assert result.status == "loaded"
    assert _counts(warehouse) == {**before, "ingested_files": before["ingested_files"] + 1}
