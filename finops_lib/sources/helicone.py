"""Helicone request exports (REST API JSON, ``@helicone/export`` JSON/JSONL/CSV): one ``requests`` row per request.

Shape: ``HeliconeRequest`` objects as returned by ``POST /v1/request/query-clickhouse`` (and ``/v1/request/query``,
``GET /v1/request/{id}``), wrapped as ``{"data": [...], "error": null}``; the export CLI writes the same objects as
a JSON array (``--format json``) or one per line (``jsonl``, its default), and ``--format csv`` writes the columns
``response_id, response_created_at, response_status, request_created_at, request_body, request_properties,
request_user_id, model, prompt_tokens, completion_tokens, latency, cost``. Field names from the OpenAPI of
https://docs.helicone.ai/rest/request/get-v1request (``request_id, request_created_at, response_created_at,
response_status, request_model, response_model, model, model_override, provider, delay_ms, prompt_tokens,
completion_tokens, reasoning_tokens, prompt_cache_read_tokens, prompt_cache_write_tokens, prompt_audio_tokens,
completion_audio_tokens, cost, costUSD, request_user_id, properties / request_properties, request_path,
cache_reference_id, country_code``) and from Helicone/helicone ``valhalla/jawn/src/lib/stores/request/request.ts``
(the query) and ``examples/export/typescript/index.ts`` (the CLI and its CSV header).

Quirks handled here:

* Token buckets are *disjoint* as Helicone stores them: its cost function charges ``prompt_tokens`` at the
  input rate and ``prompt_cache_read_tokens`` / ``prompt_cache_write_tokens`` at their own rates, additively
  ("regular prompt tokens (these are the fresh, uncached tokens)", ``packages/cost/index.ts``), and its usage
  processors take cached, audio and reasoning tokens out of the provider's prompt and completion counts
  (``packages/cost/usage/openAIUsageProcessor.ts``; the query's ``total_tokens`` is prompt + completion +
  reasoning). So: uncached input = ``prompt_tokens`` + ``prompt_audio_tokens``; cache read =
  ``prompt_cache_read_tokens``; cache write = ``prompt_cache_write_tokens`` (no 5m/1h split in the export:
  counted as 5m, flag ``cache_ttl_assumed``); output = ``completion_tokens`` + ``completion_audio_tokens`` +
  ``reasoning_tokens`` (reasoning also as the reasoning subset). Nothing is subtracted.
* The CSV export has no cache or reasoning columns (flag ``token_subfields_missing``) and no ``request_id``:
  the request is identified by ``response_id`` there (a JSON and a CSV export of the same request are two
  keys). Its ``request_properties`` cell is JSON whose quotes the CLI doubled twice (``{""team"":""ai""}``
  after CSV decoding): read as JSON, else with ``""`` undone.
* ``cost`` is USD (the API divides its stored integer by 1e9); ``costUSD`` (older responses) is used when
  ``cost`` is absent; both are parsed exactly from their JSON text. It is Helicone's *estimate* from its price
  registry (``x_ReportedCost``), never an invoice; none at all is flagged ``reported_cost_missing``.
* A response served from Helicone's own cache (``cache_reference_id`` other than the zero UUID) is logged with
  0 tokens and 0 cost (no provider call): kept as is, marked ``helicone_cache_hit`` in Tags.
* Times are ClickHouse ``2026-05-01 10:00:00.000`` (UTC, no zone) or ISO with ``Z``; the request ends at
  ``response_created_at``; latency is ``delay_ms`` (``latency`` in the CSV).
* ``response_status`` 200-299 is success; any other (4xx/5xx, ``-3`` cancelled, ``0`` no response) is failure.
* Custom properties (``Helicone-Property-<Name>`` headers, stored as ``{"<Name>": "value"}``) fill team, app,
  feature, environment, experiment and variant like LiteLLM's tags (any case); ``Helicone-Session-Id`` is the
  session; ``request_user_id`` (``Helicone-User-Id``) the user. Provider spellings (``OPENAI``, ``AZURE``,
  ``BEDROCK``, ``vertex``...) map to the FOCUS provider; ``CUSTOM`` or none falls back to the model's prefix.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ibis.backends import BaseBackend

from finops_lib.models import canonical_model
from finops_lib.sources import ReadResult, register_source
from finops_lib.sources._common import Fault, flags, records_table, row_hash
from finops_lib.sources._genai import (
    dimensions,
    exact_amount,
    iso_time,
    normalized_keys,
    provider_for,
    quality_score,
    read_documents,
    scalar_text,
    small_tags,
    tags_json,
    token_count,
)
from finops_lib.sources._records import build_rows, export_records

FORMAT = "helicone_requests"
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
CSV_REQUIRED = ("response_id", "request_created_at", "prompt_tokens", "completion_tokens", "cost")
#: Helicone provider spellings that :func:`finops_lib.models.provider_name` does not know.
PROVIDERS = {"vertex": "Google", "google-ai-studio": "Google", "x": "xAI", "xai": "xAI", "openrouter": "OpenRouter",
             "together": "Together AI", "fireworks": "Fireworks", "groq": "Groq", "mistral": "Mistral",
             "deepseek": "DeepSeek", "cohere": "Cohere", "perplexity": "Perplexity", "deepinfra": "DeepInfra",
             "nebius": "Nebius", "novita": "Novita", "cerebras": "Cerebras", "baseten": "Baseten"}  # fmt: skip
SESSION_KEYS = ("helicone-session-id", "session-id")
OPERATIONS = (("embedding", "embedding"), ("chat", "chat"), ("messages", "chat"), ("responses", "chat"),
              ("completion", "completion"), ("image", "image_generation"), ("audio", "transcription"))  # fmt: skip
TAG_FIELDS = ("provider", "request_path", "country_code", "prompt_id", "prompt_version", "model_override",
              "target_url", "response_id")  # fmt: skip
_JSON_MARKS = (re.compile(r'"request_id"\s*:'), re.compile(r'"request_created_at"\s*:'))


def _detect(path: Path, head: str) -> bool:
    text = head.lstrip("\ufeff \t\r\n")
    if text.startswith(("{", "[")):
        return (
            all(m.search(text) for m in _JSON_MARKS)
            and '"traceId"' not in text
            and bool(re.search(r'"(prompt_tokens|response_status|costUSD)"\s*:', text))
        )
    first = text.split("\n", 1)[0]
    return all(f"{name}" in first for name in (*CSV_REQUIRED, "request_properties"))


def _count(rec: dict[str, Any], column: str) -> int:
    value = rec.get(column)
    return 0 if value is None or value == "" else token_count(value, column)


def _buckets(rec: dict[str, Any], csv: bool) -> tuple[dict[str, int | None], set[str]]:
    """Return the disjoint request token columns of a Helicone record (see the module notes) and flags."""
    write = _count(rec, "prompt_cache_write_tokens")
    reasoning = _count(rec, "reasoning_tokens")
    marks = {"cache_ttl_assumed"} if write else set()
    if csv:
        marks.add("token_subfields_missing")
    output = _count(rec, "completion_tokens") + _count(rec, "completion_audio_tokens") + reasoning
    return {"x_InputUncachedTokens": _count(rec, "prompt_tokens") + _count(rec, "prompt_audio_tokens"),
            "x_InputCacheReadTokens": _count(rec, "prompt_cache_read_tokens"), "x_InputCacheWrite5mTokens": write,
            "x_InputCacheWrite1hTokens": 0, "x_OutputTokens": output,
            "x_OutputReasoningTokens": reasoning if "reasoning_tokens" in rec and rec["reasoning_tokens"] is not None
            else None}, marks  # fmt: skip


def _cost(rec: dict[str, Any]) -> Any:
    for key in ("cost", "costUSD"):
        if rec.get(key) not in (None, ""):
            return exact_amount(rec[key], key)
    return None


def _properties(rec: dict[str, Any]) -> dict[str, Any]:
    """Return the custom properties (object, JSON text, or the CSV export's twice-doubled JSON text)."""
    value = rec.get("properties") or rec.get("request_properties")
    if isinstance(value, str):
        text = value.strip()
        for attempt in (text, text.replace('""', '"')):
            try:
                value = json.loads(attempt)
                break
            except ValueError:
                continue
        else:
            column = "properties" if rec.get("properties") else "request_properties"
            raise Fault(column, value, "not a JSON object")
    return value if isinstance(value, dict) else {}


def _dimensions(rec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    props = _properties(rec)
    keys = normalized_keys(props)
    session = next((keys[k] for k in SESSION_KEYS if scalar_text(keys.get(k))), None)
    if session is not None:
        keys["session_id"] = session
    user = rec.get("request_user_id") or rec.get("user_id")
    if scalar_text(user):
        keys["user_id"] = user
    dims = dimensions(keys)
    dims["x_QualityScore"] = quality_score(keys)
    return dims, props


def _provider(rec: dict[str, Any], model: str | None) -> str:
    raw = scalar_text(rec.get("provider"))
    if raw is None or raw.lower() == "custom":
        return provider_for(None, model)
    return PROVIDERS.get(raw.lower()) or provider_for(raw, model)


def _operation(path: object) -> str | None:
    text = str(path or "").lower()
    return next((op for word, op in OPERATIONS if word in text), None) if text else None


def _tags(rec: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    tags = {k: rec[k] for k in TAG_FIELDS if scalar_text(rec.get(k))}
    if props:
        tags["properties"] = small_tags(props)
    cache_ref = scalar_text(rec.get("cache_reference_id"))
    if cache_ref and cache_ref != ZERO_UUID:
        tags["helicone_cache_hit"] = True
    return tags


def _status(rec: dict[str, Any]) -> str:
    value = rec.get("response_status")
    if value in (None, ""):
        return "success"
    try:
        code = int(str(value).strip())
    except ValueError:
        raise Fault("response_status", value, "not an HTTP status code") from None
    return "success" if 200 <= code < 300 else "failure"


def _latency(rec: dict[str, Any]) -> float | None:
    for key in ("delay_ms", "latency"):
        value = rec.get(key)
        if value not in (None, ""):
            try:
                return float(str(value))
            except ValueError:
                raise Fault(key, value, "not a number of milliseconds") from None
    return None


def build_row(rec: Any, shown: str, ordinal: int, locator: str | None, csv: bool) -> dict[str, Any]:
    """Return the ``requests`` row of one Helicone record (raises :class:`Fault` naming the field at fault)."""
    if not isinstance(rec, dict):
        raise Fault("record", rec, "record is not a JSON object")
    request_id = scalar_text(rec.get("request_id")) or scalar_text(rec.get("response_id"))
    if request_id is None:
        raise Fault("request_id", rec.get("request_id"), "missing request id")
    start = iso_time(rec.get("request_created_at"), "request_created_at")
    end = iso_time(rec["response_created_at"], "response_created_at") if scalar_text(rec.get("response_created_at")) \
        else None  # fmt: skip
    if end is not None and end < start:
        end = None  # a response logged before its request: Helicone's clock, not a fault; the end is unknown
    buckets, marks = _buckets(rec, csv)
    cost = _cost(rec)
    model_raw = next((str(rec[k]) for k in ("model", "request_model", "response_model") if scalar_text(rec.get(k))),
                     None)  # fmt: skip
    model = canonical_model(model_raw)
    dims, props = _dimensions(rec)
    return {
        **buckets, **dims,
        "x_RequestId": request_id, "ChargePeriodStart": start, "ChargePeriodEnd": end,
        "ProviderName": _provider(rec, model), "x_Model": model, "x_ModelRaw": model_raw,
        "x_Operation": _operation(rec.get("request_path")), "x_LatencyMs": _latency(rec), "x_Status": _status(rec),
        "x_ReportedCost": cost, "BillingCurrency": "USD", "Tags": tags_json(_tags(rec, props)),
        "x_SourceFormat": FORMAT, "x_SourceFile": shown, "x_SourceRow": ordinal, "x_SourceLocator": locator,
        "x_RowHash": row_hash(FORMAT, request_id if rec.get("request_id") else f"response:{request_id}"),
        "x_DataQualityFlags": flags(*marks, None if model else "model_unknown",
                                    "reported_cost_missing" if cost is None else None),
    }  # fmt: skip


def _json_records(path: Path) -> list[tuple[int, str | None, Any]]:
    """Return (ordinal or line, locator, record or Fault) of a JSON page, array, single request or JSONL file."""
    documents, several = read_documents(path)
    out: list[tuple[int, str | None, Any]] = []
    for doc in documents:
        if several:
            out.append((doc.line, None, Fault("record", None, doc.error) if doc.error else doc.value))
            continue
        value = doc.value.get("data", doc.value) if isinstance(doc.value, dict) and "data" in doc.value else doc.value
        if isinstance(value, list):
            where = "data" if isinstance(doc.value, dict) else ""
            out.extend((i + 1, f"{where}[{i}]", item) for i, item in enumerate(value))
        else:
            out.append((1, "data" if value is not doc.value else None, value))
    return out


@register_source(FORMAT, table="requests", detect=_detect, line_id="request_id",
                 description="Helicone request export (REST API JSON, @helicone/export JSON, JSONL or CSV): one row "
                             "per request")  # fmt: skip
def read(path: Path, con: BaseBackend) -> ReadResult:
    """Read a Helicone request export into ``requests`` rows, one per request; bad records go to rejects.

    ``con`` is unused: rows are built in memory. Raises :class:`SourceError` only when the file as a whole cannot
    be read (a JSON document cut short, a CSV without a required column).
    """
    path = Path(path)
    shown = str(path)
    found, is_csv = export_records(path, required=CSV_REQUIRED, what="Helicone export", json_records=_json_records)
    rows, rejects, count = build_rows(found, lambda rec, n, where: build_row(rec, shown, n, where, is_csv),
                                      fmt=FORMAT, path=shown)  # fmt: skip
    return ReadResult(FORMAT, shown, None, records_table(rows, "requests"), records_table(rejects, "rejects"), count)
