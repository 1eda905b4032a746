"""Open the rendered report in headless Chromium, offline: no network request, no console error, charts drawn.

The report's pages draw with the one Vega bundle of the folder (assets/vega.js) and its one stylesheet, also from a
copy of the folder; a standalone page (--single-file) draws on its own.

Full-page screenshots go to build/screenshots/ as artifacts.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from browser_util import CHROMIUM, visit

from finops_lib import report
from finops_lib.errors import FinopsError

FIXTURES = Path(__file__).parent / "data" / "report"
#: Page -> number of charts it must draw.
PAGES = {"index.html": 0, "report_fixture.html": 4, "failing_fixture.html": 0}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"headless Chromium not installed at {CHROMIUM}"),
]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the fixture report (one notebook fails on purpose) and return its folder."""
    out = tmp_path_factory.mktemp("browser_report")
    with pytest.raises(FinopsError):
        report.run_report(
            data_dir=tmp_path_factory.mktemp("data"),
            out_dir=out,
            parameters={"n_days": "14", "groups": "search,chat-assistant,batch-summaries"},
            notebooks=[FIXTURES / "report_fixture.ipynb", FIXTURES / "failing_fixture.ipynb"],
        )
    return out


@pytest.mark.parametrize(("name", "charts"), PAGES.items())
def test_page_renders_offline(report_dir: Path, browser: object, name: str, charts: int) -> None:
    seen = visit(browser, report_dir / name, charts=charts, screenshot=f"report_{Path(name).stem}")
    assert seen.network == [], f"network requests: {seen.network}"
    assert seen.errors == []
    assert len(seen.chart_sizes) == charts
    assert all(size and size[0] > 0 and size[1] > 0 for size in seen.chart_sizes), seen.chart_sizes
    local = [href for href in seen.links if not href.startswith(("#", "http:", "https:", "mailto:"))]
    assert all((report_dir / href.split("#")[0]).is_file() for href in local), local


def drawn(seen: object, charts: int) -> bool:
    sizes = seen.chart_sizes
    return len(sizes) == charts and all(size and size[0] > 0 and size[1] > 0 for size in sizes)


def test_pages_draw_from_the_shared_bundle_in_a_copy_of_the_folder(report_dir: Path, browser: object,
                                                                   tmp_path: Path) -> None:  # fmt: skip
    text = (report_dir / "report_fixture.html").read_text(encoding="utf-8")
    assert '<script src="assets/vega.js"' in text and "window.vegaEmbed=" not in text and "<style" not in text
    copy = shutil.copytree(report_dir, tmp_path / "a copy #1 of the report")
    seen = visit(browser, copy / "report_fixture.html", charts=4, screenshot="report_fixture_copy")
    assert seen.network == [] and seen.errors == []
    assert drawn(seen, 4) and seen.body_max_width == "1100px"


def test_standalone_page_draws_on_its_own(report_dir: Path, browser: object, tmp_path: Path) -> None:
    page = report.export_notebook(report_dir / "notebooks" / "report_fixture.ipynb", tmp_path / "alone.html")
    assert [path.name for path in tmp_path.iterdir()] == ["alone.html"]
    seen = visit(browser, page, charts=4, screenshot="report_fixture_standalone")
    assert seen.network == [] and seen.errors == []
    assert drawn(seen, 4) and seen.body_max_width == "1100px"
