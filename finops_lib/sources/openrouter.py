"""OpenRouter activity exports (activity CSV, ``GET /api/v1/generation`` JSON): one ``requests`` row per generation.

Shape: the CSV that openrouter.ai/activity exports, with the header ``generation_id, created_at, cost_total,
cost_web_search, cost_cache, cost_file_processing, byok_usage_inference, tokens_prompt, tokens_completion,
tokens_reasoning, tokens_cached, model_permaslug, provider_name, variant, cancelled, streamed, user,
finish_reason_raw, finish_reason_normalized, generation_time_ms, time_to_first_token_ms, api_key_disabled,
api_key_name, app_name`` (as read by public loaders of the export, e.g. the column list quoted in a ledger plan and
parsed by OpenRouter activity dashboards; ``created_at`` like ``2026-06-28 03:46:57.713``, UTC); and the
``{"data": {...}}`` responses of ``GET /api/v1/generation?id=`` (alone, in a JSON array, or one per line), fields
from OpenRouter's OpenAPI (``Generations_getGeneration_Response_200``: ``id, upstream_id, total_cost,
cache_discount, upstream_inference_cost, created_at, model, app_id, streamed, cancelled, provider_name, latency,
moderation_latency, generation_time, finish_reason, tokens_prompt, tokens_completion, native_tokens_prompt,
native_tokens_completion, native_tokens_reasoning, native_tokens_cached, origin, usage, is_byok,
native_finish_reason, external_user, api_type``).

Why ``requests`` *and* ``costs`` (the decision): ``cost_total`` / ``total_cost`` is exactly what OpenRouter debits
from the account's prepaid credits for the generation (USD): the money the organisation spends, final, not a
gateway's estimate. OpenRouter's invoices are the credit *purchases* (top-ups, with its fee), which these exports do
not contain and the workbench does not load; so the debits are the spend. Each generation is a request (its tokens
by bucket, latency, status, the debit as ``x_ReportedCost``) and, when it carries a debit, one invoiced ``costs``
row of that amount (``non_token``: OpenRouter gives one total per generation, never a split by token bucket, so
none is invented), with ``ProviderName`` = ``OpenRouter`` (the party that bills; the upstream ``provider_name`` is
kept in Tags), so no upstream provider's own invoice ever supersedes these calls. Load credit-purchase invoices
beside them and the money would count twice: they are not read here.

Quirks handled here:

* Tokens: the API's ``native_tokens_*`` (the provider's tokenizer: what OpenRouter bills) win over ``tokens_*``
  (normalized counts); the CSV's ``tokens_*`` are taken as billed. Cached tokens are a subset of the prompt
  (OpenAI convention): uncached input = prompt - cached; a cached count above the prompt means the prompt
  already excluded it (flag ``cache_semantics_inferred``). Reasoning tokens are a subset of the completion:
  output = completion, reasoning = the subset; a reasoning count above the completion is added to it (flagged
  the same way). OpenRouter reports no cache writes: 0.
* Models: permaslugs and ids are ``vendor/model[:variant]`` (``openai/gpt-4o-2024-08-06``,
  ``deepseek/deepseek-r1:free``): the route and the variant are dropped for ``x_Model``; the slug as written is
  ``x_ModelRaw``; the variant (``free``, ``nitro``...) goes to Tags.
* ``finish_reason`` (``finish_reason_normalized``) ``error`` is a failure; a cancelled stream is still a billed
  success (``cancelled`` in Tags). Latency is ``generation_time`` (ms); time to first token is in Tags.
* BYOK generations (``is_byok``, ``byok_usage_inference``): inference was billed by the upstream provider on the
  customer's own key; ``cost_total`` is OpenRouter's part only. Both kept in Tags.
* Dimensions: ``app_name`` / ``app_id`` (OpenRouter's app attribution) is the application, ``api_key_name`` the key,
  ``user`` / ``external_user`` the user. Money is parsed exactly from its text (never through float).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from ibis.backends import BaseBackend

from finops_lib.models import canonical_model
from finops_lib.sources import ReadResult, register_source
from finops_lib.sources._common import (
    ACCOUNT_UNKNOWN,
    AI_CATEGORY,
    GENAI_SUBCATEGORY,
    Fault,
    flags,
    records_table,
    row_hash,
)
from finops_lib.sources._genai import exact_amount, iso_time, read_documents, scalar_text, tags_json, token_count
from finops_lib.sources._records import build_rows, export_records

FORMAT = "openrouter_activity"
CSV_REQUIRED = ("generation_id", "created_at", "cost_total", "model_permaslug")
#: Canonical field -> (activity CSV column, API fields in order of preference).
FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("generation_id", "id"),
    "created_at": ("created_at",),
    "cost": ("cost_total", "total_cost", "usage"),
    "prompt": ("native_tokens_prompt", "tokens_prompt"),
    "completion": ("native_tokens_completion", "tokens_completion"),
    "reasoning": ("native_tokens_reasoning", "tokens_reasoning"),
    "cached": ("native_tokens_cached", "tokens_cached"),
    "model": ("model_permaslug", "model"),
    "finish": ("finish_reason_normalized", "finish_reason"),
    "latency": ("generation_time_ms", "generation_time"),
    "user": ("user", "external_user"),
    "app": ("app_name", "app_id"),
    "key": ("api_key_name",),
}
TAG_FIELDS = ("provider_name", "variant", "cancelled", "streamed", "is_byok", "byok_usage_inference", "cost_cache",
              "cost_web_search", "cost_file_processing", "cache_discount", "upstream_inference_cost", "upstream_id",
              "finish_reason_raw", "native_finish_reason", "time_to_first_token_ms", "latency", "origin", "api_type",
              "api_key_disabled")  # fmt: skip
_JSON = re.compile(r'"(native_tokens_prompt|tokens_prompt)"\s*:')


def _detect(path: Path, head: str) -> bool:
    text = head.lstrip("\ufeff \t\r\n")
    if text.startswith(("{", "[")):
        return '"total_cost"' in text and bool(_JSON.search(text)) and '"generation_time"' in text
    first = text.split("\n", 1)[0]
    return all(name in first for name in CSV_REQUIRED)


def _get(rec: dict[str, Any], field: str) -> Any:
    return next((rec[k] for k in FIELDS[field] if rec.get(k) not in (None, "")), None)


def _column(rec: dict[str, Any], field: str) -> str:
    """Return the source column a canonical field was read from (for rejects)."""
    return next((k for k in FIELDS[field] if rec.get(k) not in (None, "")), FIELDS[field][0])


def _count(rec: dict[str, Any], field: str) -> int:
    value = _get(rec, field)
    return 0 if value is None else token_count(value, _column(rec, field))


def _buckets(rec: dict[str, Any]) -> tuple[dict[str, int | None], set[str]]:
    prompt, cached = _count(rec, "prompt"), _count(rec, "cached")
    completion, reasoning = _count(rec, "completion"), _count(rec, "reasoning")
    marks: set[str] = set()
    if cached > prompt or reasoning > completion:
        marks.add("cache_semantics_inferred")
    uncached = prompt if cached > prompt else prompt - cached
    output = completion + reasoning if reasoning > completion else completion
    return {"x_InputUncachedTokens": uncached, "x_InputCacheReadTokens": cached, "x_InputCacheWrite5mTokens": 0,
            "x_InputCacheWrite1hTokens": 0, "x_OutputTokens": output,
            "x_OutputReasoningTokens": reasoning if _get(rec, "reasoning") is not None else None}, marks  # fmt: skip


def _model(raw: str | None) -> str | None:
    if raw is None:
        return None
    return canonical_model(raw.split("/", 1)[-1].split(":", 1)[0])


def _latency(rec: dict[str, Any]) -> float | None:
    value = _get(rec, "latency")
    if value is None:
        return None
    try:
        return float(str(value))
    except ValueError:
        raise Fault(_column(rec, "latency"), value, "not a number of milliseconds") from None


def build_row(rec: Any, shown: str, ordinal: int, locator: str | None) -> dict[str, Any]:
    """Return the ``requests`` row of one generation (raises :class:`Fault` naming the field at fault)."""
    if isinstance(rec, dict) and isinstance(rec.get("data"), dict):
        rec = rec["data"]
    if not isinstance(rec, dict):
        raise Fault("record", rec, "record is not a JSON object")
    generation = scalar_text(_get(rec, "id"))
    if generation is None:
        raise Fault(_column(rec, "id"), None, "missing generation id")
    start = iso_time(rec.get("created_at"), "created_at")
    buckets, marks = _buckets(rec)
    cost = None if _get(rec, "cost") is None else exact_amount(_get(rec, "cost"), _column(rec, "cost"))
    raw_model = scalar_text(_get(rec, "model"))
    model = _model(raw_model)
    tags = {k: rec[k] for k in TAG_FIELDS if rec.get(k) not in (None, "")}
    failed = str(_get(rec, "finish") or "").strip().lower() == "error"
    return {
        **buckets,
        "x_RequestId": generation, "ChargePeriodStart": start, "ProviderName": "OpenRouter", "x_Model": model,
        "x_ModelRaw": raw_model, "x_Operation": "embedding" if rec.get("api_type") == "embeddings" else "chat",
        "x_LatencyMs": _latency(rec), "x_Status": "failure" if failed else "success", "x_ReportedCost": cost,
        "BillingCurrency": "USD", "x_UserId": scalar_text(_get(rec, "user")),
        "x_Application": scalar_text(_get(rec, "app")), "x_ApiKeyId": scalar_text(_get(rec, "key")),
        "Tags": tags_json(tags), "x_SourceFormat": FORMAT, "x_SourceFile": shown, "x_SourceRow": ordinal,
        "x_SourceLocator": locator, "x_RowHash": row_hash(FORMAT, generation),
        "x_DataQualityFlags": flags(*marks, None if model else "model_unknown",
                                    "reported_cost_missing" if cost is None else None),
    }  # fmt: skip


def charge_row(request: dict[str, Any]) -> dict[str, Any] | None:
    """Return the invoiced ``costs`` row of a generation's debit (None when it carries no cost)."""
    cost = request["x_ReportedCost"]
    if cost is None:
        return None
    day = request["ChargePeriodStart"].replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    following = (month.replace(year=month.year + 1, month=1) if month.month == 12
                 else month.replace(month=month.month + 1))  # fmt: skip
    return {
        "BilledCost": cost, "EffectiveCost": cost, "ListCost": cost, "ContractedCost": cost, "BillingCurrency": "USD",
        "BillingAccountId": ACCOUNT_UNKNOWN, "BillingPeriodStart": month, "BillingPeriodEnd": following,
        "ChargeCategory": "Usage", "ChargeFrequency": "Usage-Based", "PricingCategory": "Standard",
        "ChargeDescription": f"OpenRouter generation {request['x_RequestId']}", "ChargePeriodStart": day,
        "ChargePeriodEnd": day + timedelta(days=1), "InvoiceIssuerName": "OpenRouter", "ProviderName": "OpenRouter",
        "PublisherName": "OpenRouter", "ServiceName": "OpenRouter", "ServiceCategory": AI_CATEGORY,
        "ServiceSubcategory": GENAI_SUBCATEGORY, "SubAccountId": request["x_ApiKeyId"], "x_Model": request["x_Model"],
        "x_ModelRaw": request["x_ModelRaw"], "x_TokenType": "non_token", "x_RequestCount": 1,
        "x_CostBasis": "invoiced", "x_ApiKeyId": request["x_ApiKeyId"], "x_UserId": request["x_UserId"],
        "x_Application": request["x_Application"], "Tags": request["Tags"], "x_SourceFormat": FORMAT,
        "x_SourceFile": request["x_SourceFile"], "x_SourceRow": request["x_SourceRow"],
        "x_SourceLocator": request["x_SourceLocator"], "x_RowHash": row_hash(FORMAT, request["x_RequestId"], "debit"),
        "x_DataQualityFlags": "",
    }  # fmt: skip


def _json_records(path: Path) -> list[tuple[int, str | None, Any]]:
    """Return (ordinal or line, locator, record or Fault) of one response, an array of them, or JSON lines."""
    documents, several = read_documents(path)
    out: list[tuple[int, str | None, Any]] = []
    for doc in documents:
        if several:
            out.append((doc.line, None, Fault("record", None, doc.error) if doc.error else doc.value))
        elif isinstance(doc.value, list):
            out.extend((i + 1, f"[{i}]", item) for i, item in enumerate(doc.value))
        else:
            out.append((1, None, doc.value))
    return out


@register_source(FORMAT, table="requests", detect=_detect, line_id="generation id",
                 description="OpenRouter activity export (activity page CSV, /api/v1/generation JSON): one row per "
                             "generation, the credits it debits as invoiced spend")  # fmt: skip
def read(path: Path, con: BaseBackend) -> ReadResult:
    """Read an OpenRouter activity export into ``requests`` rows, one per generation; bad records go to rejects.

    ``con`` is unused: rows are built in memory. Raises :class:`SourceError` only when the file as a whole cannot
    be read (a JSON document cut short, a CSV without a required column).
    """
    path = Path(path)
    shown = str(path)
    found, _ = export_records(path, required=CSV_REQUIRED, what="OpenRouter activity", json_records=_json_records)
    rows, rejects, count = build_rows(found, lambda rec, n, where: build_row(rec, shown, n, where), fmt=FORMAT,
                                      path=shown)  # fmt: skip
    charges = [c for c in map(charge_row, rows) if c is not None]
    return ReadResult(FORMAT, shown, records_table(charges, "costs"), records_table(rows, "requests"),
                      records_table(rejects, "rejects"), count)
