"""The whole report on thin and odd folders a user might bring (``tests/thin_folders.py``): it never breaks.

Each folder runs through ``finops report`` (every notebook in papermill, the HTML, the index). The report exits 0,
every page is ok, and each page says what it could not show instead of an empty chart or a stack trace. Totals
are checked against the sums written into the folder (``thin_folders.build`` adds up the rows it writes).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from thin_folders import BUILDERS, build

from finops_lib.cli import main
from finops_lib.report import CATALOG

pytestmark = pytest.mark.slow

CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, Path, Decimal]]:
    """Every folder of the matrix through ``finops report``: name -> (exit code, report folder, total written)."""
    root = tmp_path_factory.mktemp("thin")
    out = {}
    for name in BUILDERS:
        folder, total = build(name, root / "data")
        report = root / "reports" / name
        code = main(["report", "--data", str(folder), "--out", str(report), "--allow-skipped",
                     "--warehouse", str(root / "workspaces" / name)])  # a workspace of its own (its config/ too)
        out[name] = (code, report, total)
    return out


def results(report: Path, stem: str) -> dict:
    return json.loads((report / stem / "results.json").read_text(encoding="utf-8"))


def text_of(report: Path, stem: str) -> str:
    return (report / f"{stem}.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", list(BUILDERS))
def test_the_report_runs_on_every_thin_folder(reports: dict, name: str) -> None:
    code, report, _ = reports[name]
    assert code == 0, f"{name}: finops report exited {code}"
    index = (report / "index.html").read_text(encoding="utf-8")
    for entry in CATALOG:
        assert (report / f"{entry.stem}.html").is_file(), (name, entry.stem)
        assert (report / entry.stem / "results.json").is_file(), (name, entry.stem)
        assert "Traceback" not in text_of(report, entry.stem), (name, entry.stem)
    assert "failed" not in index.lower() or "0 failed" in index.lower(), name


def test_forecasts_say_how_much_history_they_need(reports: dict) -> None:
    _, report, _ = reports["one_day"]
    assert results(report, "30_spend_forecast")["headline"] == {
        "Forecast": "Forecasts need 28 days of history; this data has 1 (2026-10-31 to 2026-10-31)."}
    _, report, _ = reports["gateway_logs_10_days"]
    assert "no invoice or cost export" in results(report, "30_spend_forecast")["headline"]["Forecast"]
    assert "request logs only" in results(report, "40_anomaly_review")["headline"]["Anomalies"]
    assert "request logs only" in results(report, "10_cost_attribution")["headline"]["Attribution"]


def test_sixty_days_forecast_without_a_backtest_and_say_so(reports: dict) -> None:
    _, report, total = reports["focus_60_days_one_provider"]
    found = results(report, "30_spend_forecast")
    assert Decimal(found["actual_total"]).quantize(CENT) == total
    assert found["accuracy"] == [] and "need 120 days of history; this data has 60" in found["findings"]
    assert found["headline"]["Chosen model (total)"].endswith("(by rule: too little history to backtest)")
    assert found["headline"]["Forecast, next 30 days (total)"].startswith("$")


def test_budgets_without_rules_are_put_at_risk(reports: dict) -> None:
    _, report, total = reports["budgets_without_rules"]
    found = results(report, "30_spend_forecast")
    risk = {row["series"]: row for row in found["budget_risk"]}
    assert set(risk) == {"search", "support"}
    # support spends about 9 a day against a November budget of 150: projected over it, whatever the model
    assert risk["support"]["status"] in {"breach projected", "exceeded"}
    assert "support" in found["headline"]["Budgets breached or projected to (2026-11)"]
    attribution = results(report, "10_cost_attribution")
    assert attribution["headline"]["Top team"] == "search"
    assert Decimal(attribution["input_total"]["USD"]).quantize(CENT) == total


def test_money_totals_are_the_sums_written(reports: dict) -> None:
    for name in ("focus_60_days_one_provider", "openai_costs_31_days", "no_tokens", "single_team", "with_credits",
                 "rules_without_budgets", "one_day"):
        _, report, total = reports[name]
        overview = results(report, "00_data_overview")
        assert Decimal(overview["total_spend"]["USD"]).quantize(CENT) == total, name


def test_an_empty_folder_says_nothing_is_loaded(reports: dict) -> None:
    _, report, _ = reports["empty"]
    assert "Attribution needs billed cost" in results(report, "10_cost_attribution")["findings"]
    assert "Forecasts need spend history" in results(report, "30_spend_forecast")["findings"]


def test_ingest_then_report_reads_what_was_ingested(tmp_path) -> None:
    """``finops ingest`` then ``finops report`` without ``--data``: the report is the workspace's, not the sample."""
    folder, total = build("single_team", tmp_path / "data")
    workspace = tmp_path / "workspace"
    assert main(["ingest", str(folder), "--warehouse", str(workspace)]) == 0
    out = tmp_path / "report"
    assert main(["report", "--warehouse", str(workspace), "--out", str(out),
                 "--parameter", "show_widgets", "false"]) == 0  # fmt: skip
    overview = results(out, "00_data_overview")
    assert Decimal(overview["total_spend"]["USD"]).quantize(CENT) == total
    assert overview["date_range"] == ["2026-09-22", "2026-10-31"]  # the folder's 40 days, nothing of the sample
