"""Issue 17, point 6: a record dated outside the plausible window is rejected, in every registered format.

The window is one setting (``finops_lib.sources._common.date_window``): 2000-01-01 to today + 10 years, or
``$FINOPS_DATE_WINDOW="FIRST:LAST"``. Each format's fixture gets one record (in API pages: one bucket, which
dates all its records) dated in the year 1, on 1999-12-31 or on 9999-12-31, and, in formats that write Unix
times, at a Unix time a hundred thousand years ahead (never representable as a datetime). That record is
rejected with a reason naming the column, the value and the window (never "year 10000 is out of range"
or an overflow), and every other record loads as from the fixture itself.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

import pytest
from source_cases import CASES, case_ids, fixture_path, format_of
from value_cases import DATES, plain_records, set_date

from finops_lib import engine
from finops_lib.sources import SOURCES
from finops_lib.sources._common import DATE_WINDOW_VAR, date_window
from finops_lib.warehouse import ingest

FORMATS = case_ids()  # every format's fixture, and the variants (a zip of FOCUS parts)
WINDOW = "2000-01-01:2036-12-31"
MOMENTS = {
    "year-1": datetime(1, 1, 1, tzinfo=UTC),
    "1999-12-31": datetime(1999, 12, 31, tzinfo=UTC),
    "9999-12-31": datetime(9999, 12, 31, tzinfo=UTC),
    "unix-1e14": 10**14,  # about the year 3170000: Unix formats only
}


@pytest.fixture(autouse=True)
def _window(monkeypatch):
    monkeypatch.setenv(DATE_WINDOW_VAR, WINDOW)


@cache
def _load(path: Path, fmt: str, window: str) -> tuple[dict[int, list], list[tuple], object]:
    """Ingest one file alone under a window: ({record: its rows}, rejects, summary row)."""
    con = engine.memory()
    try:
        summary = ingest([path], con=con, format=format_of(fmt)).iloc[0]
        rows: dict[int, list] = {}
        columns = "x_SourceRow, ChargePeriodStart, * EXCLUDE (x_SourceRow, x_SourceFile, ChargePeriodStart)"
        for row in con.con.execute(f"SELECT {columns} FROM {SOURCES[format_of(fmt)].table} ORDER BY ALL").fetchall():
            rows.setdefault(row[0], []).append(row[1:])
        rejects = con.con.execute("SELECT x_SourceRow, x_Column, x_Value, x_Reason FROM rejects "
                                  "ORDER BY ALL").fetchall()
    finally:
        con.disconnect()
    return rows, rejects, summary


def _cases() -> list[tuple[str, str]]:
    return [(fmt, name) for fmt in FORMATS for name, moment in MOMENTS.items()
            if not isinstance(moment, int) or DATES[fmt].from_unix is not None]


@pytest.mark.parametrize(("fmt", "when"), _cases())
def test_a_record_dated_outside_the_window_is_rejected_with_the_window(fmt, when, tmp_path, monkeypatch):
    base_rows, base_rejects, _ = _load(fixture_path(fmt), fmt, WINDOW)
    record = min(plain_records(base_rows, [r[3] for r in base_rejects]))
    data, dated = set_date(fmt, fixture_path(fmt).read_bytes(), record, MOMENTS[when])
    path = tmp_path / fixture_path(fmt).name
    path.write_bytes(data)
    rows, rejects, summary = _load(path, fmt, WINDOW)
    assert summary.status == "loaded", summary.message
    assert summary.rows_read == summary.rows_loaded + summary.rows_rejected
    # every other record loads as from the fixture itself; the fixture's own rejects stay as they were
    assert {n: r for n, r in rows.items()} == {n: r for n, r in base_rows.items() if n not in dated}
    assert [r for r in rejects if r[0] not in dated] == [r for r in base_rejects if r[0] not in dated]
    new = [r for r in rejects if r[0] in dated]
    assert sorted(r[0] for r in new) == sorted(dated & set(base_rows))
    spec = DATES[fmt]
    names = {".".join(spec.start), *([".".join(spec.end)] if spec.end else ()), "ChargePeriodStart"}
    for _, column, value, reason in new:
        assert column in names, (column, reason)
        assert "outside the plausible dates 2000-01-01 to 2036-12-31" in reason and DATE_WINDOW_VAR in reason
        assert value and (value in reason or column == "ChargePeriodStart" or reason.startswith("outside")), reason
        assert "out of range" not in reason and "year" not in reason, reason


def test_the_window_defaults_to_2000_and_ten_years_ahead(monkeypatch):
    monkeypatch.delenv(DATE_WINDOW_VAR)
    today = datetime.now(UTC).date()
    first, last = date_window()
    assert first == date(2000, 1, 1)
    assert (last.year, last.month) == (today.year + 10, today.month) and abs(last.day - today.day) <= 3


def test_the_window_setting_moves_the_boundary(monkeypatch):
    # litellm_spend_logs.csv: records dated 2026-05-01 and 2026-05-02; the window starts on the 2nd
    fmt, path = "litellm_spend_logs", fixture_path("litellm_spend_logs")
    first_day = {n for n, r in CASES[fmt].records(path).items() if (r["startTime"] or "").startswith("2026-05-01")}
    wide, _, _ = _load(path, fmt, WINDOW)
    monkeypatch.setenv(DATE_WINDOW_VAR, "2026-05-02:")
    narrow, rejects, summary = _load(path, fmt, "2026-05-02:")
    assert summary.status == "loaded" and summary.rows_read == summary.rows_loaded + summary.rows_rejected
    assert first_day & set(wide) and set(narrow) == set(wide) - first_day
    dated = {r[0] for r in rejects if "outside the plausible dates 2026-05-02 to " in r[3]}
    assert first_day & set(wide) <= dated <= first_day  # a repeat of a rejected line is dated too (line 9)


@pytest.mark.parametrize("bad", ["2000", "2030-01-01:2020-01-01", "yesterday:today"])
def test_a_bad_window_setting_is_a_clear_error(bad, monkeypatch):
    from finops_lib.errors import ParameterError

    monkeypatch.setenv(DATE_WINDOW_VAR, bad)
    with pytest.raises(ParameterError, match=DATE_WINDOW_VAR):
        date_window()


@pytest.mark.parametrize("seconds", ["100000000000000", "-62135596800", "946598400"])
def test_litellm_payload_unix_times_outside_the_window(seconds, tmp_path):
    # LiteLLM's StandardLoggingPayload (bucket and Pub/Sub loggers) writes startTime as Unix seconds; a JSON
    # variant, not the contract fixture. 1e14 s ahead, year 1, 1999-12-31: rejected before any conversion.
    text = (Path(__file__).parents[1] / "data" / "litellm_spend_logs_payloads.jsonl").read_text(encoding="utf-8")
    path = tmp_path / "payloads.jsonl"
    path.write_text(text.replace('"startTime": 1777629600.5', f'"startTime": {seconds}', 1), encoding="utf-8")
    base, _, _ = _load(_copy(text, tmp_path), "litellm_spend_logs", WINDOW)
    rows, rejects, summary = _load(path, "litellm_spend_logs", WINDOW)
    assert summary.status == "loaded" and summary.rows_read == summary.rows_loaded + summary.rows_rejected
    assert set(rows) == set(base) - {1}
    assert [r[:3] for r in rejects if r[0] == 1] == [(1, "startTime", seconds)]
    assert f"'startTime' (Unix time {seconds}) is outside the plausible dates 2000-01-01 to 2036-12-31" in \
        next(r[3] for r in rejects if r[0] == 1)


def _copy(text: str, directory: Path) -> Path:
    path = directory / "base.jsonl"
    path.write_text(text, encoding="utf-8")
    return path
