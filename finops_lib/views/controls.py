"""Shared wiring of the notebooks' ipywidgets controls."""

from __future__ import annotations

from datetime import date


def parse_day(value: str) -> date | None:
    """Return an ISO day as a date, None for an empty text."""
    return date.fromisoformat(value) if value else None
