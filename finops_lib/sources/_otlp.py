"""OTLP/JSON span exports: the spans of a document, their attributes, and which spans are model calls.

Used by :mod:`finops_lib.sources.otel_genai`, which turns the selected spans into ``requests`` rows.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from finops_lib.sources._common import Fault

MARKERS = ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model")
#: GenAI operations that are not a model call; a span of one is a record only when it carries usage
#: and no GenAI span with usage lies below it.
NON_CALL_OPERATIONS = {"execute_tool", "retrieval", "create_agent", "invoke_agent", "invoke_workflow"}
#: Token attributes per bucket, current name first, then older or third-party spellings.
TOKEN_KEYS: dict[str, tuple[str, ...]] = {
    "input": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
    "output": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
    "cache_read": ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
                   "gen_ai.usage.cached_input_tokens"),
    "cache_write": ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens"),
    "reasoning": ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens"),
}
_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass
class Span:
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


def spans_of(value: Any, where: str) -> Iterator[Span]:
    """Yield every span of one JSON document (an export request, a list, or a flattened span)."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from spans_of(item, f"{where}[{i}]")
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


def _export_spans(resource_spans: object, where: str) -> Iterator[Span]:
    try:
        groups = _listed(resource_spans, "resourceSpans")
    except Fault as fault:
        yield Span(where, None, {}, resource_spans, fault)
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
            yield Span(at, None, {}, group, fault)
            continue
        for j, scope in enumerate(scopes):
            spans = scope.get("spans") if isinstance(scope, dict) else scope
            try:
                listed = _listed(spans, "spans")
            except Fault as fault:
                yield Span(f"{at}.scopeSpans[{j}]", None, resource_attrs, scope, fault)
                continue
            for k, span in enumerate(listed):
                yield _with_attributes(span, f"{at}.scopeSpans[{j}].spans[{k}]", resource_attrs)


def _with_attributes(span: Any, locator: str, resource: dict[str, Any]) -> Span:
    if not isinstance(span, dict):
        return Span(locator, None, resource, span, Fault("span", span, "span is not a JSON object"))
    try:
        return Span(locator, attributes(span.get("attributes")), resource, span)
    except Fault as fault:
        return Span(locator, None, resource, span, fault)


def _flat_span(span: Any, locator: str) -> Span:
    resource: dict[str, Any] = {}
    if isinstance(span, dict) and isinstance(span.get("resource"), dict):
        try:
            resource = attributes(span["resource"].get("attributes"))
        except Fault as fault:
            return Span(locator, None, {}, span, fault)
    return _with_attributes(span, locator, resource)


def _has_usage(attrs: dict[str, Any]) -> bool:
    return any(k in attrs for keys in TOKEN_KEYS.values() for k in keys)


def _is_candidate(span: Span) -> bool:
    if span.attrs is None:
        return True  # unreadable: cannot be told apart from a model call, so it is a (rejected) record
    if not any(k in span.attrs for k in MARKERS):
        return False
    operation = str(span.attrs.get("gen_ai.operation.name") or "").lower()
    return operation not in NON_CALL_OPERATIONS or _has_usage(span.attrs)


def select_records(found: list[Span]) -> list[Span]:
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
