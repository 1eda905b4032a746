"""OpenTelemetry GenAI spans (OTLP JSON file export): one ``requests`` row per model call.

Accepts what an OpenTelemetry collector's file exporter or an SDK writes: one OTLP/JSON export
request ``{"resourceSpans": [{"resource": ..., "scopeSpans": [{"spans": [...]}]}]}``, newline-delimited
files with one export request per line, concatenated pretty-printed objects, and the flattened span
form some SDKs and collectors write (``{"name", "context": {"trace_id", "span_id"}, "start_time",
"attributes": {...}, "resource": {"attributes": {...}}}``, or ``traceId``/``spanId`` at the top).

What a record is: a *model-call span*, i.e. a span carrying a GenAI marker attribute
(``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.system`` or ``gen_ai.request.model``),
except

* tool, retrieval, agent and workflow spans (``execute_tool``, ``retrieval``, ``create_agent``,
  ``invoke_agent``, ``invoke_workflow``) that carry no token usage: they are not model calls;
* spans that have, below them in the same file, a GenAI span carrying token usage: an agent span's
  usage, or a framework wrapper span around an SDK span (LangChain over OpenAI, say), aggregates
  the calls below it and would count them twice.

Spans that are not records (HTTP, database, the aggregates above) are not counted as read. Every
record is loaded or rejected. A span whose attributes cannot be read, and a line of a
newline-delimited file that is not JSON, are rejected as one record each (their GenAI-ness cannot
be told). ``x_SourceRow`` is the record's ordinal; ``x_SourceLocator`` says where it is
(``line 3: resourceSpans[0].scopeSpans[1].spans[4]``).

Quirks handled here (``reference/formats.md`` section 8.1):

* Attributes are ``[{key, value: {stringValue|intValue|doubleValue|boolValue|arrayValue|kvlistValue}}]``;
  ``intValue`` is a string in OTLP/JSON; times are ``startTimeUnixNano`` strings; ids are hex (base64
  ids written by generic protobuf printers are converted to hex).
* ``gen_ai.usage.input_tokens`` *includes* cache reads and writes (``gen_ai.usage.cache_read.input_tokens``,
  ``gen_ai.usage.cache_creation.input_tokens``, and the older OpenLLMetry spellings
  ``gen_ai.usage.cache_read_input_tokens`` / ``gen_ai.usage.cache_creation_input_tokens``). When the
  input comes out smaller than its cache parts, the instrumentation excluded them: the input is taken
  as the uncached bucket and the row flagged ``cache_semantics_inferred``. Cache writes have no TTL
  split: they go to the 5-minute bucket (flag ``cache_ttl_assumed``). Spans without any cache
  attribute are flagged ``token_subfields_missing`` (except embeddings).
* Deprecated ``gen_ai.usage.prompt_tokens`` / ``completion_tokens`` are read when the new names are
  absent; ``gen_ai.usage.reasoning.output_tokens`` is a subset of output.
* No cost in the conventions: ``gen_ai.usage.cost`` (OpenLIT, USD; UNCONFIRMED) is read exactly when
  present, otherwise the cost is null (not flagged: the format never carries one).
* Request id = ``<trace id>:<span id>``; the provider comes from ``gen_ai.provider.name`` (else the
  deprecated ``gen_ai.system``), the model from ``gen_ai.response.model`` else ``gen_ai.request.model``.
* Status: span status code ``ERROR`` (2) or an ``error.type`` attribute mean failure.
* Message content attributes (prompts, completions, tool definitions) never enter ``Tags``.

The JSON-document reading and dimension helpers shared with the Langfuse reader are in
:mod:`finops_lib.sources._genai`, the OTLP span structure in :mod:`finops_lib.sources._otlp`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ibis.backends import BaseBackend

from finops_lib.models import canonical_model
from finops_lib.sources import ReadResult, register_source
from finops_lib.sources._common import Fault, flags, records_table, reject, row_hash, unix_in_window
from finops_lib.sources._genai import (
    TIERS,
    dimensions,
    exact_amount,
    normalized_keys,
    plausible,
    provider_for,
    quality_score,
    read_documents,
    scalar_text,
    small_tags,
    tags_json,
    token_count,
)
from finops_lib.sources._otlp import TOKEN_KEYS, Span, select_records, spans_of

FORMAT = "otel_genai"
OPERATIONS = {"embeddings": "embedding", "text_completion": "completion"}
COST_KEY = "gen_ai.usage.cost"
TIER_KEYS = ("openai.response.service_tier", "openai.request.service_tier",
             "gen_ai.openai.response.service_tier", "gen_ai.openai.request.service_tier")


# --- span -> requests row -----------------------------------------------------------------------


def _first(attrs: dict[str, Any], keys: tuple[str, ...]) -> tuple[str, Any]:
    """Return (key, value) of the first present attribute among ``keys`` (``(keys[0], None)`` if none)."""
    for key in keys:
        if attrs.get(key) is not None:
            return key, attrs[key]
    return keys[0], None


def _count(attrs: dict[str, Any], bucket: str) -> int | None:
    key, value = _first(attrs, TOKEN_KEYS[bucket])
    return None if value is None else token_count(value, key)


def _time(raw: dict[str, Any], nano_key: str, iso_key: str) -> tuple[datetime | None, int | None]:
    """Return (UTC time, Unix nanoseconds when given so) of a span time field; (None, None) when absent.

    Raises
    ------
    Fault
        When the field is present but not a time.
    """
    value = raw.get(nano_key, raw.get(iso_key))
    column = nano_key if nano_key in raw else iso_key
    if value is None or value in ("", "0", 0):
        return None, None
    try:
        if isinstance(value, int | Decimal) or (isinstance(value, str) and value.strip().removeprefix("-").isdigit()):
            nanos = int(unix_in_window(value, column, scale=10**9))
            ts = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=nanos // 1000)
            return plausible(ts, column, value), nanos
        if isinstance(value, str):
            ts = datetime.fromisoformat(value.strip())
            return plausible(ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC), column, value), None
    except Fault:
        raise  # outside the plausible window: its own reason
    except (ValueError, OverflowError):
        pass
    raise Fault(column, value, "not Unix nanoseconds or an ISO-8601 time")


def _status(raw: dict[str, Any], attrs: dict[str, Any]) -> str:
    status = raw.get("status") if isinstance(raw.get("status"), dict) else {}
    code = str(status.get("code", status.get("status_code", ""))).upper()
    return "failure" if code in ("2", "STATUS_CODE_ERROR", "ERROR") or attrs.get("error.type") else "success"


def _buckets(attrs: dict[str, Any], operation: str) -> tuple[dict[str, int | None], set[str]]:
    """Split a span's usage into the disjoint request token columns; return (columns, flags)."""
    total_in, output = _count(attrs, "input") or 0, _count(attrs, "output") or 0
    read, write, reasoning = _count(attrs, "cache_read"), _count(attrs, "cache_write"), _count(attrs, "reasoning")
    marks: set[str] = set()
    if read is None and write is None and total_in and operation != "embedding":
        marks.add("token_subfields_missing")
    read, write = read or 0, write or 0
    uncached = total_in - read - write
    if uncached < 0:
        uncached = total_in
        marks.add("cache_semantics_inferred")
    if write:
        marks.add("cache_ttl_assumed")
    return {"x_InputUncachedTokens": uncached, "x_InputCacheReadTokens": read, "x_InputCacheWrite5mTokens": write,
            "x_InputCacheWrite1hTokens": 0, "x_OutputTokens": output,
            "x_OutputReasoningTokens": None if reasoning is None else min(reasoning, output)}, marks


def _row(span: Span, ordinal: int, path: str) -> dict[str, Any]:
    raw, attrs = span.raw, span.attrs or {}
    trace, own, _ = span.ids()
    if trace is None or own is None:
        raise Fault("traceId" if trace is None else "spanId", None, "missing trace or span id")
    start, start_ns = _time(raw, "startTimeUnixNano", "start_time")
    if start is None:
        raise Fault("startTimeUnixNano", raw.get("startTimeUnixNano", raw.get("start_time")), "missing start time")
    end, end_ns = _time(raw, "endTimeUnixNano", "end_time")
    if end is not None and end < start:
        raise Fault("endTimeUnixNano", raw.get("endTimeUnixNano", raw.get("end_time")), "span ends before it starts")
    operation = str(attrs.get("gen_ai.operation.name") or "").strip().lower() or None
    operation = OPERATIONS.get(operation, operation) if operation else None
    buckets, marks = _buckets(attrs, operation or "")
    cost = attrs.get(COST_KEY)
    model_raw = scalar_text(attrs.get("gen_ai.response.model")) or scalar_text(attrs.get("gen_ai.request.model"))
    model = canonical_model(model_raw)
    keys = normalized_keys(span.resource, attrs)
    dims = dimensions(keys)
    dims["x_Application"] = dims["x_Application"] or scalar_text(span.resource.get("service.name"))
    tier = next((str(attrs[k]).lower() for k in TIER_KEYS if attrs.get(k) is not None), None)
    latency = ((end_ns - start_ns) / 1e6 if end_ns is not None and start_ns is not None
               else (end - start).total_seconds() * 1000 if end is not None else None)
    provider = attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system")
    tags = {**small_tags(span.resource), **small_tags(attrs)}
    if isinstance(raw.get("name"), str):
        tags["span.name"] = raw["name"]
    return {
        **buckets, **dims,
        "x_RequestId": f"{trace}:{own}", "ChargePeriodStart": start, "ChargePeriodEnd": end,
        "ProviderName": provider_for(provider, model), "x_Model": model, "x_ModelRaw": model_raw,
        "x_Operation": operation, "x_ServiceTier": TIERS.get(tier) if tier else None,
        "x_LatencyMs": latency, "x_Status": _status(raw, attrs),
        "x_ReportedCost": None if cost is None else exact_amount(cost, COST_KEY), "BillingCurrency": "USD",
        "x_QualityScore": quality_score(keys), "Tags": tags_json(tags),
        "x_SourceFormat": FORMAT, "x_SourceFile": path, "x_SourceRow": ordinal, "x_SourceLocator": span.locator,
        "x_RowHash": row_hash(FORMAT, f"{trace}:{own}"),
        "x_DataQualityFlags": flags(*marks, None if model else "model_unknown"),
    }


def _detect(path: Path, head: str) -> bool:
    if '"resourceSpans"' in head:
        return True
    return ('"attributes"' in head and '"gen_ai.' in head
            and bool(re.search(r'"(span_id|spanId)"\s*:', head)) and '"usageDetails"' not in head)


@register_source(FORMAT, table="requests", detect=_detect, line_id="trace and span id",
                 description="OpenTelemetry GenAI spans (OTLP JSON / JSON lines export): one row per model call")
def read(path: Path, con: BaseBackend) -> ReadResult:
    """Read an OTLP JSON span export into ``requests`` rows, one per model-call span.

    Reads oTLP/JSON file (optionally gzip): one export request, one per line, or flattened spans. A reader of
    :data:`finops_lib.sources.SOURCES`: ``read(path, con) -> ReadResult``.
    """
    path = Path(path)
    shown = str(path)
    documents, several = read_documents(path)
    found: list[Span] = []
    for doc in documents:
        if doc.error is not None:
            found.append(Span(f"line {doc.line}", None, {}, None, Fault("record", None, doc.error)))
        else:
            found.extend(spans_of(doc.value, f"line {doc.line}: " if several else ""))
    rows, rejects = [], []
    records = select_records(found)
    for ordinal, span in enumerate(records, start=1):
        try:
            if span.error is not None:
                raise span.error
            rows.append(_row(span, ordinal, shown))
        except Fault as fault:
            rejects.append(reject(FORMAT, shown, ordinal, fault.column, fault.value, fault.reason, "requests",
                                  span.locator))
    return ReadResult(FORMAT, shown, None, records_table(rows, "requests"), records_table(rejects, "rejects"),
                      len(records))
