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

_ROUTE = re.compile(r"^(openai|anthropic|azure|azure_ai|bedrock|vertex_ai|gemini|google|aws|litellm_proxy)/", re.I)
_REGION = re.compile(r"^(us|eu|apac|global|jp|au|ca|us-gov)\.", re.I)
_PUBLISHER = re.compile(r"^(anthropic|meta|amazon|mistral|cohere|ai21|deepseek|qwen|openai|writer)\.", re.I)
_BEDROCK_VERSION = re.compile(r"-v\d+(:\d+)?$")

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
    if not name:
        return None
    while True:
        stripped = _REGION.sub("", _ROUTE.sub("", name))
        if stripped == name:
            break
        name = stripped
    name = _PUBLISHER.sub("", name)
    return _BEDROCK_VERSION.sub("", name)


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
