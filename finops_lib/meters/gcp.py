"""GCP Cloud Billing ``sku.description`` of Vertex AI / Gemini API SKUs.

Shapes handled: ``Gemini 2.5 Flash GA Text Input - Predictions``, ``Gemini 2.5 Flash GA Thinking Text Output
- Predictions``, ``Gemini 2.5 Flash GA Text Output (Thinking On) - Predictions``, ``Gemini 2.5 Flash GA Input
Text Caching [(Long)]``, ``Gemini 2.5 Pro GA Long Context Text Input - Predictions``, ``Gemini 2.5 Flash GA Audio
Input (Long) - Predictions``, ``Gemini 3.7 Flash Global Text Input - Predictions``, ``Gemini 3 Flash Text Input
Caching Storage`` and the Gemini API (AI Studio) style ``Generate content input token count gemini 2.5 flash
short input text`` / ``... flash lite short output text non-thinking``.

Quirks handled:

* No model field exists: the model is ``gemini-<version>-<flash|pro|lite|ultra|nano...>`` read from the words
  after ``Gemini`` (``Flash Lite`` is its own model, ``gemini-2.5-flash-lite``); versions keep their dots
  as Google's ids do (``gemini-2.0-flash``).
* Thinking output is billed on its own SKU (``Thinking Text Output``, ``(Thinking On)``): ``thinking=True``,
  still the ``output`` bucket; ``non-thinking`` is ``thinking=False``.
* ``Input Text Caching`` is a cache read; ``Caching Storage`` (storage per hour) is ``non_token``.
* ``Long Context`` / ``(Long)`` / ``long input`` give ``context_tier='long'``; ``short input`` is standard;
  ``Global`` is the global endpoint; ``Batch`` the batch tier; ``GA``, ``Predictions``, ``Preview`` are noise.
* Any other word (other publishers' models on Vertex, embeddings, character-billed Gemini 1.x SKUs...) makes
  the SKU unparsed.
"""

from __future__ import annotations

import re

from finops_lib.meters._core import Meter, register_meter, words_of

_VARIANTS = frozenset(("flash", "pro", "lite", "ultra", "nano"))
_VERSION = re.compile(r"\d+(?:\.\d+)?")
_WORDS: dict[str, tuple[str, str | bool | None]] = {
    "input": ("direction", "input"),
    "output": ("direction", "output"),
    **dict.fromkeys(("caching", "cache", "cached"), ("cache", "read")),
    "storage": ("storage", "storage"),
    **dict.fromkeys(("text", "audio", "image", "video"), ("modality", None)),
    "thinking": ("thinking", True),
    "nonthinking": ("thinking", False),
    "long": ("context_tier", "long"),
    "short": ("context_tier", "standard"),
    "global": ("deployment", "global"),
    "batch": ("service_tier", "batch"),
    **dict.fromkeys(
        ("ga", "predictions", "prediction", "preview", "generate", "content", "token", "tokens", "count", "on",
         "context"),
        ("noise", None),
    ),
}  # fmt: skip


def _model(words: list[str]) -> tuple[str, int, int] | None:
    """Return (model id, first index, end index) of ``gemini <version> <variant>...`` in the words."""
    if "gemini" not in words:
        return None
    start = words.index("gemini")
    if start + 1 >= len(words) or not _VERSION.fullmatch(words[start + 1]):
        return None
    end = start + 2
    while end < len(words) and words[end] in _VARIANTS:
        end += 1
    if end == start + 2:
        return None
    return "-".join(words[start:end]), start, end


def _classify(words: list[str]) -> dict[str, str | bool | None] | None:
    found: dict[str, str | bool | None] = {}
    for word in words:
        kind = _WORDS.get(word)
        if kind is None:
            return None
        field, value = kind
        if field == "modality":
            value = word
        if field in found and found[field] != value and field != "noise":
            return None
        found[field] = value
    return found


def _token_type(found: dict[str, str | bool | None]) -> str | None:
    direction = found.get("direction")
    if found.get("storage"):
        return "non_token" if found.get("cache") else None
    if found.get("cache"):
        return "input_cache_read" if direction != "output" else None
    if found.get("thinking") is True and direction != "output":
        return None
    return {"input": "input_uncached", "output": "output"}.get(str(direction))


def _text(found: dict[str, str | bool | None], key: str) -> str | None:
    value = found.get(key)
    return value if isinstance(value, str) else None


@register_meter("gcp")
def parse_gcp(raw: str) -> Meter | None:
    """Parse a Gemini SKU description; None when any word is not understood."""
    text = re.sub(r"\bnon[\s\-]thinking\b", "nonthinking", raw.lower())
    text = re.sub(r"\b(short|long)\s+(input|output)\b", r"\1", text)
    words = words_of(text)
    located = _model(words)
    if located is None:
        return None
    model, start, end = located
    found = _classify(words[:start] + words[end:])
    token_type = _token_type(found) if found is not None else None
    if found is None or token_type is None:
        return None
    context = None if token_type == "non_token" else _text(found, "context_tier") or "standard"
    return Meter(
        raw=raw, model=model, token_type=token_type, service_tier=_text(found, "service_tier") or "standard",
        context_tier=context, deployment=_text(found, "deployment"),
        modality=_text(found, "modality"), thinking=found.get("thinking") is True, parsed=True,
    )  # fmt: skip
