"""Read what a widget view shows: its headline and its charts (the view's ``drawn`` list)."""

from __future__ import annotations

import re
from html import unescape

import altair as alt


def show(box: object) -> list[object]:
    """Make the view believe a front end shows it (it draws), and return what it drew."""
    output = box.children[-1]
    output._view_count = 1
    return list(box.drawn)


def headline(drawn: list[object]) -> dict[str, str]:
    """Return the view's headline as ``{label: value}``."""
    text = unescape(drawn[0].data)
    return dict(re.findall(r"<b>([^<]+)</b>: ([^<&]+?)(?= &middot;|</p>| ·)", text.replace("&middot;", " ·")))


def charts(drawn: list[object]) -> list[dict]:
    """Return the Vega-Lite specs of the charts drawn."""
    return [item.to_dict() for item in drawn if isinstance(item, alt.TopLevelMixin)]


def title(spec: dict) -> str:
    """Return a chart's title text (Altair writes a dict when there is a subtitle)."""
    value = spec.get("title", "")
    return value.get("text", "") if isinstance(value, dict) else str(value)
