"""Issue 17, point 6: a bad amount rejects its record alone, in every registered format.

Each format's committed fixture gets ``NaN``, ``Infinity``, ``-Infinity``, ``1e30`` or an empty value in its
money column (:data:`value_cases.FIELDS`; formats without money: their main count column). The untouched
records load exactly as they load from the unmodified fixture (same records, same amounts: the baseline is
the fixture itself, read in its own warehouse), and each bad record is in ``rejects`` with the file, its
record number, the column and a reason saying what is wrong. A folder holding such a file and two good files
of other formats loads the good files whole.

An empty amount. Where the field is the gateway's own cost estimate (``x_ReportedCost`` of Helicone,
LiteLLM and OpenRouter: informative, never added to spend), an empty value means "the gateway reported no
cost": the record loads with a null reported cost and the flag ``reported_cost_missing``, so it is counted
and visible, never dropped. Everywhere else (invoiced money, token counts, OpenTelemetry's
``gen_ai.usage.cost`` given as an empty string) an empty value is a record the workbench cannot use, and it
is rejected with its reason.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
from source_cases import case_ids, fixture_path, format_of, zip_members
from value_cases import BAD_VALUES, FIELDS, plain_records, write_variant

from finops_lib import engine
from finops_lib.sources import SOURCES
from finops_lib.warehouse import ingest

FORMATS = case_ids()  # every format's fixture, and the variants (a zip of FOCUS parts)
#: Formats whose empty amount is the gateway's "no cost reported": the record loads, flagged (see above).
EMPTY_IS_NOT_REPORTED = {"helicone_requests", "litellm_spend_logs", "openrouter_activity"}
#: A fragment of the reason each bad value must give, in some wording (any one of the fragments).
REASONS = {
    "NaN": ("not a number", "not a finite", "non-negative", "not a decimal", "out of range"),
    "Infinity": ("not a number", "not a finite", "non-negative", "not a decimal", "out of range"),
    "-Infinity": ("not a number", "not a finite", "non-negative", "not a decimal", "negative", "out of range"),
    "1e30": ("out of range", "implausibly large", "below 1e2", "non-negative integer", "not a non-negative"),
    "": ("missing", "not a number", "not a decimal", "non-negative", "required"),
}


def _money_column(fmt: str) -> str | None:
    if not FIELDS[fmt].money:
        return None
    return "BilledCost" if SOURCES[format_of(fmt)].table == "costs" else "x_ReportedCost"


@cache
def _load(path: Path, fmt: str) -> tuple[dict[int, list], list[tuple], object]:
    """Ingest one file alone: ({record: sorted money amounts of its rows}, rejects, summary row)."""
    con = engine.memory()
    try:
        summary = ingest([path], con=con, format=format_of(fmt)).iloc[0]
        table = SOURCES[format_of(fmt)].table
        money = _money_column(fmt) or "NULL"
        rows: dict[int, list] = {}
        for number, amount, flags in con.con.execute(
                f"SELECT x_SourceRow, {money}, x_DataQualityFlags FROM {table} ORDER BY ALL").fetchall():
            rows.setdefault(number, []).append((amount, flags))
        rejects = con.con.execute("SELECT x_SourceFile, x_SourceRow, x_Column, x_Value, x_Reason FROM rejects "
                                  "ORDER BY x_SourceRow, x_Column").fetchall()
    finally:
        con.disconnect()
    return rows, rejects, summary


def _baseline(fmt: str) -> tuple[dict[int, list], list[tuple]]:
    rows, rejects, summary = _load(fixture_path(fmt), fmt)
    assert summary.status == "loaded" and rows, (fmt, summary.message)
    return rows, rejects


def _check(fmt: str, path: Path, bad: dict[int, str]) -> None:
    """The file ``path`` is the fixture with ``bad`` ({record: value}): check loaded rows and rejects."""
    base_rows, base_rejects = _baseline(fmt)
    rows, rejects, summary = _load(path, fmt)
    assert summary.status == "loaded", summary.message
    assert summary.rows_read == summary.rows_loaded + summary.rows_rejected
    kept_empty = {n for n, v in bad.items() if v == "" and fmt in EMPTY_IS_NOT_REPORTED}
    # every untouched record loads exactly as from the fixture itself (same rows, same amounts)
    assert {n: r for n, r in rows.items() if n not in bad} == {n: r for n, r in base_rows.items() if n not in bad}
    assert set(rows) == set(base_rows) - set(bad) | kept_empty
    for n in kept_empty:
        assert [amount for amount, _ in rows[n]] == [None] * len(rows[n])
        assert all("reported_cost_missing" in flags for _, flags in rows[n])
    # the fixture's own rejects stay; each bad record is rejected once, naming file, record, column, reason
    expected_rejects = {n for n in bad if n not in kept_empty}
    new = [r for r in rejects if r[1] in bad]
    assert sorted(r[1] for r in new) == sorted(expected_rejects)
    for file, number, column, value, reason in new:
        assert file == str(path)
        assert column == FIELDS[fmt].column, (number, column, reason)
        assert any(f in reason for f in REASONS[bad[number]]), (bad[number], reason)
        assert "Could not cast" not in reason and "Conversion" not in reason
        if bad[number]:  # the value as the file wrote it, or the same number (1E+30, nan, inf)
            assert str(Decimal(value)) == str(Decimal(bad[number])), (value, bad[number])
    assert sorted(r for r in rejects if r[1] not in bad) == sorted(
        (str(path), *r[1:]) for r in base_rejects if r[1] not in bad)


@pytest.mark.parametrize("value", BAD_VALUES, ids=lambda v: v or "empty")
@pytest.mark.parametrize("fmt", FORMATS)
def test_one_bad_amount_rejects_its_record_alone(fmt, value, tmp_path):
    first = _plain(fmt)[0]
    _check(fmt, write_variant(fmt, tmp_path, {first: value}), {first: value})


def _plain(fmt: str) -> list[int]:
    """The fixture's loaded records that no other record repeats (a repeat loads when its original is rejected)."""
    rows, rejects = _baseline(fmt)
    return plain_records(rows, [r[-1] for r in rejects])


def _spread(fmt: str) -> dict[int, str]:
    """Bad values on the fixture's loaded records, one each, leaving at least one good record."""
    good = _plain(fmt)
    return dict(zip(good[:-1], BAD_VALUES, strict=False))


@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_amounts_in_several_records_of_one_file(fmt, tmp_path):
    bad = _spread(fmt)
    assert bad and len(bad) < len(_baseline(fmt)[0])
    _check(fmt, write_variant(fmt, tmp_path, bad), bad)


def _good_partners(fmt: str) -> list[str]:
    """Two other formats whose fixtures are the good files of the folder test."""
    return [f for f in ("focus", "openai_costs", "litellm_spend_logs") if f != fmt][:2]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_folder_with_a_bad_file_loads_the_good_files(fmt, tmp_path):
    bad = _spread(fmt)
    folder = tmp_path / "drop"
    folder.mkdir()
    bad_file = write_variant(fmt, folder, bad, name="bad_" + fixture_path(fmt).name)
    good = {f: folder / fixture_path(f).name for f in _good_partners(fmt)}
    for f, target in good.items():
        target.write_bytes(fixture_path(f).read_bytes())
    con = engine.memory()
    try:
        result = ingest([folder], con=con).set_index("path")
        loaded = dict(con.con.execute(
            "SELECT x_SourceFile, count(DISTINCT x_SourceRow) FROM (SELECT x_SourceFile, x_SourceRow FROM costs "
            "UNION ALL SELECT x_SourceFile, x_SourceRow FROM requests UNION ALL SELECT x_SourceFile, x_SourceRow "
            "FROM metrics) GROUP BY ALL").fetchall())
    finally:
        con.disconnect()
    assert len(result) == 3 and set(result.status) == {"loaded"}, result[["status", "message"]]
    assert result.loc[str(bad_file), "format"] == format_of(fmt)
    for f, target in good.items():
        base_rows, base_rejects = _baseline(f)
        row = result.loc[str(target)]
        assert (row.rows_loaded, row.rows_rejected) == (len(base_rows), len(base_rejects))
        assert loaded[str(target)] == len(base_rows)
    kept_empty = sum(1 for v in bad.values() if v == "" and fmt in EMPTY_IS_NOT_REPORTED)
    assert loaded[str(bad_file)] == len(_baseline(fmt)[0]) - len(bad) + kept_empty
    assert result.loc[str(bad_file), "rows_rejected"] == len(_baseline(fmt)[1]) + len(bad) - kept_empty


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_bad_values_reach_the_files(fmt, tmp_path):
    # Guard: each mutation really puts the value into the fixture (else the tests above would test nothing).
    source = fixture_path(fmt).read_bytes()
    for value in ("NaN", "1e30"):
        changed = write_variant(fmt, tmp_path, {min(_baseline(fmt)[0]): value}, name=f"{value}.x").read_bytes()
        inside = b"".join(zip_members(changed).values()) if source.startswith(b"PK") else changed  # a zip's parts
        assert changed != source and value.encode() in inside


def test_good_amounts_load_as_exact_decimals():
    rows, _ = _baseline("focus")
    # tests/data/focus.csv, BilledCost of lines 2 to 5, read by eye
    assert {n: [a for a, _ in r] for n, r in rows.items()} == {2: [Decimal("3.00")], 3: [Decimal("3.00")],
                                                              4: [Decimal("0.15")], 5: [Decimal("2.2272")]}
