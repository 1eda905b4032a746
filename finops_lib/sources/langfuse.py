"""Langfuse observations export (public API JSON, JSON lines, the UI's CSV): one ``requests`` row per generation.

Accepts what a client saves from ``GET /api/public/observations`` (v1) or ``GET /api/public/v2/observations``
(v2: ``projectId``, ``userId``, ``sessionId``, ``providedModelName``, ``totalCost``, a cursor page): a page
``{"data": [...], "meta": {...}}``, a bare JSON array, one observation per line (JSONL), and traces with
their full observations (``GET /api/public/traces/{id}``: ``{"id", "userId", "sessionId", "tags", "scores",
"observations": [{...}]}``, alone, in a list or a page); and the UI's CSV export of the observations or
generations table (:mod:`finops_lib.sources._langfuse_csv`; ``x_SourceRow`` is then the CSV line).

Traces list (``GET /api/public/traces``): each trace lists observation *ids* and a ``totalCost`` that is the
sum of those observations' costs, with no tokens and no model. Decision: such a trace summary is a record of
this format and is **rejected** (column ``observations``, the reason saying so), not loaded: a request row for
it would hold no model call, count one request for a trace of any number of calls, and count its cost a second
time once its observations are loaded (their ids differ, so no key could merge them). Export the observations
instead; nothing of the traces list is silently skipped.

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
* Deprecated ``usage`` (``{input, output, total, unit}``, token units only), then the UI export's
  flattened ``inputUsage``/``outputUsage``/``totalUsage`` (``inputUsage`` sums every ``input*`` key, cache
  included: flag ``token_subfields_missing``), then the legacy ``promptTokens``/``completionTokens`` fields are
  read when ``usageDetails`` is absent or empty; a bad count is rejected naming its own column.
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
    iso_time,
    normalized_keys,
    provider_for,
    quality_score,
    read_documents,
    small_tags,
    tags_json,
)
from finops_lib.sources._langfuse_csv import is_observations_csv, observation, require
from finops_lib.sources._langfuse_usage import reported_cost, usage_buckets
from finops_lib.sources._records import records

FORMAT = "langfuse_observations"
#: Why a trace summary (a trace listing observation ids only) is rejected instead of loaded.
TRACE_REASON = (
    "trace summary without its observations (GET /api/public/traces): its totalCost is the sum of "
    "model calls this file does not hold, with no tokens or model; not loaded, since it would count "
    "that cost again once the observations are loaded: export the observations instead"
)
MODEL_TYPES = {"GENERATION", "EMBEDDING"}
PROVIDER_KEYS = ("provider", "ls_provider", "gen_ai.provider.name", "gen_ai.system", "custom_llm_provider")
SCORE_NAMES = {"quality", "quality_score", "quality-score"}
#: Trace fields an observation inherits when it has none of its own.
TRACE_FIELDS = ("userId", "sessionId", "tags", "environment", "release", "metadata", "scores", "projectId")
_DIRECT = ("userId", "sessionId", "projectId")


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
    traces = (
        '"observations"' in head
        and bool(re.search(r'"timestamp"\s*:\s*"', head))
        and bool(re.search(r'"(htmlPath|totalCost)"\s*:', head))
    )
    return traces or (
        bool(re.search(r'"traceId"\s*:', head))
        and bool(re.search(r'"startTime"\s*:\s*"', head))
        and (bool(re.search(r'"type"\s*:\s*"[A-Z_]+"', head)) or '"usageDetails"' in head)
    )


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
    tags = {
        k: merged[k]
        for k in (
            "traceId",
            "name",
            "level",
            "statusMessage",
            "environment",
            "version",
            "release",
            "promptName",
            "promptVersion",
            "usagePricingTierName",
            "modelId",
        )
        if merged.get(k) is not None
    }
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
    start = iso_time(obs.get("startTime"), "startTime")
    end = None if obs.get("endTime") is None else iso_time(obs["endTime"], "endTime")
    if end is not None and end < start:
        raise Fault("endTime", obs["endTime"], "observation ends before it starts")
    buckets, marks = usage_buckets(obs)
    cost = reported_cost(obs)
    model_raw = next((str(obs[k]) for k in ("model", "providedModelName") if obs.get(k)), None)
    model = canonical_model(model_raw)
    dims, tags = _dimensions(obs, trace)
    metadata, params = _as_dict(obs.get("metadata")), _as_dict(obs.get("modelParameters"))
    provider = next((metadata[k] for k in PROVIDER_KEYS if metadata.get(k)), None)
    tier = str(metadata.get("service_tier") or params.get("service_tier") or "").lower()
    latency = obs.get("latency")
    latency_ms = (
        (end - start).total_seconds() * 1000
        if end is not None
        else float(latency) * 1000
        if isinstance(latency, int | float | Decimal) and not isinstance(latency, bool)
        else None
    )
    return {
        **buckets,
        **dims,
        "x_RequestId": str(request_id),
        "ChargePeriodStart": start,
        "ChargePeriodEnd": end,
        "ProviderName": provider_for(provider, model),
        "x_Model": model,
        "x_ModelRaw": model_raw,
        "x_Operation": str(obs.get("type") or "generation").lower(),
        "x_ServiceTier": TIERS.get(tier),
        "x_LatencyMs": latency_ms,
        "x_Status": "failure" if str(obs.get("level") or "").upper() == "ERROR" else "success",
        "x_ReportedCost": cost,
        "BillingCurrency": "USD",
        "Tags": tags_json(tags),
        "x_SourceFormat": FORMAT,
        "x_SourceFile": path,
        "x_SourceRow": ordinal,
        "x_SourceLocator": locator,
        "x_RowHash": row_hash(FORMAT, str(request_id)),
        "x_DataQualityFlags": flags(
            *marks, None if model else "model_unknown", "reported_cost_missing" if cost is None else None
        ),
    }


@register_source(
    FORMAT,
    table="requests",
    detect=_detect,
    line_id="observation id",
    description="Langfuse observations: public API JSON (v1 or v2 page, array, JSONL, traces with "
    "their observations) or the UI's CSV export: one row per generation",
)
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
        found = (
            [(prefix, None, {})]
            if doc.error is not None
            else _observations(doc.value, f"{prefix}: " if prefix else "", {})
        )
        for locator, obs, trace in found:
            ordinal += 1
            try:
                if doc.error is not None:
                    raise Fault("record", None, doc.error)
                rows.append(_row(obs, trace, ordinal, locator.rstrip(": "), shown))
            except Fault as fault:
                rejects.append(
                    reject(
                        FORMAT,
                        shown,
                        ordinal,
                        fault.column,
                        fault.value,
                        fault.reason,
                        "requests",
                        locator.rstrip(": "),
                    )
                )
    return ReadResult(FORMAT, shown, None, records_table(rows, "requests"), records_table(rejects, "rejects"), ordinal)


def _json_file(path: Path) -> bool:
    """Whether the file holds JSON (by content); a file that cannot be opened is left to the JSON reader's error."""
    try:
        return read_head(path, 4096).lstrip("\ufeff \t\r\n").startswith(("{", "["))
    except (OSError, EOFError):
        return True


def _text(value: object) -> object:
    """Return a reject's value storable as UTF-8 (the CSV records keep undecodable bytes as lone surrogates)."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value


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
            rejects.append(reject(FORMAT, shown, line, fault.column, _text(fault.value), fault.reason, "requests"))
        count += 1
    return ReadResult(FORMAT, shown, None, records_table(rows, "requests"), records_table(rejects, "rejects"), count)
