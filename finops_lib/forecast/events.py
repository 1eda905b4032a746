"""Known events: launches and price changes, as regressors of past days and effects on future ones."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from finops_lib.errors import SourceError
from finops_lib.forecast.models import Forecast

EVENT_KINDS: tuple[str, ...] = ("launch", "price_change", "other")


@dataclass(frozen=True)
class Event:
    """A known event: a launch or a price change on a day, for every series (``series`` empty) or one.

    ``effect_pct`` is the expected change of the series' spend from that day (``-25`` = a quarter less); it is
    needed for future events only: past events are step regressors whose size Prophet estimates.
    """

    day: date
    name: str
    kind: str = "launch"
    effect_pct: float | None = None
    series: str = ""

    def applies_to(self, series: str) -> bool:
        """Whether the event concerns ``series``."""
        return not self.series or self.series == series


def read_events(path: str | Path) -> list[Event]:
    """Read known events from a CSV: ``date, name, kind`` (launch, price_change, other), optional ``effect_pct``
    and ``series``.

    Raises
    ------
    SourceError
        Naming the file, line and column of a missing or malformed value.
    """  # noqa: D205
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"date", "name", "kind"} - set(reader.fieldnames or ())
        if missing:
            raise SourceError(path, f"missing column(s) {sorted(missing)}", line=1)
        return [_event(row, path, line) for line, row in enumerate(reader, start=2)]


def _event(row: dict[str, str], path: Path, line: int) -> Event:
    try:
        day = date.fromisoformat((row.get("date") or "").strip())
    except ValueError:
        raise SourceError(path, "not an ISO date", line=line, column="date", value=row.get("date")) from None
    kind = (row.get("kind") or "").strip()
    if kind not in EVENT_KINDS:
        raise SourceError(path, f"kind must be one of {', '.join(EVENT_KINDS)}", line=line, column="kind", value=kind)
    text = (row.get("effect_pct") or "").strip()
    try:
        effect = float(text) if text else None
    except ValueError:
        raise SourceError(path, "not a number", line=line, column="effect_pct", value=text) from None
    if effect is not None and effect <= -100:
        raise SourceError(path, "must be above -100", line=line, column="effect_pct", value=text)
    return Event(day, (row.get("name") or "").strip() or kind, kind, effect, (row.get("series") or "").strip())


def catalog_events(catalog: Any, *, start: str | date, end: str | date | None = None) -> list[Event]:
    """Return the catalog's price changes in [start, end] as ``price_change`` events for the model's series.

    A change is a catalog row whose price differs from the previous row of the same provider, model, bucket and
    tiers. The event's ``effect_pct`` is left empty: the effect on a model's spend depends on its token mix (set
    it to apply a future change; past changes are estimated by Prophet).

    Examples
    --------
    >>> from finops_lib import pricing as prices
    >>> [e.name for e in catalog_events(prices.load_catalog(prices.SAMPLE_OVERLAY), start="2026-05-01")]
    ['Google gemini-2.5-flash output -25%']
    """
    frame = catalog.prices.copy()
    frame["effective_from"] = pd.to_datetime(frame["effective_from"]).dt.date
    keys = ["provider", "model", "token_type", "service_tier", "context_tier", "deployment"]
    frame = frame.sort_values([*keys, "effective_from"], kind="stable")
    frame["previous"] = frame.groupby(keys, dropna=False)["price_per_1m"].shift()
    lo, hi = pd.Timestamp(start).date(), pd.Timestamp(end).date() if end else date.max
    changed = frame[frame["previous"].notna() & (frame["price_per_1m"] != frame["previous"])
                    & frame["effective_from"].between(lo, hi)]  # fmt: skip
    events = []
    for row in changed.itertuples():
        pct = (float(row.price_per_1m) / float(row.previous) - 1) * 100 if float(row.previous) else float("inf")
        events.append(Event(row.effective_from, f"{row.provider} {row.model} {row.token_type} {pct:+.0f}%",
                            "price_change", None, str(row.model)))  # fmt: skip
    return events


def event_regressors(events: Iterable[Event], history: pd.Series, steps: int, *, series: str = "") -> pd.DataFrame:
    """Return step regressors (0 before, 1 from the day) of the past events of ``series`` (none: empty frame).

    Only events with at least 3 history days on each side are kept: Prophet cannot size a step it has not seen.
    """
    days = pd.date_range(history.index[0], periods=len(history) + steps, freq="D")
    last = history.index[-1]
    cols = {}
    for event in events:
        when = pd.Timestamp(event.day)
        if event.applies_to(series) and history.index[0] + pd.Timedelta(days=3) <= when <= last - pd.Timedelta(days=2):
            cols[f"event {event.name}"] = (days >= when).astype(float)
    return pd.DataFrame(cols, index=days)


def apply_events(forecast: Forecast, events: Iterable[Event], *, series: str = "") -> Forecast:
    """Scale a forecast from each future event's day by ``1 + effect_pct / 100`` (events without an effect: none).

    Examples
    --------
    >>> days = pd.date_range("2026-01-01", periods=4)
    >>> fc = Forecast(pd.DataFrame({"forecast": 10.0, "lower": 8.0, "upper": 12.0}, index=days), model="x")
    >>> apply_events(fc, [Event(date(2026, 1, 3), "cut", "price_change", -50.0)]).frame["forecast"].tolist()
    [10.0, 10.0, 5.0, 5.0]
    """
    factor = np.ones(len(forecast.frame))
    applied = []
    for event in events:
        if event.effect_pct is not None and event.applies_to(series):
            hit = forecast.frame.index >= pd.Timestamp(event.day)
            if hit.any():
                factor[hit] *= 1 + event.effect_pct / 100
                applied.append(f"{event.name} ({event.effect_pct:+g}%)")
    if not applied:
        return forecast
    frame = forecast.frame.mul(factor, axis=0)
    samples, raw = (None if s is None else s * factor[:, None] for s in (forecast.samples, forecast.samples_raw))
    note = "; ".join(filter(None, [forecast.note, "events applied: " + ", ".join(applied)]))
    return replace(forecast, frame=frame, samples=samples, samples_raw=raw, note=note)
