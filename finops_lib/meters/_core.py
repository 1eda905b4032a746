"""The :class:`Meter` record, the vendor-parser registry and helpers shared by the vendor modules."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from finops_lib.registry import Registry

#: Longest string a parser looks at; anything longer is not a meter name.
MAX_LENGTH = 400


@dataclass(frozen=True)
class Meter:
    """What a vendor's meter / SKU / usage-type string says about the charge.

    Attributes
    ----------
    raw
        The string as given.
    model
        Canonical model id (:func:`finops_lib.models.canonical_model` style, lower case); None if not a model
        meter (e.g. provisioned-throughput hours).
    token_type
        Key of ``schema.TOKEN_TYPES``: ``input_uncached``, ``input_cache_read``, ``input_cache_write_5m``,
        ``input_cache_write_1h``, ``output`` or ``non_token``.
    service_tier
        ``standard``, ``batch``, ``priority``, ``flex`` or ``provisioned``.
    context_tier
        ``standard`` or ``long``.
    deployment
        ``global``, ``data_zone``, ``regional`` or ``cross_region`` when the string says so.
    modality
        ``text``, ``audio``, ``image`` or ``video`` when the string says so.
    region
        Region code when the string carries one (``USE1`` -> ``us-east-1``).
    thinking
        Output billed as thinking / reasoning (still the ``output`` bucket).
    parsed
        False for an unknown string: every other field is then None (and ``thinking`` False).
    """

    raw: str
    model: str | None = None
    token_type: str | None = None
    service_tier: str | None = None
    context_tier: str | None = None
    deployment: str | None = None
    modality: str | None = None
    region: str | None = None
    thinking: bool = False
    parsed: bool = False


#: Vendor parsers, keyed by provider; each returns a parsed :class:`Meter` or None.
PARSERS: Registry[Callable[[str], Meter | None]] = Registry("meter parser")

#: Spellings accepted for ``provider`` besides the registry keys.
PROVIDER_ALIASES: dict[str, str] = {
    "bedrock": "aws", "aws_bedrock": "aws", "amazon": "aws", "microsoft": "azure", "azure_openai": "azure",
    "google": "gcp", "vertex_ai": "gcp", "gcp_vertex": "gcp", "gemini": "gcp",
}  # fmt: skip


def register_meter(provider: str) -> Callable[[Callable[[str], Meter | None]], Callable[[str], Meter | None]]:
    """Register a vendor meter parser under ``provider``.

    Parameters
    ----------
    provider
        Registry key (``aws``, ``azure``, ``gcp``, ``openai``, ``anthropic``).

    Returns
    -------
    Callable
        A decorator storing the parser in :data:`PARSERS` and returning it unchanged.
    """
    return PARSERS.register(provider)


def unparsed(raw: str) -> Meter:
    """Return the record of a string no parser understood."""
    return Meter(raw=raw)


def version_slug(version: str) -> str:
    """Return a model version with dots and dashes as dashes and a trailing ``.0`` dropped (``2.0`` -> ``2``)."""
    parts = [p for p in re.split(r"[.\-]", version) if p]
    if len(parts) > 1 and parts[-1] == "0":
        parts = parts[:-1]
    return "-".join(parts)


def claude_id(version: str, family: str) -> str:
    """Return Anthropic's family id: ``claude-3-5-haiku`` before version 4, ``claude-sonnet-4-6`` from 4 on.

    Examples
    --------
    >>> claude_id("3.5", "Haiku"), claude_id("4.6", "Sonnet"), claude_id("4", "opus")
    ('claude-3-5-haiku', 'claude-sonnet-4-6', 'claude-opus-4')
    """
    slug = version_slug(version)
    family = family.lower()
    major = int(slug.split("-", 1)[0])
    return f"claude-{family}-{slug}" if major >= 4 else f"claude-{slug}-{family}"


def words_of(text: str) -> list[str]:
    """Return the lower-case words of a meter name (split on spaces, hyphens, underscores, commas, brackets)."""
    return [w for w in re.split(r"[\s\-_,()/]+", text.lower()) if w]
