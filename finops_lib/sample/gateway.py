"""Per-request traffic through the LiteLLM gateway, drawn one day at a time (vectorised).

Each day's requests are drawn as numpy arrays, handed to a writer callback (the CSV dump), and
reduced to daily aggregates per series, which the OpenAI/Anthropic invoices and the truth reuse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from finops_lib.sample.prices import TOKEN_TYPES, PriceBook
from finops_lib.sample.simulate import COUNT_COLUMNS, DIURNAL, USAGE_WINDOW, Profile, Timeline, daily_counts
from finops_lib.sample.story import SERIES, Series

GATEWAY_SERIES: tuple[Series, ...] = tuple(s for s in SERIES if s.channel == "gateway")
#: Log-scale spread of per-request prompt and completion sizes.
SIGMA_IN, SIGMA_OUT = 0.35, 0.5
_TOKEN_ARRAYS = ("input_uncached", "input_cache_read", "input_cache_write_5m", "input_cache_write_1h", "output")

DayBatch = dict[str, np.ndarray]


@dataclass
class GatewayResult:
    """What the gateway simulation returns besides the rows it streamed out."""

    daily: pd.DataFrame
    window: pd.DataFrame
    rows: int


def _lognormal(rng: np.random.Generator, mean: np.ndarray, sigma: float) -> np.ndarray:
    return rng.lognormal(np.log(mean) - sigma**2 / 2, sigma)


def _price_table(timeline: Timeline, book: PriceBook) -> np.ndarray:
    """Return USD per token, shape (series, day, token type)."""
    table = np.zeros((len(GATEWAY_SERIES), timeline.days, len(TOKEN_TYPES)))
    for i, s in enumerate(GATEWAY_SERIES):
        for d, day in enumerate(timeline.dates):
            for j, token_type in enumerate(TOKEN_TYPES):
                if book.has(s.provider, s.model, token_type, s.tier, "standard"):
                    table[i, d, j] = float(book.price(s.provider, s.model, token_type, s.tier, "standard", day)) / 1e6
    return table


def _draw_tokens(rng: np.random.Generator, s: Series, p: Profile, d: int, n: int) -> dict[str, np.ndarray]:
    total_in = np.maximum(1, np.rint(_lognormal(rng, np.full(n, s.in_mean * p.in_mult[d]), SIGMA_IN))).astype(np.int64)
    jitter = rng.uniform(0.85, 1.15, n)
    read = np.minimum(np.rint(total_in * p.read[d] * jitter), total_in).astype(np.int64)
    if s.provider == "openai":  # OpenAI caches prompts of 1024+ tokens in 128-token steps
        read = np.where(total_in >= 1024, read // 128 * 128, 0)
    w5 = np.minimum(np.rint(total_in * p.write_5m[d] * jitter), total_in - read).astype(np.int64)
    w1h = np.minimum(np.rint(total_in * p.write_1h[d] * jitter), total_in - read - w5).astype(np.int64)
    output = np.maximum(1, np.rint(_lognormal(rng, np.full(n, s.out_mean), SIGMA_OUT))).astype(np.int64)
    return {
        "input_uncached": total_in - read - w5 - w1h,
        "input_cache_read": read,
        "input_cache_write_5m": w5,
        "input_cache_write_1h": w1h,
        "output": output,
        "reasoning": np.rint(output * s.reasoning).astype(np.int64),
    }


def draw_day(timeline: Timeline, profiles: dict[str, Profile], counts: np.ndarray, prices: np.ndarray,
             d: int, *, seed: int) -> DayBatch:
    """Draw every gateway request of day ``d``, sorted by start time.

    Returns
    -------
    dict of numpy arrays
        ``series`` (index into :data:`GATEWAY_SERIES`), ``start_us`` (Unix microseconds), ``duration_ms``,
        ``failed``, the token arrays, ``spend`` (USD) and ``quality`` (NaN when not scored).
    """
    rng = np.random.default_rng([seed, 2, d])
    parts: list[DayBatch] = []
    for i, s in enumerate(GATEWAY_SERIES):
        n = int(counts[i, d])
        if n == 0:
            continue
        p = profiles[s.sid]
        tokens = _draw_tokens(rng, s, p, d, n)
        failed = rng.random(n) < p.fail_rate[d]
        for key in tokens:
            tokens[key] = np.where(failed, 0, tokens[key])
        hours = rng.choice(24, size=n, p=DIURNAL)
        start = timeline.epoch(d) * 1_000_000 + hours * 3_600_000_000 + rng.integers(0, 3_600_000_000, n)
        speed = rng.lognormal(0.0, 0.3, n)
        duration = np.where(failed, rng.integers(40, 3000, n), 300 + tokens["output"] * 14 * speed
                            + (tokens["input_uncached"] + tokens["input_cache_write_5m"]) * 0.02)
        spend = sum(tokens[k] * prices[i, d, j] for j, k in enumerate(_TOKEN_ARRAYS))
        quality = np.full(n, np.nan)
        if s.variant:
            mean, conc = s.quality
            quality = np.where(failed, np.nan, np.round(rng.beta(mean * conc, (1 - mean) * conc, n), 3))
        parts.append(
            {
                "series": np.full(n, i),
                "start_us": start,
                "duration_ms": np.rint(duration).astype(np.int64),
                "failed": failed,
                "spend": spend,
                "quality": quality,
                **tokens,
            }
        )
    if not parts:
        return {}
    batch = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    order = np.argsort(batch["start_us"], kind="stable")
    return {key: value[order] for key, value in batch.items()}


def _aggregate(batch: DayBatch, d: int, mask: np.ndarray | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({k: batch[k] for k in ("series", *COUNT_COLUMNS[1:])})
    frame["requests"] = (~batch["failed"]).astype(np.int64)
    if mask is not None:
        frame = frame[mask]
    out = frame.groupby("series", sort=True).sum().reset_index()
    out["sid"] = [GATEWAY_SERIES[i].sid for i in out["series"]]
    out["day"], out["context_tier"] = d, "standard"
    return out[["day", "sid", "context_tier", *COUNT_COLUMNS]]


def simulate_gateway(timeline: Timeline, profiles: dict[str, Profile], book: PriceBook, *, seed: int,
                     sink: Callable[[int, DayBatch], None]) -> GatewayResult:
    """Draw the gateway traffic day by day, stream each day to ``sink`` and return the aggregates.

    Returns
    -------
    GatewayResult
        ``daily``: per day and series (successful requests only); ``window``: the same for the parts
        of the first and last day inside the OpenAI usage query window.
    """
    counts = np.stack([daily_counts(profiles[s.sid], np.random.default_rng([seed, 3, k]))
                       for k, s in enumerate(GATEWAY_SERIES)])
    prices = _price_table(timeline, book)
    daily, window, rows = [], [], 0
    for d in range(timeline.days):
        batch = draw_day(timeline, profiles, counts, prices, d, seed=seed)
        if not batch:
            continue
        sink(d, batch)
        rows += batch["series"].size
        daily.append(_aggregate(batch, d))
        seconds = (batch["start_us"] // 1_000_000) - timeline.epoch(d)
        if d == 0:
            window.append(_aggregate(batch, d, seconds >= USAGE_WINDOW[0]))
        if d == timeline.days - 1:
            window.append(_aggregate(batch, d, seconds < USAGE_WINDOW[1]))
    empty = pd.DataFrame(columns=["day", "sid", "context_tier", *COUNT_COLUMNS])
    return GatewayResult(
        daily=pd.concat(daily, ignore_index=True) if daily else empty,
        window=pd.concat(window, ignore_index=True) if window else empty,
        rows=rows,
    )
