"""Every page of the sample report, and of a thin folder's report, read as a person sees it in Chromium: no table
wider than the page, no raw value (Python dict, local path, True/False, NaN, object repr, a dozen decimals,
e-notation) in the visible text, and each page opens with its answer. Screenshots go to build/screenshots/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_util import CHROMIUM, SCREENSHOTS
from readable import inspect_page
from thin_folders import build

from finops_lib.cli import main
from finops_lib.report import CATALOG

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"headless Chromium not installed at {CHROMIUM}"),
]
PAGES = ["index", *(entry.stem for entry in CATALOG)]


@pytest.fixture(scope="module")
def thin_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of twelve days of gateway logs only: most pages can only say what they cannot show."""
    root = tmp_path_factory.mktemp("readable")
    folder, _ = build("gateway_logs_10_days", root / "data")
    out = root / "report"
    assert main(["report", "--data", str(folder), "--out", str(out), "--warehouse", str(root / "ws")]) == 0
    return out


@pytest.mark.parametrize("page", PAGES)
def test_sample_pages_read_like_a_report(sample_report: Path, browser: object, page: str) -> None:
    seen = inspect_page(browser, sample_report / f"{page}.html", screenshot=SCREENSHOTS / f"readable_{page}.png")
    assert seen.overflowing == [], f"{page}: tables wider than the page: {seen.overflowing}"
    assert seen.raw == [], f"{page}: raw values a reader should not see: {seen.raw}"


@pytest.mark.parametrize("page", PAGES)
def test_thin_pages_say_what_they_cannot_show(thin_report: Path, browser: object, page: str) -> None:
    seen = inspect_page(browser, thin_report / f"{page}.html", screenshot=SCREENSHOTS / f"readable_thin_{page}.png")
    assert seen.overflowing == [] and seen.raw == [], (seen.overflowing, seen.raw)


def test_every_page_opens_with_its_answer(sample_report: Path, thin_report: Path) -> None:
    for report in (sample_report, thin_report):
        for entry in CATALOG:
            text = (report / f"{entry.stem}.html").read_text(encoding="utf-8")
            assert 'class="finops-findings"' in text, (report.name, entry.stem)
            # the answer comes before the first chart or table of the page
            first = min((i for i in (text.find('class="finops-vega"'), text.find("<table")) if i >= 0),
                        default=len(text))  # a thin page may hold only sentences
            assert text.find('class="finops-findings"') < first, (report.name, entry.stem)
        assert 'id="answer"' in (report / "index.html").read_text(encoding="utf-8")
