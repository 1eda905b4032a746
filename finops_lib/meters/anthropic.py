"""Anthropic cost report ``description`` (and marketplace meter text of the same wording).

Shape: ``Claude <Family> <version> [<Tier>] [Long Context] Usage - <token kind>``, e.g. ``Claude Sonnet 4 Usage -
Input Tokens``, ``Claude Sonnet 4.5 Batch Usage - Output Tokens``, ``Claude Opus 4.1 Usage - Cache Write Input
Tokens (1h)``; older models write the version first (``Claude 3.5 Haiku Usage - Cache Read Input Tokens``).

Quirks handled:

* The display name gives the family id (``claude-sonnet-4-5``, ``claude-3-5-haiku``): no snapshot date.
* Token kinds: ``Input Tokens``, ``Output Tokens``, ``Cache Read Input Tokens``, ``Cache Write Input Tokens
  (5m)``/``(1h)``; a cache write without a TTL (descriptions written before the 1-hour cache existed) is the
  5-minute cache.
* Tier words ``Batch``, ``Priority``, ``Flex`` before ``Usage``; ``Long Context`` gives ``context_tier='long'``.
"""

from __future__ import annotations

import re

from finops_lib.meters._core import Meter, claude_id, register_meter

_KINDS: dict[str, str] = {
    "input tokens": "input_uncached",
    "uncached input tokens": "input_uncached",
    "output tokens": "output",
    "cache read input tokens": "input_cache_read",
    "cache read tokens": "input_cache_read",
    "cache write input tokens": "input_cache_write_5m",
    "cache write input tokens (5m)": "input_cache_write_5m",
    "cache write input tokens (1h)": "input_cache_write_1h",
    "cache creation input tokens": "input_cache_write_5m",
}
_FAMILY = r"(?P<family>sonnet|haiku|opus)"
_VERSION = r"(?P<version>\d+(?:\.\d+)?)"
_DESCRIPTION = re.compile(
    rf"\s*claude\s+(?:{_FAMILY}\s+{_VERSION}|(?P<old_version>\d+(?:\.\d+)?)\s+(?P<old_family>sonnet|haiku|opus))"
    r"(?:\s+(?P<tier>batch|priority|flex))?(?:\s+(?P<long>long\s+context))?\s+usage\s*-\s*(?P<kind>[a-z ()0-9]+?)\s*",
    re.IGNORECASE,
)


@register_meter("anthropic")
def parse_anthropic(raw: str) -> Meter | None:
    """Parse a cost report description; None for other wordings."""
    match = _DESCRIPTION.fullmatch(raw)
    if not match:
        return None
    token_type = _KINDS.get(re.sub(r"\s+", " ", match["kind"].lower()))
    if token_type is None:
        return None
    model = claude_id(match["version"] or match["old_version"], match["family"] or match["old_family"])
    return Meter(
        raw=raw, model=model, token_type=token_type, service_tier=(match["tier"] or "standard").lower(),
        context_tier="long" if match["long"] else "standard", thinking=False, parsed=True,
    )  # fmt: skip
