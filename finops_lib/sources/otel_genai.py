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

The module also holds the JSON-document reading and dimension helpers shared with the Langfuse reader.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ibis.backends import BaseBackend

from finops_lib.errors import SourceError
from finops_lib.models import MODEL_PREFIX_PROVIDERS, canonical_model, provider_name
from finops_lib.sources import ReadResult, register_source
from finops_lib.sources._common import MAX_COUNT, MONEY_LIMIT, flags, money, records_table, reject, row_hash

FORMAT = "otel_genai"
MARKERS = ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model")
#: GenAI operations that are not a model call; a span of one is a record only when it carries usage
#: and no GenAI span with usage lies below it.
NON_CALL_OPERATIONS = {"execute_tool", "retrieval", "create_agent", "invoke_agent", "invoke_workflow"}
OPERATIONS = {"embeddings": "embedding", "text_completion": "completion"}
#: Token attributes per bucket, current name first, then older or third-party spellings.
TOKEN_KEYS: dict[str, tuple[str, ...]] = {
    "input": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
    "output": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
    "cache_read": ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
                   "gen_ai.usage.cached_input_tokens"),
    "cache_write": ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens"),
    "reasoning": ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens"),
}
COST_KEY = "gen_ai.usage.cost"
TIER_KEYS = ("openai.response.service_tier", "openai.request.service_tier",
             "gen_ai.openai.response.service_tier", "gen_ai.openai.request.service_tier")
TIERS = {"default": "standard", "auto": "standard", "standard": "standard", "on_demand": "standard",
         "flex": "flex", "priority": "priority", "scale": "provisioned", "batch": "batch"}
#: OTel ``gen_ai.provider.name`` values that :func:`finops_lib.models.provider_name` does not know.
OTEL_PROVIDERS = {"azure.ai.inference": "Microsoft", "gcp.gen_ai": "Google", "ibm.watsonx.ai": "IBM",
                  "mistral_ai": "Mistral", "x_ai": "xAI", "deepseek": "DeepSeek", "groq": "Groq",
                  "perplexity": "Perplexity", "cohere": "Cohere"}
#: Attribute or metadata keys (lower case, after :data:`KEY_PREFIXES` are removed) per column.
DIMENSION_KEYS: dict[str, tuple[str, ...]] = {
    "x_Team": ("team", "team.name", "team_name", "team_id"),
    "x_Application": ("app", "application", "app.name", "application.name", "app_name"),
    "x_Feature": ("feature", "feature.name", "feature_name"),
    "x_Environment": ("env", "environment", "deployment.environment.name", "deployment.environment"),
    "x_ExperimentId": ("experiment_id", "experiment.id", "experiment", "experiment.name"),
    "x_Variant": ("variant", "experiment.variant", "experiment_variant", "variant.name"),
    "x_UserId": ("user.id", "enduser.id", "user_id", "user"),
    "x_SessionId": ("gen_ai.conversation.id", "session.id", "session_id", "conversation.id", "thread_id"),
    "SubAccountId": ("project", "project.id", "project_id", "workspace", "workspace_id"),
    "x_ApiKeyId": ("api_key_id", "api_key.id"),
}
QUALITY_KEYS = ("quality_score", "quality.score", "score.quality")
#: Namespaces under which instrumentations put user-defined properties.
KEY_PREFIXES = ("traceloop.association.properties.", "langfuse.trace.metadata.", "langfuse.observation.metadata.",
                "langfuse.", "app.", "tag.", "metadata.")
#: Keys holding message content: never copied into ``Tags``.
_CONTENT = re.compile(r"(prompt|completion|messages|instructions|tool\.definitions|content|input\.value|"
                      r"output\.value|\.input$|\.output$)", re.I)
_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True)
class Document:
    """One top-level JSON value of a file: where it starts, its value, or why it is unreadable."""

    line: int
    value: Any
    error: str | None = None


class Fault(ValueError):
    """A record cannot be loaded: the column (field) at fault, its value and the reason."""

    def __init__(self, column: str, value: object, reason: str) -> None:
        super().__init__(reason)
        self.column, self.value, self.reason = column, value, reason


def read_documents(path: Path) -> tuple[list[Document], bool]:
    """Return the JSON documents of a file and whether it holds several (one per line, or concatenated).

    A file of several lines of which one of the first five is a whole JSON object is newline-delimited:
    it is read line by line, and a line that is not JSON (or not UTF-8) becomes a
    :class:`Document` with an ``error`` instead of failing the file. A single document, or
    concatenated documents, must parse; only a broken last document is kept as an error.

    Raises
    ------
    SourceError
        When the file cannot be read, or its (first) document is not JSON.
    """
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise SourceError(path, f"cannot read file: {exc}") from exc
    lines = data.split(b"\n")
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if len(filled) > 1 and any(_is_json_object(lines[i]) for i in filled[:5]):
        return [_line_document(i + 1, lines[i]) for i in filled], True
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(path, f"not UTF-8 text (byte {exc.start})") from exc
    return _concatenated(path, text)


def _is_json_object(line: bytes) -> bool:
    """Whether a line alone is a non-empty JSON object or array (so the file is newline-delimited)."""
    try:
        value = json.loads(line.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(value, dict | list) and bool(value)


def _line_document(number: int, line: bytes) -> Document:
    try:
        return Document(number, json.loads(line.decode("utf-8-sig"), parse_float=Decimal))
    except UnicodeDecodeError as exc:
        return Document(number, None, f"not UTF-8 text (byte {exc.start})")
    except ValueError as exc:
        return Document(number, None, f"not valid JSON: {exc}")


def _concatenated(path: Path, text: str) -> tuple[list[Document], bool]:
    decoder = json.JSONDecoder(parse_float=Decimal)
    docs: list[Document] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        line = text.count("\n", 0, pos) + 1
        try:
            value, pos = decoder.raw_decode(text, pos)
        except ValueError as exc:
            if not docs:
                raise SourceError(path, f"not valid JSON: {exc}", line=getattr(exc, "lineno", None)) from exc
            docs.append(Document(line, None, f"not valid JSON: {exc}"))
            break
        docs.append(Document(line, value))
    if not docs:
        raise SourceError(path, "empty file: no JSON document")
    return docs, len(docs) > 1


def token_count(value: object, column: str) -> int:
    """Return ``value`` as a non-negative integer token count (integral floats and digit strings too).

    Raises
    ------
    Fault
        When it is not one.
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str | float):
        raise Fault(column, value, "not a non-negative integer")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise Fault(column, value, "not a non-negative integer") from None
    if not number.is_finite() or number < 0 or number != number.to_integral_value():
        raise Fault(column, value, "not a non-negative integer")
    if number > MAX_COUNT:
        raise Fault(column, value, f"implausibly large (over {MAX_COUNT:.0e})")
    return int(number)


def exact_amount(value: object, column: str) -> Decimal:
    """Return a money amount parsed exactly from its JSON text (never through float), 12 places."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise Fault(column, value, "not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise Fault(column, value, "not a number") from None
    if not number.is_finite() or number < 0:
        raise Fault(column, value, "not a non-negative number")
    if number >= MONEY_LIMIT:
        raise Fault(column, value, "out of range (a money column holds magnitudes below 1e26)")
    return money(number)


def plausible(ts: datetime, column: str, value: object) -> datetime:
    """Return ``ts`` when it lies in the years 1970-2199 (anything else is a corrupt value)."""
    if not 1970 <= ts.year < 2200:
        raise Fault(column, value, "outside the years 1970-2199")
    return ts


def normalized_keys(*sources: dict[str, Any]) -> dict[str, Any]:
    """Merge attribute/metadata dicts (later ones win) keyed by lower-case name without namespace prefixes."""
    out: dict[str, Any] = {}
    for source in sources:
        for key, value in source.items():
            name = str(key).lower()
            out[name] = value
            for prefix in KEY_PREFIXES:
                if name.startswith(prefix) and len(name) > len(prefix):
                    out[name[len(prefix):]] = value
                    break
    return out


def dimensions(keys: dict[str, Any]) -> dict[str, str | None]:
    """Return the dimension columns found in normalized keys (first matching key per column)."""
    out: dict[str, str | None] = {}
    for column, names in DIMENSION_KEYS.items():
        found = next((keys[n] for n in names if _text(keys.get(n)) is not None), None)
        out[column] = _text(found)
    return out


def quality_score(keys: dict[str, Any]) -> float | None:
    """Return a quality score in [0, 1] from normalized keys, else None."""
    for name in QUALITY_KEYS:
        try:
            score = float(str(keys[name]))
        except (KeyError, ValueError, TypeError):
            continue
        if 0 <= score <= 1:
            return score
    return None


def small_tags(values: dict[str, Any]) -> dict[str, Any]:
    """Keep scalar (and list-of-scalar) values that are not message content, strings cut to 256 chars."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if _CONTENT.search(str(key)):
            continue
        if isinstance(value, list) and all(isinstance(v, str | int | float | bool | Decimal) for v in value):
            out[str(key)] = [str(v)[:256] if isinstance(v, str) else v for v in value][:50]
        elif isinstance(value, str):
            out[str(key)] = value[:256]
        elif isinstance(value, int | float | bool | Decimal):
            out[str(key)] = value
    return out


def provider_for(raw: object, model: str | None) -> str:
    """Return the FOCUS provider name from a provider spelling, else the model's prefix, else ``Unknown``."""
    if _text(raw) is not None:
        key = str(raw).strip().lower()
        return OTEL_PROVIDERS.get(key) or provider_name(key) or "Unknown"
    for prefix, name in MODEL_PREFIX_PROVIDERS:
        if model and model.startswith(prefix):
            return name
    return "Unknown"


def tags_json(values: dict[str, Any]) -> str | None:
    """Return the JSON text of a tags dict (Decimals as numbers), None when empty."""
    return json.dumps(values, default=lambda v: float(v) if isinstance(v, Decimal) else str(v),
                      sort_keys=True) if values else None


def _text(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None



# --- OTLP spans ---------------------------------------------------------------------------------


@dataclass
class _Span:
    """A span found in the file, before it is known whether it is a record."""

    locator: str
    attrs: dict[str, Any] | None
    resource: dict[str, Any]
    raw: Any
    error: Fault | None = None

    def ids(self) -> tuple[str | None, str | None, str | None]:
        """Return (trace id, span id, parent span id) as lower-case hex, None when absent."""
        raw = self.raw if isinstance(self.raw, dict) else {}
        context = raw.get("context") if isinstance(raw.get("context"), dict) else {}
        trace = raw.get("traceId", raw.get("trace_id", context.get("trace_id")))
        span = raw.get("spanId", raw.get("span_id", context.get("span_id")))
        parent = raw.get("parentSpanId", raw.get("parent_span_id", raw.get("parent_id")))
        return _hex_id(trace), _hex_id(span), _hex_id(parent)


def _hex_id(value: object) -> str | None:
    """Return an OTLP id as lower-case hex (``0x`` prefix dropped; base64 ids decoded), None when empty."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().lower().removeprefix("0x")
    if _HEX.match(text) and len(text) in (16, 32):
        return text
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return text
    return raw.hex() if len(raw) in (8, 16) else text


def any_value(value: object) -> Any:
    """Return the Python value of an OTLP ``AnyValue`` (``intValue`` strings become ints when they can)."""
    if not isinstance(value, dict):
        return value
    if "intValue" in value:
        raw = value["intValue"]
        return int(raw) if isinstance(raw, str) and raw.strip().lstrip("-").isdigit() else raw
    if "arrayValue" in value:
        items = value["arrayValue"].get("values", []) if isinstance(value["arrayValue"], dict) else []
        return [any_value(v) for v in items] if isinstance(items, list) else items
    if "kvlistValue" in value:
        items = value["kvlistValue"].get("values", []) if isinstance(value["kvlistValue"], dict) else []
        return attributes(items) if isinstance(items, list) else items
    for key in ("stringValue", "doubleValue", "boolValue", "bytesValue"):
        if key in value:
            return value[key]
    return None


def attributes(raw: object) -> dict[str, Any]:
    """Return OTLP ``[{key, value}]`` attributes (or an already flat dict) as a dict.

    Raises
    ------
    Fault
        When the attributes are neither.
    """
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return dict(raw)
    if not isinstance(raw, list):
        raise Fault("attributes", raw, "attributes are neither a list of key/value pairs nor an object")
    out: dict[str, Any] = {}
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise Fault("attributes", item, "attribute without a string 'key'")
        out[item["key"]] = any_value(item.get("value"))
    return out


def _spans_of(value: Any, where: str) -> Iterator[_Span]:
    """Yield every span of one JSON document (an export request, a list, or a flattened span)."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _spans_of(item, f"{where}[{i}]")
    elif isinstance(value, dict) and "resourceSpans" in value:
        yield from _export_spans(value["resourceSpans"], f"{where}resourceSpans")
    else:
        yield _flat_span(value, where.rstrip(": ") or "$")


def _listed(value: object, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Fault(what, value, f"'{what}' is not a list")
    return value


def _export_spans(resource_spans: object, where: str) -> Iterator[_Span]:
    try:
        groups = _listed(resource_spans, "resourceSpans")
    except Fault as fault:
        yield _Span(where, None, {}, resource_spans, fault)
        return
    for i, group in enumerate(groups):
        at = f"{where}[{i}]"
        try:
            if not isinstance(group, dict):
                raise Fault("resourceSpans", group, "resource spans entry is not an object")
            resource = group.get("resource") if isinstance(group.get("resource"), dict) else {}
            resource_attrs = attributes(resource.get("attributes"))
            scopes = _listed(group.get("scopeSpans", group.get("instrumentationLibrarySpans")), "scopeSpans")
        except Fault as fault:
            yield _Span(at, None, {}, group, fault)
            continue
        for j, scope in enumerate(scopes):
            spans = scope.get("spans") if isinstance(scope, dict) else scope
            try:
                listed = _listed(spans, "spans")
            except Fault as fault:
                yield _Span(f"{at}.scopeSpans[{j}]", None, resource_attrs, scope, fault)
                continue
            for k, span in enumerate(listed):
                yield _with_attributes(span, f"{at}.scopeSpans[{j}].spans[{k}]", resource_attrs)


def _with_attributes(span: Any, locator: str, resource: dict[str, Any]) -> _Span:
    if not isinstance(span, dict):
        return _Span(locator, None, resource, span, Fault("span", span, "span is not a JSON object"))
    try:
        return _Span(locator, attributes(span.get("attributes")), resource, span)
    except Fault as fault:
        return _Span(locator, None, resource, span, fault)


def _flat_span(span: Any, locator: str) -> _Span:
    resource: dict[str, Any] = {}
    if isinstance(span, dict) and isinstance(span.get("resource"), dict):
        try:
            resource = attributes(span["resource"].get("attributes"))
        except Fault as fault:
            return _Span(locator, None, {}, span, fault)
    return _with_attributes(span, locator, resource)


def _has_usage(attrs: dict[str, Any]) -> bool:
    return any(k in attrs for keys in TOKEN_KEYS.values() for k in keys)


def _is_candidate(span: _Span) -> bool:
    if span.attrs is None:
        return True  # unreadable: cannot be told apart from a model call, so it is a (rejected) record
    if not any(k in span.attrs for k in MARKERS):
        return False
    operation = str(span.attrs.get("gen_ai.operation.name") or "").lower()
    return operation not in NON_CALL_OPERATIONS or _has_usage(span.attrs)


def select_records(found: list[_Span]) -> list[_Span]:
    """Return the spans that are records: candidates with no usage-carrying GenAI span below them."""
    candidates = [s for s in found if _is_candidate(s)]
    parents: dict[tuple[str | None, str | None], str | None] = {}
    for span in found:
        trace, own, parent = span.ids()
        if own is not None:
            parents[(trace, own)] = parent
    aggregates: set[tuple[str | None, str | None]] = set()
    for span in candidates:
        if span.attrs is None or not _has_usage(span.attrs):
            continue
        trace, own, _ = span.ids()
        node, seen = parents.get((trace, own)), set()
        while node is not None and (trace, node) not in seen:
            seen.add((trace, node))
            aggregates.add((trace, node))
            node = parents.get((trace, node))
    return [s for s in candidates if s.attrs is None or (s.ids()[0], s.ids()[1]) not in aggregates]


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
        if isinstance(value, int | Decimal) or (isinstance(value, str) and value.strip().isdigit()):
            nanos = int(str(value).strip())
            ts = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=nanos // 1000)
            return plausible(ts, column, value), nanos
        if isinstance(value, str):
            ts = datetime.fromisoformat(value.strip())
            return plausible(ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC), column, value), None
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


def _row(span: _Span, ordinal: int, path: str) -> dict[str, Any]:
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
    model_raw = _text(attrs.get("gen_ai.response.model")) or _text(attrs.get("gen_ai.request.model"))
    model = canonical_model(model_raw)
    keys = normalized_keys(span.resource, attrs)
    dims = dimensions(keys)
    dims["x_Application"] = dims["x_Application"] or _text(span.resource.get("service.name"))
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


@register_source(FORMAT, table="requests", detect=_detect,
                 description="OpenTelemetry GenAI spans (OTLP JSON / JSON lines export): one row per model call")
def read(path: Path, con: BaseBackend) -> ReadResult:
    """Read an OTLP JSON span export into ``requests`` rows, one per model-call span.

    Parameters
    ----------
    path
        OTLP/JSON file (optionally gzip): one export request, one per line, or flattened spans.
    con
        The engine (unused: spans are parsed in memory).

    Returns
    -------
    ReadResult
        ``requests`` rows and ``rejects``; rows read = model-call spans (plus unreadable lines).

    Raises
    ------
    SourceError
        When the file is not JSON at all.
    """
    path = Path(path)
    shown = str(path)
    documents, several = read_documents(path)
    found: list[_Span] = []
    for doc in documents:
        if doc.error is not None:
            found.append(_Span(f"line {doc.line}", None, {}, None, Fault("record", None, doc.error)))
        else:
            found.extend(_spans_of(doc.value, f"line {doc.line}: " if several else ""))
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
