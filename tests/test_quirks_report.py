"""The whole report over our folder of real-export quirks (credits, actual and amortized cost bases side by side,
rows differing only in money, a file no format reads) exits 0 with ``--allow-skipped``, names the skipped file, and
its overview's spend is the billed total of the actual-cost exports.

Expected amounts are summed from the files with the stdlib ``csv`` module and Decimal.
"""

from __future__ import annotations

import csv
import json
import shutil
from decimal import Decimal as D
from pathlib import Path

import pytest

from finops_lib.cli import main

QUIRKS = Path(__file__).parent / "data" / "quirks"

pytestmark = pytest.mark.slow


def _billed(path: Path, column: str) -> D:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return sum((D(row[column]) for row in csv.DictReader(fh)), D(0))


def test_report_over_the_quirks_folder(tmp_path, capsys) -> None:
    folder = tmp_path / "exports"
    shutil.copytree(QUIRKS, folder)
    (folder / "notes.json").write_text('{"owner": "finance"}')  # a file no format reads: listed, its size first
    out = tmp_path / "report"
    code = main(["report", "--data", str(folder), "--out", str(out), "--allow-skipped", "--warehouse",
                 str(tmp_path / "workspace")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    assert "SKIPPED notes.json (20 bytes): JSON object with keys (owner)" in err
    overview = json.loads((out / "00_data_overview" / "results.json").read_text())
    # Billed spend: the actual export (never the amortized one beside it), the older usage export, the FOCUS file
    # with its credit; every Azure file is in USD.
    expected = (_billed(QUIRKS / "azure_ea_actual_cost.csv", "CostInBillingCurrency")
                + _billed(QUIRKS / "azure_usage_same_meter_id.csv", "CostInBillingCurrency")
                + _billed(QUIRKS / "focus_aws_with_credit.csv", "BilledCost"))  # fmt: skip
    assert D(overview["total_spend"]["USD"]) == expected == D("325.535")
    listed = [(f["file"], f["status"], f["bytes"]) for f in overview["files_not_loaded"]]
    assert listed == [("notes.json", "skipped", 20)]
    index = (out / "index.html").read_text()
    assert "$325.54" in index
