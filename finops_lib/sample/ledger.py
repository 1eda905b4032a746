"""Price the simulated usage exactly: one row per day, series, context tier and token type."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from finops_lib.registry import Registry
from finops_lib.sample._io import Manifest
from finops_lib.sample.prices import TOKEN_TYPES, PriceBook
from finops_lib.sample.simulate import Timeline
from finops_lib.sample.story import SERIES_BY_ID

#: Decimal context for money: wide enough that every product and sum here is exact.
MONEY = decimal.Context(prec=60)
MILLION = Decimal(1_000_000)


@dataclass
class World:
    """Everything the writers need: period, prices, usage aggregates and options."""

    timeline: Timeline
    book: PriceBook
    usage: pd.DataFrame
    openai_window: pd.DataFrame
    ledger: pd.DataFrame
    scale: float
    seed: int


def token_cost(tokens: int, price_per_1m: Decimal) -> Decimal:
    """Return the exact cost of ``tokens`` at a price per 1M tokens."""
    return MONEY.divide(MONEY.multiply(Decimal(int(tokens)), price_per_1m), MILLION)


def build_ledger(usage: pd.DataFrame, timeline: Timeline, book: PriceBook) -> pd.DataFrame:
    """Explode daily usage into priced token lines.

    Parameters
    ----------
    usage
        Daily aggregates (``day, sid, context_tier`` and token counts).
    timeline, book
        The period and the true price list.

    Returns
    -------
    pandas.DataFrame
        ``day, sid, context_tier, token_type, tokens, price, cost`` (``price`` and ``cost`` are
        :class:`~decimal.Decimal` in billing currency); lines with zero tokens are left out.
    """
    dates = timeline.dates
    rows = []
    for rec in usage.itertuples(index=False):
        s = SERIES_BY_ID[rec.sid]
        for token_type in TOKEN_TYPES:
            tokens = int(getattr(rec, token_type))
            if tokens == 0:
                continue
            price = book.price(s.provider, s.model, token_type, s.tier, rec.context_tier, dates[rec.day])
            rows.append((rec.day, rec.sid, rec.context_tier, token_type, tokens, price, token_cost(tokens, price)))
    return pd.DataFrame(rows, columns=["day", "sid", "context_tier", "token_type", "tokens", "price", "cost"])


def dsum(values: object) -> Decimal:
    """Exact sum of Decimals."""
    total = Decimal(0)
    for value in values:  # type: ignore[attr-defined]
        total = MONEY.add(total, value)
    return total


WriterFn = Callable[["World", Manifest], None]
#: Registered vendor-format writers, run in registration order.
WRITERS: Registry[WriterFn] = Registry("sample writer")


def register_writer(name: str) -> Callable[[WriterFn], WriterFn]:
    """Register a function that writes one vendor's files from the :class:`World`."""
    return WRITERS.register(name)


def attach(frame: pd.DataFrame, *, provider: str | None = None) -> pd.DataFrame:
    """Return a copy of ``frame`` with the series' attributes (provider, team, ids ...) as columns.

    With ``provider``, only that provider's rows are kept (selected before the attributes are built).
    """
    if provider is not None:
        frame = frame[[SERIES_BY_ID[sid].provider == provider for sid in frame["sid"]]]
    out = frame.copy()
    series = [SERIES_BY_ID[sid] for sid in out["sid"]]
    for name in ("provider", "model", "team", "app", "feature", "env", "tier", "channel"):
        out[name] = [getattr(s, name) for s in series]
    keys = sorted({k for s in series for k in s.where})
    for key in keys:
        out[f"w_{key}"] = [s.where.get(key, "") for s in series]
    out["tagged"] = [s.tagged for s in series]
    return out


def iso_day(day: dt.date) -> str:
    """Return midnight UTC of ``day`` as RFC-3339 text (``2026-05-05T00:00:00Z``)."""
    return f"{day.isoformat()}T00:00:00Z"
