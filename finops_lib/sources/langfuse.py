"""Langfuse observations export (public API JSON, JSON lines): one ``requests`` row per generation.

Accepts what a client saves from ``GET /api/public/observations`` (v1, or v2 with ``projectId``,
``userId``, ``sessionId``): a page ``{"data": [...], "meta": {...}}``, a bare JSON array, one
observation per line (JSONL), and traces with their full observations (``GET /api/public/traces/{id}``:
``{"id", "userId", "sessionId", "tags", "scores", "observations": [{...}]}``, alone, in a list or a page).

What a record is: an observation of type ``GENERATION`` or ``EMBEDDING`` (the two types Langfuse
tracks usage and cost on), or an observation without a ``type`` that carries usage or a model.
``SPAN``, ``EVENT``, ``AGENT``, ``TOOL``, ``CHAIN``, ``RETRIEVER``, ``EVALUATOR``, ``GUARDRAIL``
observations are trace structure, not model calls: they are not records of this format and are
not counted as read (a trace's cost is the sum of its generations). An element of a page that is
not a JSON object, and a JSONL line that is not JSON, are rejected records. ``x_SourceRow`` is the
record's ordinal, ``x_SourceLocator`` its place (``data[3]``, ``line 7``, ``data[0].observations[2]``).

Quirks handled here (``reference/formats.md`` section 8.2):

* ``usageDetails`` keys are arbitrary strings, and Langfuse's convention is that they are *disjoint*
  ("the total key is the sum of all non-total usage metrics"; the OpenAI usage schema is flattened into
  ``input``, ``input_cached_tokens``, ``output``, ``output_reasoning_tokens``... with the details taken
  out of ``input``/``output``). Keys are sorted into buckets by name: cache read (``cache_read``,
  ``cached``), cache write (``cache_creation``, ``cache_write``, ``ephemeral_5m``/``_1h``; a write
  without a 5m/1h split goes to 5m, flag ``cache_ttl_assumed``; a generic write key is ignored when
  TTL-specific keys are present), reasoning (``reasoning``/``thinking``: counted in output and in the
  reasoning subset), other ``output``/``completion`` keys (output), other ``input``/``prompt`` keys
  (uncached input: audio and image input is uncached input). Other keys are not tokens (kept in Tags).
* When ``total`` is given and equals the sum *minus* the cache keys, the integration reported
  ``input`` including cache: the cache is taken out of it (flag ``cache_semantics_inferred``); when it
  equals the sum minus reasoning, ``output`` already included reasoning.
* Deprecated ``usage`` (``{input, output, total, unit}``, token units only) and the legacy
  ``promptTokens``/``completionTokens`` fields are read when ``usageDetails`` is absent.
* ``costDetails`` values are USD (JSON numbers, parsed exactly): ``x_ReportedCost`` is ``total``, else the
  sum of the other keys, else ``calculatedTotalCost``/``totalCost``; none is flagged ``reported_cost_missing``.
* ``level = ERROR`` means failure. ``environment = "default"`` is Langfuse's placeholder, not an environment.
* Dimensions come from ``metadata`` (team, app, feature, env, experiment, variant, quality score),
  ``key:value`` tags, ``userId``/``sessionId`` and ``projectId``; trace fields fill what the
  observation lacks. A trace score named ``quality``/``quality_score`` in [0, 1] is the quality score.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ibis.backends import BaseBackend

from finops_lib.models import canonical_model
from finops_lib.sources import ReadResult, read_head, register_source
from finops_lib.sources._common import Fault, flags, records_table, reject, row_hash
from finops_lib.sources._genai import (
    TIERS,
    dimensions,
    exact_amount,
    normalized_keys,
    plausible,
    provider_for,
    quality_score,
    read_documents,
    small_tags,
    tags_json,
    token_count,
)
from finops_lib.sources._langfuse_csv import is_observations_csv, observation, require
from finops_lib.sources._records import records

FORMAT = "langfuse_observations"
#: Why a trace summary (a trace listing observation ids only) is rejected instead of loaded.
TRACE_REASON = ("trace summary without its observations (GET /api/public/traces): its totalCost is the sum of "
                "model calls this file does not hold, with no tokens or model; not loaded, since it would count "
                "that cost again once the observations are loaded: export the observations instead")
MODEL_TYPES = {"GENERATION", "EMBEDDING"}
PROVIDER_KEYS = ("provider", "ls_provider", "gen_ai.provider.name", "gen_ai.system", "custom_llm_provider")
SCORE_NAMES = {"quality", "quality_score", "quality-score"}
#: Trace fields an observation inherits when it has none of its own.
TRACE_FIELDS = ("userId", "sessionId", "tags", "environment", "release", "metadata", "scores", "projectId")
_DIRECT = ("userId", "sessionId", "projectId")
#: Flat usage fields read when ``usageDetails`` and ``usage`` are absent: the UI export's, the legacy API's.
FLAT_USAGE = ("inputUsage", "outputUsage", "totalUsage")
LEGACY_USAGE = ("promptTokens", "completionTokens", "totalTokens")


@dataclass(frozen=True)
class TraceSummary:
    """A trace of ``GET /api/public/traces``: observation ids and a total cost, no model calls."""

    trace: dict[str, Any]

    def shown(self) -> str:
        """Return what the summary holds, for the reject's value."""
        ids = self.trace.get("observations") or []
        return f"trace {self.trace.get('id')}: {len(ids)} observation ids, totalCost {self.trace.get('totalCost')}"


def _detect(path: Path, head: str) -> bool:
    if not head.lstrip("\ufeff \t\r\n").startswith(("{", "[")):
        return is_observations_csv(head)
    if '"resourceSpans"' in head or re.search(r'"(spanId|span_id)"\s*:', head):
        return False
    traces = ('"observations"' in head and bool(re.search(r'"timestamp"\s*:\s*"', head))
              and bool(re.search(r'"(htmlPath|totalCost)"\s*:', head)))
    return traces or (bool(re.search(r'"traceId"\s*:', head)) and bool(re.search(r'"startTime"\s*:\s*"', head))
                      and (bool(re.search(r'"type"\s*:\s*"[A-Z_]+"', head)) or '"usageDetails"' in head))


def _is_record(item: Any) -> bool:
    if not isinstance(item, dict):
        return True
    kind = item.get("type")
    if kind is None:
        return any(item.get(k) for k in ("usageDetails", "usage", "model"))
    return str(kind).upper() in MODEL_TYPES


def _observations(value: Any, where: str, trace: dict[str, Any]) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """Yield (locator, observation, trace context) for every record of one JSON document."""
    if isinstance(value, dict) and isinstance(value.get("data"), list):
        yield from _observations(value["data"], f"{where}data", trace)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _observations(item, f"{where}[{i}]", trace)
    elif isinstance(value, dict) and isinstance(value.get("observations"), list) and "traceId" not in value:
        context = {k: value[k] for k in TRACE_FIELDS if value.get(k) is not None}
        sep = "." if where and not where.endswith(" ") else ""
        full = [(i, item) for i, item in enumerate(value["observations"]) if isinstance(item, dict)]
        if not full:  # a trace listing observation ids only (GET /api/public/traces): a summary
            yield where or "$", TraceSummary(value), trace
        for i, item in full:
            if _is_record(item):
                yield f"{where}{sep}observations[{i}]", item, context
    elif _is_record(value):
        yield where or "$", value, trace


def _time(value: object, column: str) -> datetime:
    if isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            return plausible(ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC), column, value)
    raise Fault(column, value, "not an ISO-8601 time")


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


def _buckets(obs: dict[str, Any]) -> tuple[dict[str, int | None], set[str]]:
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
    input_has_cache = total is not None and cache and total in (everything - cache,
                                                                everything - cache - sums["reasoning"])
    output_has_reasoning = total is not None and sums["reasoning"] and total in (
        everything - sums["reasoning"], everything - cache - sums["reasoning"])
    uncached = sums["input"]
    if input_has_cache and uncached >= cache:
        uncached -= cache
        marks.add("cache_semantics_inferred")
    output = sums["output"] if output_has_reasoning else sums["output"] + sums["reasoning"]
    reasoning = min(sums["reasoning"], output) if sums["reasoning"] else None
    return {"x_InputUncachedTokens": uncached, "x_InputCacheReadTokens": sums["read"],
            "x_InputCacheWrite5mTokens": sums["write"] + sums["write_5m"],
            "x_InputCacheWrite1hTokens": sums["write_1h"], "x_OutputTokens": output,
            "x_OutputReasoningTokens": reasoning}, marks


def _cost(obs: dict[str, Any]) -> Decimal | None:
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


def _as_dict(value: object) -> dict[str, Any]:
    """Return an object field (also when the API returned it as JSON text), else an empty dict."""
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _tag_pairs(tags: object) -> dict[str, str]:
    """Return ``key:value`` tags as a dict (plain tags are kept in Tags only)."""
    out: dict[str, str] = {}
    for tag in tags if isinstance(tags, list) else []:
        if isinstance(tag, str) and ":" in tag:
            key, _, value = tag.partition(":")
            out.setdefault(key.strip().lower(), value.strip())
    return out


def _score(scores: object) -> float | None:
    for score in scores if isinstance(scores, list) else []:
        if isinstance(score, dict) and str(score.get("name", "")).lower() in SCORE_NAMES:
            return quality_score({"quality_score": score.get("value")})
    return None


def _dimensions(obs: dict[str, Any], trace: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (dimension columns, tags dict) of an observation and its trace context."""
    merged = {**trace, **{k: v for k, v in obs.items() if v is not None}}
    metadata, trace_meta = _as_dict(merged.get("metadata")), _as_dict(trace.get("metadata"))
    keys = normalized_keys(_tag_pairs(merged.get("tags")), trace_meta, metadata)
    environment = merged.get("environment")
    if environment is not None and str(environment) != "default":
        keys.setdefault("environment", environment)
    for field, key in zip(_DIRECT, ("user_id", "session_id", "project_id"), strict=True):
        if merged.get(field) is not None:
            keys[key] = merged[field]
    dims = dimensions(keys)
    dims["x_QualityScore"] = quality_score(keys) if quality_score(keys) is not None else _score(merged.get("scores"))
    tags = {k: merged[k] for k in ("traceId", "name", "level", "statusMessage", "environment", "version", "release",
                                   "promptName", "promptVersion", "usagePricingTierName", "modelId")
            if merged.get(k) is not None}
    tags.update({k: merged[k] for k in ("tags", "usageDetails", "costDetails") if merged.get(k)})
    if metadata:
        tags["metadata"] = small_tags(metadata)
    return dims, tags


def _row(obs: Any, trace: dict[str, Any], ordinal: int, locator: str | None, path: str) -> dict[str, Any]:
    if isinstance(obs, TraceSummary):
        raise Fault("observations", obs.shown(), TRACE_REASON)
    if not isinstance(obs, dict):
        raise Fault("record", obs, "record is not a JSON object")
    request_id = obs.get("id")
    if not isinstance(request_id, str | int) or not str(request_id).strip():
        raise Fault("id", request_id, "missing observation id")
    start = _time(obs.get("startTime"), "startTime")
    end = None if obs.get("endTime") is None else _time(obs["endTime"], "endTime")
    if end is not None and end < start:
        raise Fault("endTime", obs["endTime"], "observation ends before it starts")
    buckets, marks = _buckets(obs)
    cost = _cost(obs)
    model_raw = next((str(obs[k]) for k in ("model", "providedModelName") if obs.get(k)), None)
    model = canonical_model(model_raw)
    dims, tags = _dimensions(obs, trace)
    metadata, params = _as_dict(obs.get("metadata")), _as_dict(obs.get("modelParameters"))
    provider = next((metadata[k] for k in PROVIDER_KEYS if metadata.get(k)), None)
    tier = str(metadata.get("service_tier") or params.get("service_tier") or "").lower()
    latency = obs.get("latency")
    latency_ms = ((end - start).total_seconds() * 1000 if end is not None
                  else float(latency) * 1000 if isinstance(latency, int | float | Decimal)
                  and not isinstance(latency, bool) else None)
    return {
        **buckets, **dims,
        "x_RequestId": str(request_id), "ChargePeriodStart": start, "ChargePeriodEnd": end,
        "ProviderName": provider_for(provider, model),
        "x_Model": model, "x_ModelRaw": model_raw, "x_Operation": str(obs.get("type") or "generation").lower(),
        "x_ServiceTier": TIERS.get(tier), "x_LatencyMs": latency_ms,
        "x_Status": "failure" if str(obs.get("level") or "").upper() == "ERROR" else "success",
        "x_ReportedCost": cost, "BillingCurrency": "USD", "Tags": tags_json(tags),
        "x_SourceFormat": FORMAT, "x_SourceFile": path, "x_SourceRow": ordinal, "x_SourceLocator": locator,
        "x_RowHash": row_hash(FORMAT, str(request_id)),
        "x_DataQualityFlags": flags(*marks, None if model else "model_unknown",
                                    "reported_cost_missing" if cost is None else None),
    }


@register_source(FORMAT, table="requests", detect=_detect, line_id="observation id",
                 description="Langfuse observations: public API JSON (v1 or v2 page, array, JSONL, traces with "
                             "their observations) or the UI's CSV export: one row per generation")
def read(path: Path, con: BaseBackend) -> ReadResult:
    """Read a Langfuse observations export into ``requests`` rows, one per generation or embedding.

    Reads a JSON page, JSON array or JSONL file (optionally gzip) of observations, or of traces with their
    observations, or the UI's CSV export. A reader of :data:`finops_lib.sources.SOURCES`:
    ``read(path, con) -> ReadResult``.
    """
    path = Path(path)
    if not _json_file(path):
        return _read_csv(path)
    shown = str(path)
    documents, several = read_documents(path)
    rows, rejects = [], []
    ordinal = 0
    for doc in documents:
        prefix = f"line {doc.line}" if several else ""
        found = ([(prefix, None, {})] if doc.error is not None
                 else _observations(doc.value, f"{prefix}: " if prefix else "", {}))
        for locator, obs, trace in found:
            ordinal += 1
            try:
                if doc.error is not None:
                    raise Fault("record", None, doc.error)
                rows.append(_row(obs, trace, ordinal, locator.rstrip(": "), shown))
            except Fault as fault:
                rejects.append(reject(FORMAT, shown, ordinal, fault.column, fault.value, fault.reason, "requests",
                                      locator.rstrip(": ")))
    return ReadResult(FORMAT, shown, None, records_table(rows, "requests"), records_table(rejects, "rejects"),
                      ordinal)


def _json_file(path: Path) -> bool:
    """Whether the file holds JSON (by content); a file that cannot be opened is left to the JSON reader's error."""
    try:
        return read_head(path, 4096).lstrip("\ufeff \t\r\n").startswith(("{", "["))
    except (OSError, EOFError):
        return True


def _read_csv(path: Path) -> ReadResult:
    """Read the UI's CSV export: one line per observation (header = line 1), records numbered by line."""
    shown = str(path)
    rows, rejects = [], []
    count, typed = 0, None
    for line, _, record in records(path, require):
        try:
            if isinstance(record, Fault):
                raise record
            typed = "type" in record if typed is None else typed
            obs = observation(record, typed=typed)
            if not _is_record(obs):
                continue  # trace structure (SPAN, EVENT...), as in the JSON export
            rows.append(_row(obs, {}, line, None, shown))
        except Fault as fault:
            rejects.append(reject(FORMAT, shown, line, fault.column, fault.value, fault.reason, "requests"))
        count += 1
    return ReadResult(FORMAT, shown, None, records_table(rows, "requests"), records_table(rejects, "rejects"), count)
