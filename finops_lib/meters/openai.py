"""OpenAI Costs API ``line_item`` strings (and the dashboard cost export's ``line_item`` column).

Grammar: ``[<feature> | ]<model>, <direction>``, e.g. ``gpt-4o-2024-08-06, input``, ``ft-gpt-4o-2024-08-06,
cached input``, ``batch | gpt-4.1-2025-04-14, output``, ``evals | gpt-4o-mini-2024-07-18, input``.

Quirks handled:

* The model is written as the API id (``canonical_model``); fine-tuned models keep their ``ft-`` prefix since
  they are priced apart from the base model. Only OpenAI model prefixes are accepted (``gpt``, ``o1``/``o3``/
  ``o4``..., ``text-embedding``, ``ft-``, ``chatgpt``, ``tts``, ``whisper``, ``dall-e``...).
* Directions: ``input``, ``output``, ``cached input``, ``cache writes`` (default cache, ``input_cache_write_5m``),
  ``cache writes - 12hr`` (long cache, ``input_cache_write_1h``), optionally preceded by a modality
  (``audio input``, ``cached image input``).
* Feature prefixes ``batch``/``flex``/``priority`` set the service tier; ``evals`` and ``fine-tuning`` are
  standard; any other feature (``assistants api | file search``) or a line without direction is unparsed.
"""

from __future__ import annotations

import re

from finops_lib.meters._core import Meter, register_meter
from finops_lib.models import canonical_model

_FEATURES: dict[str, str] = {
    "": "standard", "batch": "batch", "flex": "flex", "priority": "priority", "scale tier": "priority",
    "evals": "standard", "fine-tuning": "standard", "fine tuning": "standard",
}  # fmt: skip
_DIRECTIONS: dict[str, str] = {
    "input": "input_uncached",
    "output": "output",
    "cached input": "input_cache_read",
    "cache read": "input_cache_read",
    "cache write": "input_cache_write_5m",
    "cache writes": "input_cache_write_5m",
    "cache writes - 5min": "input_cache_write_5m",
    "cache writes - 12hr": "input_cache_write_1h",
    "cache writes - 1hr": "input_cache_write_1h",
}
_MODALITIES = frozenset(("text", "audio", "image"))
_LINE = re.compile(
    r"\s*(?:(?P<feature>[a-z][a-z \-]*?)\s*\|\s*)?(?P<model>[A-Za-z0-9][A-Za-z0-9.:\-_]*)\s*,\s*"
    r"(?P<direction>[a-z][a-z0-9 \-]*?)\s*",
    re.IGNORECASE,
)
_MODEL = re.compile(
    r"(?:gpt|o\d|text-embedding|ft[-:]|chatgpt|tts|whisper|dall-e|davinci|babbage|codex|computer-use|"
    r"omni-moderation|sora)[a-z0-9.:\-_]*"
)


@register_meter("openai")
def parse_openai(raw: str) -> Meter | None:
    """Parse a Costs API line item; None for features, models or directions not listed above."""
    match = _LINE.fullmatch(raw)
    if not match:
        return None
    tier = _FEATURES.get((match["feature"] or "").lower())
    words = match["direction"].lower().split()
    modalities = [w for w in words if w in _MODALITIES]
    direction = " ".join(w for w in words if w not in _MODALITIES)
    token_type = _DIRECTIONS.get(direction)
    model = canonical_model(match["model"])
    if tier is None or token_type is None or model is None or not _MODEL.fullmatch(model):
        return None
    if len(modalities) > 1:
        return None
    modality = modalities[0] if modalities else None
    return Meter(
        raw=raw, model=model, token_type=token_type, service_tier=tier, context_tier="standard",
        modality=modality, thinking=False, parsed=True,
    )  # fmt: skip
