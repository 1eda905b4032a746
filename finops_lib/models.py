"""Model ids: from the strings vendors write to one canonical id per model.

The canonical id is lower case, without a vendor route (``openai/``, ``bedrock/``), region
prefix (``us.``, ``eu.``, ``global.``), publisher prefix (``anthropic.``) or Bedrock version
suffix (``-v1:0``); dated snapshots keep their date (``gpt-4o-2024-08-06``), because prices and
behaviour are per snapshot.

Examples
--------
>>> canonical_model("openai/gpt-4o-2024-08-06")
'gpt-4o-2024-08-06'
>>> canonical_model("us.anthropic.claude-3-5-haiku-20241022-v1:0")
'claude-3-5-haiku-20241022'
>>> canonical_model("  ") is None
True
"""

from __future__ import annotations

import re

#: Applied in order to the lower-cased, trimmed string; the same patterns run in Python and in SQL
#: (RE2), so a model id is canonicalized identically in memory and inside the engine.
_PATTERNS: tuple[str, ...] = (
    r"^(openai|anthropic|azure|azure_ai|bedrock|vertex_ai|gemini|google|aws|litellm_proxy)/",
    r"^(us|eu|apac|global|jp|au|ca|us-gov)\.",
    r"^(anthropic|meta|amazon|mistral|cohere|ai21|deepseek|qwen|openai|writer)\.",
    r"-v\d+(:\d+)?$",
)
_COMPILED = tuple(re.compile(p) for p in _PATTERNS)
#: Model-id prefixes that identify the provider when a source does not name it.
MODEL_PREFIX_PROVIDERS: tuple[tuple[str, str], ...] = (
    ("gpt", "OpenAI"), ("o1", "OpenAI"), ("o3", "OpenAI"), ("o4", "OpenAI"), ("text-embedding", "OpenAI"),
    ("claude", "Anthropic"), ("gemini", "Google"),
)

#: Vendor names as FOCUS ``ProviderName`` writes them, keyed by the spellings sources use.
PROVIDERS: dict[str, str] = {
    "openai": "OpenAI",
    "text-completion-openai": "OpenAI",
    "anthropic": "Anthropic",
    "bedrock": "AWS",
    "bedrock_converse": "AWS",
    "aws": "AWS",
    "aws.bedrock": "AWS",
    "azure": "Microsoft",
    "azure_ai": "Microsoft",
    "azure.ai.openai": "Microsoft",
    "vertex_ai": "Google",
    "vertex_ai_beta": "Google",
    "gemini": "Google",
    "gcp.vertex_ai": "Google",
    "gcp.gemini": "Google",
    "google": "Google",
}


def canonical_model(raw: str | None) -> str | None:
    """Return the canonical model id of a vendor model string, or None when empty.

    Parameters
    ----------
    raw
        The model string as a source wrote it.
    """
    if raw is None:
        return None
    name = raw.strip().lower()
    for pattern in _COMPILED:
        name = pattern.sub("", name)
    return name or None


#: Python's whitespace (``str.isspace``) as an RE2 class: the engine trims what :func:`canonical_model` strips.
_BLANKS = r"\t\n\x0b\x0c\r\x1c-\x20\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"


def _one_pattern(patterns: tuple[str, ...]) -> str:
    """Return one RE2 pattern whose group 1 is what :data:`_PATTERNS`, removed one after the other, leave.

    The prefixes (``^...``) become optional groups in their order and the one suffix (``...$``) an optional group
    after a lazy middle: one regular expression per value instead of one per pattern (the engine's work on a
    10M-row dump). The property test in ``tests/test_models.py`` holds the two equal.
    """
    bare = [re.sub(r"(?<!\\)\((?!\?)", "(?:", p) for p in patterns]  # no capture but the middle's
    prefixes = [p[1:] for p in bare if p.startswith("^")]
    suffixes = [p[:-1] for p in bare if p.endswith("$") and not p.startswith("^")]
    if len(prefixes) + len(suffixes) != len(patterns) or len(suffixes) > 1:
        raise ValueError("model patterns must be anchored prefixes and at most one anchored suffix")
    middle = "(.*?)" + "".join(f"(?:{p})?" for p in suffixes)
    blank = f"[{_BLANKS}]*"  # what str.strip() removes around the id, line breaks included
    return f"(?s)^{blank}" + "".join(f"(?:{p})?" for p in prefixes) + middle + f"{blank}$"  # (?s): "." crosses lines


_ONE_PATTERN = _one_pattern(_PATTERNS)


def canonical_model_sql(column: str) -> str:
    """Return SQL computing :func:`canonical_model` of ``column`` inside the engine (NULL when empty).

    Examples
    --------
    >>> canonical_model_sql("m").startswith("nullif(regexp_extract(lower(m), '(?s)^[")
    True
    """
    return f"nullif(regexp_extract(lower({column}), '{_ONE_PATTERN}', 1), '')"


def provider_sql(provider_column: str, model_sql: str) -> str:
    """Return SQL mapping a source's provider spelling (else the model prefix) to the FOCUS provider name."""
    spelled = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in PROVIDERS.items())
    prefixes = " ".join(f"WHEN starts_with({model_sql}, '{p}') THEN '{v}'" for p, v in MODEL_PREFIX_PROVIDERS)
    fallback = f"CASE {prefixes} ELSE coalesce(nullif(trim({provider_column}), ''), 'Unknown') END"
    return f"coalesce(CASE lower(trim({provider_column})) {spelled} END, {fallback})"


def provider_name(raw: str | None) -> str | None:
    """Return the FOCUS provider name for a source's provider spelling (unknown ones title-cased).

    Examples
    --------
    >>> provider_name("vertex_ai"), provider_name("mistral")
    ('Google', 'Mistral')
    """
    if raw is None or not raw.strip():
        return None
    key = raw.strip().lower()
    return PROVIDERS.get(key, raw.strip().title())
