"""Open a report page in headless Chromium, offline, and say what happened (shared by the browser tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
SCREENSHOTS = BUILD_DIR / "screenshots"

# Every chart container holds a drawn svg or canvas of non-zero size once vegaEmbed has run.
CHART_SIZES = """() => [...document.querySelectorAll('.finops-vega')].map(el => {
    const drawn = el.querySelector('svg, canvas');
    if (!drawn) { return null; }
    const box = drawn.getBoundingClientRect();
    return [box.width, box.height];
})"""


@dataclass
class PageVisit:
    """What a page did when opened offline."""

    network: list[str]
    errors: list[str]
    chart_sizes: list
    links: list[str]
    #: ``max-width`` of the body: 1100px when the report's stylesheet (inline or assets/report.css) applies.
    body_max_width: str


def files_only(context: object) -> list[str]:
    """Let ``context`` load ``file:`` URLs only: any other request is aborted and its URL recorded in the list."""
    attempted: list[str] = []

    def only_files(route: object) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    context.route("**/*", only_files)
    return attempted


def visit(browser: object, path: Path, *, charts: int, screenshot: str) -> PageVisit:
    """Open ``path`` offline (every non-file request aborted and recorded), wait for ``charts`` drawn charts."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_offline(True)
    attempted = files_only(context)
    page = context.new_page()
    errors: list[str] = []
    failed: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: failed.append(request.url))
    try:
        page.goto(path.as_uri(), wait_until="load")
        if charts:
            page.wait_for_function(f"() => document.querySelectorAll('.finops-vega svg').length >= {charts}")
        sizes = page.evaluate(CHART_SIZES)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{screenshot}.png"), full_page=True)
        links = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
        width = page.evaluate("() => getComputedStyle(document.body).maxWidth")
    finally:
        context.close()
    return PageVisit(attempted + failed, errors, sizes, links, width)
