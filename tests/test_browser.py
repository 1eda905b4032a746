"""Open the rendered report in headless Chromium, offline: no network request, no console error, charts drawn.

Full-page screenshots go to build/screenshots/ as artifacts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from finops_lib import report
from finops_lib.errors import FinopsError
from finops_lib.paths import BUILD_DIR

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FIXTURES = Path(__file__).parent / "data" / "report"
SCREENSHOTS = BUILD_DIR / "screenshots"
#: Page -> number of charts it must draw.
PAGES = {"index.html": 0, "report_fixture.html": 4, "failing_fixture.html": 0}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"headless Chromium not installed at {CHROMIUM}"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

# Every chart container holds a drawn svg or canvas of non-zero size once vegaEmbed has run.
CHART_SIZES = """() => [...document.querySelectorAll('.finops-vega')].map(el => {
    const drawn = el.querySelector('svg, canvas');
    if (!drawn) { return null; }
    const box = drawn.getBoundingClientRect();
    return [box.width, box.height];
})"""


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


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.mark.parametrize(("name", "charts"), PAGES.items())
def test_page_renders_offline(report_dir: Path, browser: object, name: str, charts: int) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_offline(True)
    attempted: list[str] = []

    def only_files(route: object) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    context.route("**/*", only_files)
    page = context.new_page()
    errors: list[str] = []
    failed: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: failed.append(request.url))
    try:
        page.goto((report_dir / name).as_uri(), wait_until="load")
        if charts:
            page.wait_for_function(f"() => document.querySelectorAll('.finops-vega svg').length >= {charts}")
        sizes = page.evaluate(CHART_SIZES)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"report_{Path(name).stem}.png"), full_page=True)
        links = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    finally:
        context.close()
    assert attempted == [] and failed == [], f"network requests: {attempted + failed}"
    assert errors == []
    assert len(sizes) == charts
    assert all(size and size[0] > 0 and size[1] > 0 for size in sizes), sizes
    local = [href for href in links if not href.startswith(("#", "http:", "https:", "mailto:"))]
    assert all((report_dir / href.split("#")[0]).is_file() for href in local), local
