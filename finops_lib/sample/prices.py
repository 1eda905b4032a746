"""The world's true price list (public list prices per 1M tokens), as data.

Prices are list prices in USD per 1M tokens (Azure OpenAI: billed in EUR at the fixed rate in
:data:`USD_TO_EUR`). Batch tiers are derived at 50% of the standard rate; Anthropic cache writes are
1.25x (5-minute) and 2x (1-hour) the input rate. Gemini 2.5 Pro has a long-context tier
(prompts above 200k tokens: the whole request is billed at the long rate).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

#: Fixed exchange rate used by the Azure EA billing (pricing currency USD to billing currency EUR).
USD_TO_EUR: Decimal = Decimal("0.92")
#: Day from which the base price list applies.
PRICE_LIST_START: dt.date = dt.date(2025, 1, 1)
#: Token types of the truth (disjoint buckets; reasoning is a subset of output, billed as output).
TOKEN_TYPES: tuple[str, ...] = (
    "input_uncached",
    "input_cache_read",
    "input_cache_write_5m",
    "input_cache_write_1h",
    "output",
)

# provider, model, input, cache read, cache write 5m, cache write 1h, output (USD per 1M; "" = n/a)
_BASE: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("openai", "gpt-4o-2024-08-06", "2.50", "1.25", "", "", "10.00"),
    ("openai", "gpt-4o-mini-2024-07-18", "0.15", "0.075", "", "", "0.60"),
    ("openai", "gpt-4.1-2025-04-14", "2.00", "0.50", "", "", "8.00"),
    ("openai", "gpt-5-mini-2025-08-07", "0.25", "0.025", "", "", "2.00"),
    ("openai", "text-embedding-3-small", "0.02", "", "", "", ""),
    ("anthropic", "claude-sonnet-4-5-20250929", "3.00", "0.30", "3.75", "6.00", "15.00"),
    ("anthropic", "claude-haiku-4-5-20251001", "1.00", "0.10", "1.25", "2.00", "5.00"),
    ("anthropic", "claude-opus-4-1-20250805", "15.00", "1.50", "18.75", "30.00", "75.00"),
    ("aws_bedrock", "anthropic.claude-3-5-haiku-20241022-v1:0", "0.80", "0.08", "1.00", "", "4.00"),
    ("aws_bedrock", "meta.llama3-3-70b-instruct-v1:0", "0.72", "", "", "", "0.72"),
    ("aws_bedrock", "amazon.nova-pro-v1:0", "0.80", "0.20", "", "", "3.20"),
    ("azure_openai", "gpt-4o-2024-08-06", "2.50", "1.25", "", "", "10.00"),
    ("azure_openai", "gpt-4o-mini-2024-07-18", "0.15", "0.075", "", "", "0.60"),
    ("gcp_vertex", "gemini-2.5-flash", "0.30", "0.03", "", "", "2.50"),
    ("gcp_vertex", "gemini-2.5-pro", "1.25", "0.125", "", "", "10.00"),
)
#: Gemini 2.5 Pro above 200k prompt tokens (input, cache read, output).
_LONG: dict[str, tuple[str, str, str]] = {"gemini-2.5-pro": ("2.50", "0.25", "15.00")}
#: Models sold at 50% through a batch API (input and output only).
_BATCH: frozenset[tuple[str, str]] = frozenset(
    {
        ("openai", "gpt-4.1-2025-04-14"),
        ("openai", "gpt-4o-mini-2024-07-18"),
        ("anthropic", "claude-sonnet-4-5-20250929"),
        ("aws_bedrock", "amazon.nova-pro-v1:0"),
    }
)
#: Azure OpenAI provisioned throughput: USD per PTU-hour (the organisation's reserved effective rate).
PTU_HOUR_USD: Decimal = Decimal("0.25")


@dataclass(frozen=True)
class PriceRow:
    """One effective-dated price (per 1M tokens, or per hour for provisioned units)."""

    provider: str
    model: str
    token_type: str
    service_tier: str
    context_tier: str
    price_per_1m: Decimal
    currency: str
    effective_from: dt.date
    effective_to: dt.date | None


@dataclass(frozen=True)
class PriceCut:
    """A vendor price change from a date: the price is multiplied by ``factor``."""

    provider: str
    model: str
    token_type: str
    factor: Decimal
    effective_from: dt.date


def _currency_rate(provider: str) -> tuple[str, Decimal]:
    return ("EUR", USD_TO_EUR) if provider == "azure_openai" else ("USD", Decimal(1))


def _base_rows() -> list[tuple[str, str, str, str, str, Decimal]]:
    rows: list[tuple[str, str, str, str, str, Decimal]] = []
    for provider, model, *prices in _BASE:
        for token_type, price in zip(TOKEN_TYPES, [prices[0], *prices[1:]], strict=True):
            if price:
                rows.append((provider, model, token_type, "standard", "standard", Decimal(price)))
        if (provider, model) in _BATCH:
            rows.append((provider, model, "input_uncached", "batch", "standard", Decimal(prices[0]) / 2))
            rows.append((provider, model, "output", "batch", "standard", Decimal(prices[4]) / 2))
        if model in _LONG:
            long_types = ("input_uncached", "input_cache_read", "output")
            for token_type, price in zip(long_types, _LONG[model], strict=True):
                rows.append((provider, model, token_type, "standard", "long", Decimal(price)))
    return rows


def build_price_list(cuts: list[PriceCut]) -> list[PriceRow]:
    """Return the full effective-dated price list in billing currency.

    Parameters
    ----------
    cuts
        Price changes to apply from their dates (all context tiers and service tiers of the token type).

    Returns
    -------
    list of PriceRow
        One row per provider, model, token type, service tier, context tier and validity period.
    """
    out: list[PriceRow] = []
    for provider, model, token_type, tier, ctx, usd in _base_rows():
        currency, rate = _currency_rate(provider)
        price = usd * rate
        start = PRICE_LIST_START
        for cut in cuts:
            if (cut.provider, cut.model, cut.token_type) == (provider, model, token_type):
                out.append(PriceRow(provider, model, token_type, tier, ctx, price, currency, start, cut.effective_from))
                price, start = price * cut.factor, cut.effective_from
        out.append(PriceRow(provider, model, token_type, tier, ctx, price, currency, start, None))
    ptu = PTU_HOUR_USD * USD_TO_EUR
    out.append(PriceRow("azure_openai", "", "provisioned_hour", "provisioned", "standard", ptu, "EUR",
                        PRICE_LIST_START, None))  # fmt: skip
    return out


class PriceBook:
    """Look up the true price of a token type on a day (billing currency and USD).

    Parameters
    ----------
    rows
        The effective-dated price list from :func:`build_price_list`.
    """

    def __init__(self, rows: list[PriceRow]) -> None:
        self.rows = rows
        self._index: dict[tuple[str, str, str, str, str], list[PriceRow]] = {}
        for row in rows:
            key = (row.provider, row.model, row.token_type, row.service_tier, row.context_tier)
            self._index.setdefault(key, []).append(row)

    def price(self, provider: str, model: str, token_type: str, tier: str, ctx: str, day: dt.date) -> Decimal:
        """Return the billing-currency price per 1M tokens (per hour for provisioned units).

        Raises
        ------
        KeyError
            When no price is defined for the combination on that day.
        """
        for row in self._index[(provider, model, token_type, tier, ctx)]:
            if row.effective_from <= day and (row.effective_to is None or day < row.effective_to):
                return row.price_per_1m
        raise KeyError((provider, model, token_type, tier, ctx, day))

    def has(self, provider: str, model: str, token_type: str, tier: str, ctx: str) -> bool:
        """Return whether a price exists for the combination."""
        return (provider, model, token_type, tier, ctx) in self._index

    @staticmethod
    def to_usd(provider: str, amount: Decimal) -> Decimal:
        """Convert a billing-currency amount to USD (exact for the fixed Azure rate)."""
        return amount / USD_TO_EUR if provider == "azure_openai" else amount
