"""One figure for the sample's spend: the report index, the overview, attribution and reconciliation pages, and
``finops status`` show the same total, and it is the vendors' invoices added up without the workbench."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from rawfiles import raw_invoices

from finops_lib import paths
from finops_lib.cli import main

pytestmark = pytest.mark.slow
CENT = Decimal("0.01")


def results(report: Path, stem: str) -> dict:
    return json.loads((report / stem / "results.json").read_text(encoding="utf-8"))


def test_the_index_every_page_and_finops_status_show_one_total(sample_report: Path, sample_warehouse: Path,
                                                                capsys) -> None:  # fmt: skip
    fx = {"USD": Decimal(1), "EUR": Decimal(1) / Decimal("0.92")}  # the sample's one published rate, USD->EUR 0.92
    invoiced = sum((amount * fx[currency] for (_, currency, _), amount in raw_invoices(paths.SAMPLE_DIR).items()),
                   Decimal(0))  # fmt: skip
    overview = results(sample_report, "00_data_overview")
    spend = Decimal(overview["total_spend"]["USD"])
    assert abs(spend - invoiced) < CENT  # the EUR rows are converted one by one; the sum agrees to the cent
    text = f"${spend.quantize(CENT):,.2f}"
    assert overview["headline"]["Spend (USD)"] == text
    assert results(sample_report, "10_cost_attribution")["headline"]["Allocated (USD)"] == text
    assert results(sample_report, "50_reconciliation")["headline"]["Invoiced (USD)"] == text
    assert text in (sample_report / "index.html").read_text(encoding="utf-8")
    assert main(["status", "--json", "--warehouse", str(sample_warehouse)]) == 0
    status = json.loads(capsys.readouterr().out)["spend"]
    assert Decimal(status["total"]) == spend and status["text"] == text
