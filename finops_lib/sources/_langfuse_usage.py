"""Langfuse usage and cost: an observation's usage map split into the request token buckets, its reported cost.

The rules are those of :mod:`finops_lib.sources.langfuse` (its docstring lists them): ``usageDetails`` keys
are disjoint and sorted into buckets by name, a ``total`` tells whether ``input`` included the cache or
``output`` the reasoning; deprecated and flattened usage fields stand in when ``usageDetails`` is absent;
``costDetails`` (USD) is read exactly.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from finops_lib.sources._genai import exact_amount, token_count

#: Flat usage fields read when ``usageDetails`` and ``usage`` are absent: the UI export's, the legacy API's.
FLAT_USAGE = ("inputUsage", "outputUsage", "totalUsage")
LEGACY_USAGE = ("promptTokens", "completionTokens", "totalTokens")


def _kind(key: str) -> str | None:
    """Return the bucket of a usage key: read, write, write_5m, write_1h, reasoning, output, input or None."""
    k = key.lower()
    if "cache" in k or "ephemeral" in k:
        if any(w in k for w in ("creation", "write", "ephemeral")):
            return "write_1h" if "1h" in k else "write_5m" if "5m" in k else "write"
        return "read"
    if "reasoning" in k or "thinking" in k:
        return "reasoning"
    if "output" in k or "completion" in k:
        return "output"
    if "input" in k or "prompt" in k:
        return "input"
    return None


def _usage(obs: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Return the usage map of an observation and the field it came from."""
    details = obs.get("usageDetails")
    if isinstance(details, dict) and details:
        return details, "usageDetails"
    legacy = obs.get("usage")
    if isinstance(legacy, dict) and str(legacy.get("unit") or "TOKENS").upper() == "TOKENS":
        return {k: legacy[k] for k in ("input", "output", "total") if legacy.get(k) is not None}, "usage"
    for names in (FLAT_USAGE, LEGACY_USAGE):  # the UI export's flattened columns, the legacy fields
        flat = {k: obs[k] for k in names if obs.get(k) is not None}
        if flat:
            return flat, ""
    return {}, ""


def _sums(usage: dict[str, Any], field: str) -> tuple[dict[str, int], int | None]:
    sums = {"input": 0, "read": 0, "write": 0, "write_5m": 0, "write_1h": 0, "output": 0, "reasoning": 0}
    total = None
    for key, value in usage.items():
        if value is None:
            continue
        column = f"{field}.{key}" if field else str(key)
        if str(key).lower() in ("total", "total_tokens", "totaltokens", "totalusage"):
            total = token_count(value, column)
            continue
        kind = _kind(str(key))
        if kind is not None:
            sums[kind] += token_count(value, column)
    return sums, total


def usage_buckets(obs: dict[str, Any]) -> tuple[dict[str, int | None], set[str]]:
    """Split an observation's usage into the disjoint request token columns; return (columns, flags)."""
    usage, field = _usage(obs)
    sums, total = _sums(usage, field)
    # The UI export's inputUsage sums every input* key, cache included: the split is unknown.
    marks: set[str] = {"token_subfields_missing"} if "inputUsage" in usage else set()
    if sums["write_5m"] or sums["write_1h"]:
        sums["write"] = 0  # a generic key then repeats the TTL-specific ones
    elif sums["write"]:
        marks.add("cache_ttl_assumed")
    cache = sums["read"] + sums["write"] + sums["write_5m"] + sums["write_1h"]
    everything = sum(sums.values())
    input_has_cache = (
        total is not None and cache and total in (everything - cache, everything - cache - sums["reasoning"])
    )
    output_has_reasoning = (
        total is not None
        and sums["reasoning"]
        and total in (everything - sums["reasoning"], everything - cache - sums["reasoning"])
    )
    uncached = sums["input"]
    if input_has_cache and uncached >= cache:
        uncached -= cache
        marks.add("cache_semantics_inferred")
    output = sums["output"] if output_has_reasoning else sums["output"] + sums["reasoning"]
    reasoning = min(sums["reasoning"], output) if sums["reasoning"] else None
    return {
        "x_InputUncachedTokens": uncached,
        "x_InputCacheReadTokens": sums["read"],
        "x_InputCacheWrite5mTokens": sums["write"] + sums["write_5m"],
        "x_InputCacheWrite1hTokens": sums["write_1h"],
        "x_OutputTokens": output,
        "x_OutputReasoningTokens": reasoning,
    }, marks


def reported_cost(obs: dict[str, Any]) -> Decimal | None:
    details = obs.get("costDetails")
    if isinstance(details, dict) and details:
        if details.get("total") is not None:
            return exact_amount(details["total"], "costDetails.total")
        parts = [exact_amount(v, f"costDetails.{k}") for k, v in details.items() if v is not None]
        return sum(parts, Decimal(0)) if parts else None
    for key in ("calculatedTotalCost", "totalCost"):
        if obs.get(key) is not None:
            return exact_amount(obs[key], key)
    legacy = obs.get("usage")
    if isinstance(legacy, dict) and legacy.get("totalCost") is not None:
        return exact_amount(legacy["totalCost"], "usage.totalCost")
    return None
