"""Page envelopes shared by the OpenAI and Anthropic admin APIs."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from finops_lib.sample._io import Manifest, dumps_json

#: Buckets per page (the APIs' maximum for 1-day buckets).
PAGE_SIZE: int = 31


def cursor(start: str) -> str:
    """Return an opaque page cursor for the page starting at ``start`` (as the Anthropic docs show)."""
    return "page_" + base64.b64encode(start.encode()).decode()


def write_pages(manifest: Manifest, stem: str, buckets: list[dict[str, Any]], *, fmt: str,
                envelope: Callable[[list[dict[str, Any]], bool, str | None], dict[str, Any]],
                start_key: Callable[[dict[str, Any]], str]) -> None:  # fmt: skip
    """Split buckets into pages ``<stem>_NNN.json`` chained by ``next_page`` cursors."""
    chunks = [buckets[i : i + PAGE_SIZE] for i in range(0, len(buckets), PAGE_SIZE)] or [[]]
    for number, chunk in enumerate(chunks, start=1):
        more = number < len(chunks)
        nxt = cursor(start_key(chunks[number][0])) if more else None
        page = envelope(chunk, more, nxt)
        rows = sum(len(b["results"]) for b in chunk)
        manifest.write_text(f"{stem}_{number:03d}.json", dumps_json(page) + "\n", fmt=fmt, rows=rows)
