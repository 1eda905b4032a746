"""Every CSV the commands write is spreadsheet-safe: a text cell is never a formula, numbers stay numbers."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from finops_lib.anomalies.run import write_alerts
from finops_lib.share import FORMULA_STARTS, neutralise, write_csv

#: What a hostile tag, team or model alias may hold (OWASP CSV injection payloads).
PAYLOADS = ['=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)", "\t=1+1", "\r=1+1",
            "=1+1", '=WEBSERVICE("http://evil")']  # fmt: skip


def _cells(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def _formula(text: str) -> bool:
    """Whether a spreadsheet would evaluate the cell: a formula start that is not a plain number."""
    try:
        float(text)
        return False
    except ValueError:
        return text.startswith(FORMULA_STARTS)


@given(st.text(max_size=40))
def test_no_text_is_left_a_formula_and_the_text_is_kept(text: str) -> None:
    out = neutralise(text)
    assert not _formula(out) or (out == text and not text.startswith(FORMULA_STARTS))
    assert out in (text, "'" + text)  # shown as the same text: only an apostrophe is added


def test_numbers_stay_numbers_and_other_values_pass() -> None:
    for number in ("-12.50", "+3", "1e-9", "-.5", "42"):
        assert neutralise(number) == number
    assert neutralise(-5) == -5 and neutralise(Decimal("-1.5")) == Decimal("-1.5") and neutralise(None) is None


def test_the_alert_list_a_finance_user_opens_holds_no_formula(tmp_path: Path) -> None:
    alerts = pd.DataFrame({"anomaly_id": [f"A{i:03d}" for i in range(len(PAYLOADS))], "team": PAYLOADS,
                           "first_seen": pd.Timestamp("2026-07-14"),
                           "change": [Decimal("-777.22")] * len(PAYLOADS)})  # fmt: skip
    header, *rows = _cells(write_alerts(alerts, tmp_path / "alerts.csv"))
    assert header == ["anomaly_id", "team", "first_seen", "change"]
    assert [row[1] for row in rows] == ["'" + p for p in PAYLOADS]  # the exact text, marked as text
    assert {row[3] for row in rows} == {"-777.22"} and {row[2] for row in rows} == {"2026-07-14"}
    assert not any(_formula(cell) for row in rows for cell in row)


def test_the_guard_can_be_turned_off_for_a_program(tmp_path: Path) -> None:
    frame = pd.DataFrame({"=team": ["=1+1"], "cost": [Decimal("2.50")], "day": [None]})
    assert _cells(write_csv(frame, tmp_path / "safe.csv")) == [["'=team", "cost", "day"], ["'=1+1", "2.50", ""]]
    assert _cells(write_csv(frame, tmp_path / "raw.csv", neutralise_text=False))[1] == ["=1+1", "2.50", ""]


def _hostile_folder(root: Path) -> Path:
    """60 days of FOCUS charges whose teams, applications and sub-account names are formula payloads."""
    from tests.thin_folders import _daily_cost, _days, _focus_row, _write_focus

    rows = []
    for i, day in enumerate(_days(60)):
        for n, payload in enumerate(PAYLOADS[:4]):
            row = _focus_row(day, _daily_cost(i, f"{3 + n}.00") * (3 if i == 50 and n == 0 else 1), team=payload,
                             app=PAYLOADS[4 + n])  # fmt: skip
            rows.append({**row, "SubAccountId": payload})
    _write_focus(root, rows)
    return root


@pytest.mark.slow
def test_every_csv_a_command_writes_is_spreadsheet_safe_and_raw_on_request(tmp_path: Path) -> None:
    """chargeback, anomalies, forecast (and its accuracy file) and export-focus, run on hostile data, cell by cell."""
    from finops_lib.cli import main

    folder = _hostile_folder(tmp_path / "data")
    ws = ["--warehouse", str(tmp_path / "ws")]
    assert main(["ingest", str(folder), *ws]) == 0
    commands = {
        "chargeback": ["chargeback", "--rules", "none"],
        "anomalies": ["anomalies", "--sensitivity", "0.5", "--detector", "robust_seasonal"],
        "forecast": ["forecast", "--by", "team", "--horizon", "7", "--backtest"],
        "focus": ["export-focus"],
    }
    for raw in (False, True):
        for name, command in commands.items():
            out = tmp_path / f"{name}{'-raw' if raw else ''}.csv"
            code = main([*command, "--out", str(out), *ws, *(["--raw-csv"] if raw else [])])
            assert code == 0, name
            written = [out] + ([out.with_name(f"{out.stem}.accuracy.csv")] if name == "forecast" else [])
            for path in written:
                header, *rows = _cells(path)
                cells = [cell for row in rows for cell in row]
                assert rows, path
                if raw:  # the text as the data wrote it (some payload is in every file)
                    assert any(cell in PAYLOADS for cell in cells), path
                else:
                    assert not any(_formula(cell) for cell in header + cells), path
                    assert any(cell.startswith("'") and cell[1:] in PAYLOADS for cell in cells), path
