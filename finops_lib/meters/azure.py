"""Azure OpenAI / Foundry Models meter names (cost details ``MeterName``, FOCUS ``SkuMeter``, retail ``skuName``).

Meter naming is free-form and changed over time; two families are handled:

* retail-style ``gpt-4o-mini-0718-Inp-glbl``, ``gpt-4o-0806-cached-Inp-glbl``, ``gpt 4o 0513 Input global Tokens``,
  ``gpt 4.5 0227 cached Inp DZone``, ``gpt-4o-mini-tts-aud-out-glbl``;
* newer ``GPT 5 outpt Glbl 1M Tokens``, ``GPT 4o mini Cd Inp Glbl 1M Tokens``, ``o3 Inpt DZone 1M Tokens``.

Quirks handled:

* The string is split into words (spaces, hyphens, underscores); the model is the leading run of model
  words (``gpt`` + version + ``mini``/``nano``/``turbo``/``tts``..., or ``o1``/``o3``/``o4``), every other word
  must be known: direction (``Inp|Inpt|Input|in`` / ``Outp|outpt|Output|out|opt``), cache (``Cd|cached``,
  write ``Wr``), deployment (``Glbl|Gl|global`` -> global, ``DZ|DZone|Data Zone`` -> data_zone,
  ``regnl|regional`` -> regional), ``Batch``, modality (``aud``, ``txt``, ``img``), unit words (``1M``,
  ``1K``, ``Tokens``) -- any other word makes the meter unparsed.
* A 4-digit model version (``0718``) becomes the snapshot date only through :data:`KNOWN_VERSIONS`; an
  unknown version gives the family id (``gpt-4o``), never a guessed date.
* ``Provisioned Managed Unit`` (PTU hours, optionally prefixed Global / Data Zone / Regional) is a
  ``non_token`` meter of the ``provisioned`` tier without a model.
* Cache writes (``Cd Wr``) carry no TTL: they are the default short cache (``input_cache_write_5m``).
"""

from __future__ import annotations

import re

from finops_lib.meters._core import Meter, register_meter, words_of

#: Azure model version suffix -> OpenAI snapshot date, per model family (only versions known to exist).
KNOWN_VERSIONS: dict[tuple[str, str], str] = {
    ("gpt-4o", "0513"): "2024-05-13", ("gpt-4o", "0806"): "2024-08-06", ("gpt-4o", "1120"): "2024-11-20",
    ("gpt-4o-mini", "0718"): "2024-07-18", ("gpt-4.1", "0414"): "2025-04-14", ("gpt-4.1-mini", "0414"): "2025-04-14",
    ("gpt-4.1-nano", "0414"): "2025-04-14", ("o1", "1217"): "2024-12-17", ("o3-mini", "0131"): "2025-01-31",
    ("o3", "0416"): "2025-04-16", ("o4-mini", "0416"): "2025-04-16", ("gpt-5", "0807"): "2025-08-07",
    ("gpt-5-mini", "0807"): "2025-08-07", ("gpt-5-nano", "0807"): "2025-08-07",
}  # fmt: skip

#: Non-model words -> (Meter field, value).
_WORDS: dict[str, tuple[str, str | None]] = {
    **dict.fromkeys(("inp", "inpt", "input", "in"), ("direction", "input")),
    **dict.fromkeys(("outp", "outpt", "output", "out", "opt"), ("direction", "output")),
    **dict.fromkeys(("cd", "cached", "cache"), ("cache", "read")),
    **dict.fromkeys(("wr", "write", "writes"), ("write", "write")),
    **dict.fromkeys(("glbl", "gl", "glb", "global"), ("deployment", "global")),
    **dict.fromkeys(("dz", "dzone", "datazone"), ("deployment", "data_zone")),
    **dict.fromkeys(("regnl", "rgnl", "regional"), ("deployment", "regional")),
    **dict.fromkeys(("aud", "audio"), ("modality", "audio")),
    **dict.fromkeys(("txt", "text"), ("modality", "text")),
    **dict.fromkeys(("img", "image"), ("modality", "image")),
    "batch": ("service_tier", "batch"),
    **dict.fromkeys(("std", "standard"), ("service_tier", "standard")),
    **dict.fromkeys(("tokens", "token", "1m", "1k"), ("noise", None)),
}
_MODEL_HEADS = re.compile(r"gpt|o[134]")
_GPT_VERSION = re.compile(r"\d+(?:\.\d+)?o?")
_MODEL_TAILS = frozenset(("mini", "nano", "turbo", "tts", "transcribe", "realtime", "pro", "chat", "codex"))
_VERSION = re.compile(r"\d{4}")
_PTU = re.compile(r"\s*(?:(global|data\s*zone|regional)\s+)?provisioned\s+managed(?:\s+units?)?\s*", re.IGNORECASE)
_PTU_DEPLOYMENT = {"global": "global", "datazone": "data_zone", "regional": "regional"}


def _model_words(words: list[str]) -> int:
    """Return how many leading words name the model (0 when the string does not start with a model)."""
    if not words or not _MODEL_HEADS.fullmatch(words[0]):
        return 0
    count = 1
    if words[0] == "gpt":
        if len(words) < 2 or not _GPT_VERSION.fullmatch(words[1]):
            return 0
        count = 2
    while count < len(words) and words[count] in _MODEL_TAILS:
        count += 1
    return count


def _token_type(found: dict[str, str | None]) -> str | None:
    direction, cache = found.get("direction"), found.get("cache")
    if "write" in found:
        return "input_cache_write_5m" if cache and direction != "output" else None
    if cache:
        return "input_cache_read" if direction != "output" else None
    return {"input": "input_uncached", "output": "output"}.get(direction or "")


def _classify(words: list[str]) -> dict[str, str | None] | None:
    found: dict[str, str | None] = {}
    for word in words:
        if _VERSION.fullmatch(word) and "version" not in found:
            found["version"] = word
            continue
        kind = _WORDS.get(word)
        if kind is None or (kind[0] in found and found[kind[0]] != kind[1]):
            return None
        found[kind[0]] = kind[1]
    return found


def _provisioned(raw: str) -> Meter | None:
    match = _PTU.fullmatch(raw)
    if not match:
        return None
    deployment = _PTU_DEPLOYMENT.get(re.sub(r"\s+", "", match[1] or "").lower())
    return Meter(raw=raw, token_type="non_token", service_tier="provisioned", deployment=deployment, parsed=True)


@register_meter("azure")
def parse_azure(raw: str) -> Meter | None:
    """Parse an Azure OpenAI meter name; None when any word is not understood."""
    ptu = _provisioned(raw)
    if ptu is not None:
        return ptu
    words = words_of(re.sub(r"(?i)\bdata\s+zone\b", "datazone", raw))
    size = _model_words(words)
    found = _classify(words[size:]) if size else None
    token_type = _token_type(found) if found is not None else None
    if found is None or token_type is None:
        return None
    family = "-".join(words[:size])
    date = KNOWN_VERSIONS.get((family, found.get("version") or ""))
    return Meter(
        raw=raw, model=f"{family}-{date}" if date else family, token_type=token_type,
        service_tier=found.get("service_tier") or "standard", context_tier="standard",
        deployment=found.get("deployment"), modality=found.get("modality"), thinking=False, parsed=True,
    )  # fmt: skip
