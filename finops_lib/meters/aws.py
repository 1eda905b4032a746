"""AWS Bedrock usage types (CUR ``line_item_usage_type``, AWS FOCUS ``x_UsageType``).

Shape: ``[<REGION>-]<label>-[mantle-][<modality>-]<kind>[-<suffix>...]``, e.g.
``USE1-Claude4.6Sonnet-input-tokens-batch``, ``USE1-NovaPro-output-tokens-batch-cross-region-global``,
``USE1-Claude3-5Haiku-cache-read-input-token-count``, ``USE1-Nova2.0Pro-text-input-tokens-priority``,
``USW2-anthropic.claude-opus-4-8-mantle-cache-write-tokens-global-standard``.

Quirks handled:

* The region prefix is AWS's billing region code (``USE1`` = us-east-1); unknown codes leave ``region`` None.
* The model label is a squashed display name, not the API id: ``Claude4.6Sonnet`` -> ``claude-sonnet-4-6``,
  ``Claude3-5Haiku`` -> ``claude-3-5-haiku``, ``NovaPro`` -> ``nova-pro``, ``Llama3-3-70B`` ->
  ``llama3-3-70b-instruct`` (every Bedrock Llama 3+ model is an instruct model), dotted API ids
  (``anthropic.claude-opus-4-8``, ``zai.glm-4.7``) through ``canonical_model`` without the publisher.
  Labels of other families are not guessed: the usage type comes back unparsed.
* Suffixes in any order: ``batch``/``priority``/``flex``/``standard`` (tier; none = standard),
  ``cross-region-global`` or ``global`` (deployment ``global``), ``cross-region[-geo]`` (``cross_region``),
  ``long-context``; ``latency-optimized`` has no schema tier, so ``service_tier`` is None for it.
* Cache writes without a TTL are the 5-minute cache (``input_cache_write_5m``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from finops_lib.meters._core import Meter, claude_id, register_meter, version_slug
from finops_lib.models import canonical_model

REGIONS: dict[str, str] = {
    "USE1": "us-east-1", "USE2": "us-east-2", "USW1": "us-west-1", "USW2": "us-west-2", "CAN1": "ca-central-1",
    "EUC1": "eu-central-1", "EUC2": "eu-central-2", "EUW1": "eu-west-1", "EUW2": "eu-west-2", "EUW3": "eu-west-3",
    "EUN1": "eu-north-1", "EUS1": "eu-south-1", "EUS2": "eu-south-2", "APN1": "ap-northeast-1",
    "APN2": "ap-northeast-2", "APN3": "ap-northeast-3", "APS1": "ap-southeast-1", "APS2": "ap-southeast-2",
    "APS3": "ap-south-1", "APS4": "ap-southeast-3", "APS5": "ap-south-2", "APE1": "ap-east-1", "SAE1": "sa-east-1",
    "MEC1": "me-central-1", "MES1": "me-south-1", "AFS1": "af-south-1", "UGW1": "us-gov-west-1",
    "UGE1": "us-gov-east-1",
}  # fmt: skip

_KINDS: dict[str, str] = {
    "input-tokens": "input_uncached",
    "input-token-count": "input_uncached",
    "output-tokens": "output",
    "output-token-count": "output",
    "cache-read-input-token-count": "input_cache_read",
    "cache-read-tokens": "input_cache_read",
    "cache-write-input-token-count": "input_cache_write_5m",
    "cache-write-tokens": "input_cache_write_5m",
    "cache-write-5m-input-token-count": "input_cache_write_5m",
    "cache-write-1h-input-token-count": "input_cache_write_1h",
}
_KIND_RE = "|".join(sorted((re.escape(k) for k in _KINDS), key=len, reverse=True))
_USAGE = re.compile(
    r"^(?:(?P<region>[A-Z]{2,4}\d)-)?(?P<label>[A-Za-z0-9][A-Za-z0-9.:\-]*?)-(?:mantle-)?"
    rf"(?:(?P<modality>text|audio|image|video)-)?(?P<kind>{_KIND_RE})(?P<suffix>(?:-[a-z0-9]+)*)$"
)
#: Suffix phrase -> (Meter field, value); longest phrases are matched first.
_SUFFIXES: dict[str, tuple[str, str | None]] = {
    "cross-region-global": ("deployment", "global"),
    "cross-region-geo": ("deployment", "cross_region"),
    "cross-region": ("deployment", "cross_region"),
    "global": ("deployment", "global"),
    "batch": ("service_tier", "batch"),
    "priority": ("service_tier", "priority"),
    "flex": ("service_tier", "flex"),
    "standard": ("service_tier", "standard"),
    "latency-optimized": ("service_tier", None),
    "long-context": ("context_tier", "long"),
}
_PHRASES = sorted(_SUFFIXES, key=len, reverse=True)


def _claude(m: re.Match[str]) -> str:
    return claude_id(m[1], m[2])


def _nova(m: re.Match[str]) -> str:
    version = f"{version_slug(m[1])}-" if m[1] else ""
    return f"nova-{version}{m[2].lower()}"


def _llama(m: re.Match[str]) -> str | None:
    if int(m[1]) < 3:
        return None
    parts = [f"llama{m[1]}", m[2], m[3], m[4]]
    return "-".join(p.lower() for p in parts if p) + "-instruct"


def _dotted(m: re.Match[str]) -> str | None:
    name = canonical_model(m[0])
    return re.sub(r"^[a-z0-9\-]+\.(?=[a-z])", "", name) if name else None


#: Model label patterns (full match) and how each gives the canonical model id.
LABELS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str | None]], ...] = (
    (re.compile(r"Claude-?(\d+(?:[.\-]\d+)?)-?(Sonnet|Haiku|Opus)", re.IGNORECASE), _claude),
    (re.compile(r"Nova-?(\d+(?:\.\d+)?)?(Pro|Lite|Micro|Premier)", re.IGNORECASE), _nova),
    (re.compile(r"Llama(\d+)(?:-(\d+))?(?:-(Maverick|Scout))?-(\d+B)(?:-Instruct)?", re.IGNORECASE), _llama),
    (re.compile(r"[a-z][a-z0-9\-]*\.[a-z0-9][a-z0-9.\-:]*"), _dotted),
)


def label_model(label: str) -> str | None:
    """Return the canonical model id of a Bedrock usage-type model label, None when not a known family.

    Examples
    --------
    >>> label_model("Claude4.6Sonnet"), label_model("Llama3-3-70B"), label_model("Nova2.0Lite")
    ('claude-sonnet-4-6', 'llama3-3-70b-instruct', 'nova-2-lite')
    """
    for pattern, build in LABELS:
        match = pattern.fullmatch(label)
        if match:
            return build(match)
    return None


def _suffixes(text: str) -> dict[str, str | None] | None:
    found: dict[str, str | None] = {}
    rest = text
    while rest:
        phrase = next((p for p in _PHRASES if rest == f"-{p}" or rest.startswith(f"-{p}-")), None)
        if phrase is None:
            return None
        field, value = _SUFFIXES[phrase]
        found[field] = value
        rest = rest[len(phrase) + 1 :]
    return found


@register_meter("aws")
def parse_aws(raw: str) -> Meter | None:
    """Parse a Bedrock usage type; None when it is not one or names an unknown model family."""
    match = _USAGE.match(raw.strip())
    if not match:
        return None
    model = label_model(match["label"])
    found = _suffixes(match["suffix"])
    if model is None or found is None:
        return None
    region = REGIONS.get(match["region"] or "")
    return Meter(
        raw=raw, model=model, token_type=_KINDS[match["kind"]], service_tier=found.get("service_tier", "standard"),
        context_tier=found.get("context_tier", "standard"), deployment=found.get("deployment"),
        modality=match["modality"], region=region, thinking=False, parsed=True,
    )  # fmt: skip
