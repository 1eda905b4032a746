"""The analysis notebooks of the catalog in the real report on the sample, opened offline in headless Chromium.

Each page must have run (status ok), draw at least its number of charts, log no console error and request
nothing from the network. Full-page screenshots go to build/screenshots/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_util import CHROMIUM, visit

from finops_lib import report

#: Notebook -> charts its page draws on the sample with default parameters.
PAGES = {"20_experiment_comparison": 6, "30_spend_forecast": 3, "40_anomaly_review": 3}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"headless Chromium not installed at {CHROMIUM}"),
]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("catalog_report")
    report.run_report(out_dir=out, notebooks=list(PAGES))
    return out


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
