"""Vendor meter, SKU and usage-type strings -> model, token bucket, tier, context, deployment.

Every vendor writes what was consumed into one free-form string: AWS Bedrock's ``line_item_usage_type``
(``USE1-Claude4.6Sonnet-input-tokens-batch``), Azure's meter name (``GPT 4o mini Cd Inp Glbl 1M Tokens``),
GCP's ``sku.description`` (``Gemini 2.5 Flash GA Thinking Text Output - Predictions``), OpenAI's costs
``line_item`` (``batch | gpt-4.1-2025-04-14, input``), Anthropic's cost ``description``
(``Claude Sonnet 4.5 Usage - Input Tokens``) and Pinecone's hosted inference SKUs (``Embedding tokens:
multilingual-e5-large``). :func:`parse_meter` is the one place that reads them;
one module per vendor registers its parser with :func:`register_meter`.

Parsers are strict: a string whose every word is not understood comes back with ``parsed=False``
and all other fields None, never a guess. Model ids follow :func:`finops_lib.models.canonical_model`;
a meter without a snapshot date gives the family id (``claude-sonnet-4-6``, ``gpt-4o-mini``), and
Azure's ``0718``-style version maps to a date only through an explicit table of known versions.
A parsed token meter always has ``service_tier`` and ``context_tier`` (``standard`` unless the string
says otherwise); ``deployment``, ``modality`` and ``region`` are set only when the string says so.

Examples
--------
>>> m = parse_meter("USE1-Claude3-5Haiku-cache-read-input-token-count")
>>> m.model, m.token_type, m.region
('claude-3-5-haiku', 'input_cache_read', 'us-east-1')
>>> parse_meter("gpt-4o-0806-cached-Inp-glbl", provider="azure").model
'gpt-4o-2024-08-06'
>>> parse_meter("no idea what this is").parsed
False
"""

from __future__ import annotations

from finops_lib.meters import anthropic, aws, azure, gcp, openai, pinecone  # noqa: F401  (registers the parsers)
from finops_lib.meters._core import MAX_LENGTH, PARSERS, PROVIDER_ALIASES, Meter, register_meter, unparsed

__all__ = ["PARSERS", "Meter", "parse_meter", "register_meter"]


def _as_text(text: object) -> str:
    if isinstance(text, str):
        return text
    if text is None:
        return ""
    try:
        return str(text)
    except Exception:  # an object whose __str__ fails is simply not a meter
        return ""


def _run(parser_key: str, raw: str) -> Meter | None:
    try:
        return PARSERS[parser_key](raw)
    except Exception:  # a parser bug must not escape: the string counts as unknown
        return None


def parse_meter(text: str, provider: str | None = None) -> Meter:
    """Parse a vendor meter / SKU / usage-type string; never raises.

    Parameters
    ----------
    text
        The string as the vendor wrote it (kept unchanged in ``Meter.raw``).
    provider
        ``aws``, ``azure``, ``gcp``, ``openai``, ``anthropic`` or ``pinecone`` (aliases such as ``bedrock``,
        ``google`` are accepted); None tries every parser. An unknown provider gives an unparsed meter.

    Returns
    -------
    Meter
        ``parsed=False`` (every other field None) when the string is not understood.

    Examples
    --------
    >>> m = parse_meter("Gemini 2.5 Pro GA Long Context Text Input - Predictions", provider="gcp")
    >>> m.model, m.token_type, m.context_tier, m.modality
    ('gemini-2.5-pro', 'input_uncached', 'long', 'text')
    """
    raw = _as_text(text)
    if not raw.strip() or len(raw) > MAX_LENGTH:
        return unparsed(raw)
    if provider is None:
        keys = list(PARSERS)
    else:
        key = _as_text(provider).strip().lower()
        keys = [PROVIDER_ALIASES.get(key, key)]
    for key in keys:
        if key in PARSERS:
            meter = _run(key, raw)
            if meter is not None and meter.parsed:
                return meter
    return unparsed(raw)
