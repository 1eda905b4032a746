"""What a reader sees on a report page, checked in headless Chromium: tables within the page, no raw values.

Shared by ``tests/test_report_readable.py``: :func:`inspect_page` opens one HTML page offline and returns the tables
wider than their container and the lines of visible text that show something no reader should see (a Python dict,
a local file path, True/False, NaN, an object repr, a number with a dozen decimals, a p-value in e-notation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# Each pattern names what it catches; applied to the page's visible text (innerText), line by line.
RAW_TEXT: dict[str, re.Pattern[str]] = {
    "python dict": re.compile(r"\{'[^']*': |\{\"[^\"]*\": "),
    "local path": re.compile(r"(?<![\w.])/(?:work|tmp|home|root|usr|var)/[\w./-]+"),
    "boolean": re.compile(r"(?<![\w-])(?:True|False)(?![\w-])"),
    "NaN": re.compile(r"(?<![\w-])(?:NaN|nan|NaT|None)(?![\w-])"),
    "object repr": re.compile(r"<[\w.]+ (?:object )?at 0x[0-9a-f]+>|Styler at 0x"),
    # six or more significant digits after the point (not the seconds of a timestamp shown as data)
    "long decimals": re.compile(r"(?<![:\d])\d+\.0*[1-9]\d{5,}(?![\dZ])"),
    "e-notation": re.compile(r"\d(?:\.\d+)?e-\d{2}"),
}

TABLES = """() => [...document.querySelectorAll('table')].map((t, i) => {
    const parent = t.closest('.jp-OutputArea-output, .output_html, .jp-RenderedHTMLCommon, body') || document.body;
    const box = t.getBoundingClientRect(), frame = parent.getBoundingClientRect();
    const caption = t.querySelector('caption');
    return {index: i, width: Math.round(box.width), room: Math.round(frame.width),
            right: Math.round(box.right), edge: Math.round(frame.right),
            caption: caption ? caption.innerText.slice(0, 80) : ''};
})"""


@dataclass
class Reading:
    """What one page showed: tables wider than their container, and raw values in its text."""

    overflowing: list[dict]
    raw: list[tuple[str, str]]


def raw_values(text: str) -> list[tuple[str, str]]:
    """Return (what, line) for every line of ``text`` showing a raw value (:data:`RAW_TEXT`).

    Examples
    --------
    >>> raw_values("Spend $1,234.56\\nParameters: {'a': 1}\\np = 1.9e-39")
    [('python dict', "Parameters: {'a': 1}"), ('e-notation', 'p = 1.9e-39')]
    """
    found = []
    for line in text.splitlines():
        for what, pattern in RAW_TEXT.items():
            if pattern.search(line):
                found.append((what, line.strip()[:200]))
                break
    return found


def inspect_page(browser: object, path: Path, *, screenshot: Path | None = None) -> Reading:
    """Open ``path`` offline at a 1200-pixel-wide window; return its overflowing tables and raw text."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_offline(True)
    page = context.new_page()
    page.goto(path.resolve().as_uri())
    page.wait_for_timeout(500)
    tables = page.evaluate(TABLES)
    text = page.evaluate("() => document.body.innerText")
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    context.close()
    overflowing = [t for t in tables if t["width"] > t["room"] + 1 or t["right"] > t["edge"] + 1]
    return Reading(overflowing, raw_values(text))
