"""The whole catalog in the real report on the sample: every page opened offline in headless Chromium, and one
set of numbers across the index and the pages.

Each page must have run (status ok), draw at least its number of charts, log no console error and request nothing
from the network. Full-page screenshots go to build/screenshots/. The period's spend on the index is the
overview's spend, the attribution's allocated total, the reconciliation's invoiced total, the forecast's history
and the anomaly review's series, to the cent, and so is `finops chargeback` summed over its rows.
"""

from __future__ import annotations

import csv
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from browser_util import CHROMIUM, visit

from finops_lib.report import folders
from finops_lib.report.spend import period_spend

#: Notebook -> charts its page draws at least, on the sample with default parameters.
PAGES = {"00_data_overview": 6, "10_cost_attribution": 6, "20_experiment_comparison": 6, "30_spend_forecast": 3,
         "40_anomaly_review": 3, "50_reconciliation": 6, "60_feature_cost": 3}  # fmt: skip
CENT = Decimal("0.01")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"headless Chromium not installed at {CHROMIUM}"),
]


@pytest.fixture(scope="module")
def report_dir(sample_report: Path) -> Path:
    """The report run once per session on the sample with its defaults (conftest)."""
    return sample_report


def results(report_dir: Path, name: str) -> dict:
    return json.loads((report_dir / name / "results.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("name", "charts"), PAGES.items())
def test_catalog_page_renders_offline(report_dir: Path, browser: object, name: str, charts: int) -> None:
    index = (report_dir / "index.html").read_text(encoding="utf-8")
    assert f"{name}.html" in index
    seen = visit(browser, report_dir / f"{name}.html", charts=charts, screenshot=f"catalog_{name}")
    assert seen.network == [], f"network requests: {seen.network}"
    assert seen.errors == []
    assert len(seen.chart_sizes) >= charts
    assert all(size and size[0] > 0 and size[1] > 0 for size in seen.chart_sizes), seen.chart_sizes
    assert (report_dir / name / "results.json").is_file()


def test_pages_share_one_bundle_and_the_folder_stays_small(report_dir: Path) -> None:
    for name in PAGES:
        text = (report_dir / f"{name}.html").read_text(encoding="utf-8")
        assert "window.vegaEmbed=" not in text and text.count('src="assets/vega.js"') == 1, name
    size = folders.folder_bytes(report_dir, exclude=("notebooks",))
    assert size < 3_000_000, f"{size:,} bytes without the executed notebooks"


def test_one_figure_for_the_period_on_the_index_and_every_page(report_dir: Path, browser: object) -> None:
    from finops_lib import paths

    spend = Decimal(period_spend(paths.SAMPLE_DIR, {})["total"])
    text = f"${spend.quantize(CENT):,.2f}"
    index = (report_dir / "index.html").read_text(encoding="utf-8")
    assert re.search(rf"<dt>Spend \(USD\), 2026-05-05 to 2026-10-31</dt><dd>{re.escape(text)}</dd>", index)
    seen = visit(browser, report_dir / "index.html", charts=0, screenshot="catalog_index")
    assert seen.errors == [] and seen.network == []
    overview, attribution = results(report_dir, "00_data_overview"), results(report_dir, "10_cost_attribution")
    reconciliation, forecast = results(report_dir, "50_reconciliation"), results(report_dir, "30_spend_forecast")
    anomalies = results(report_dir, "40_anomaly_review")
    assert Decimal(overview["total_spend"]["USD"]) == spend and overview["headline"]["Spend (USD)"] == text
    assert Decimal(attribution["input_total"]["USD"]) == Decimal(attribution["allocated_total"]["USD"]) == spend
    assert attribution["headline"]["Allocated (USD)"] == text
    assert Decimal(reconciliation["invoiced_total"]) == spend and reconciliation["headline"]["Invoiced (USD)"] == text
    assert Decimal(forecast["actual_total"]) == spend and Decimal(forecast["actuals"]["total"]) == spend.quantize(CENT)
    assert Decimal(anomalies["spend_total"]) == spend and Decimal(anomalies["series_total"]) == spend.quantize(CENT)


def test_finops_chargeback_of_the_sample_sums_to_the_index_figure(report_dir: Path, sample_warehouse: Path,
                                                                  tmp_path: Path) -> None:  # fmt: skip
    from finops_lib import paths
    from finops_lib.cli import main

    out = tmp_path / "chargeback.csv"
    assert main(["chargeback", "--data", str(paths.SAMPLE_DIR), "--warehouse", str(sample_warehouse),
                 "--out", str(out)]) == 0  # fmt: skip
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["currency"] for row in rows} == {"USD"}
    index = (report_dir / "index.html").read_text(encoding="utf-8")
    shown = re.search(r"<dt>Spend \(USD\), 2026-05-05 to 2026-10-31</dt><dd>\$([0-9,.]+)</dd>", index)
    assert shown and sum(Decimal(row["total"]) for row in rows) == Decimal(shown.group(1).replace(",", ""))


def test_nothing_shared_tells_the_machine_s_folder_layout(report_dir: Path) -> None:
    """Pages, index, results, the run's metadata, executed notebooks and kernel logs show paths relative
    (data/sample), never the machine's own: the report folder may be mailed."""
    import sys

    from finops_lib import engine, paths

    machine = [str(paths.PROJECT_ROOT), sys.executable, str(engine.scratch_dir()), str(report_dir)]
    shared = [p for p in report_dir.rglob("*") if p.is_file() and p.suffix in (".html", ".json", ".ipynb", ".log")]
    assert len(shared) >= 26  # six pages, results, notebooks and kernel logs, the index and report.json
    for path in shared:
        text = path.read_text(encoding="utf-8")
        assert not [m for m in machine if m in text], path
    meta = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    assert meta["data_dir"] == "data/sample" and "/" not in meta["python"]
    assert results(report_dir, "10_cost_attribution")["rules"] == "data/sample/config/allocation_rules.yaml"
    ran = json.loads((report_dir / "notebooks" / "00_data_overview.ipynb").read_text(encoding="utf-8"))
    assert ran["metadata"]["papermill"]["input_path"] == "notebooks/00_data_overview.ipynb"
