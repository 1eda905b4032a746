"""Anthropic Admin API usage and cost reports (JSON pages): legacy and analytics endpoints.

Accepts what a client saves from ``GET /v1/organizations/usage_report/messages`` and
``GET /v1/organizations/cost_report`` (labelled *Legacy*), and from their successors
``/v1/organizations/analytics/usage_report`` and ``…/analytics/cost_report`` (and the per-user
``user_usage_report`` / ``user_cost_report``, whose ``data`` items are flat rows with an ``actor``):
one page ``{"data": [...], "has_more": ..., "next_page": ...}``, a bare list of buckets, or one
bucket. Formats are told apart by the result keys (``uncached_input_tokens`` vs a string
``amount``), never by the file name.

Quirks handled here (see ``reference/formats.md`` section 3):

* Usage ``uncached_input_tokens`` *excludes* cache reads and writes, so the buckets are already
  disjoint. Cache writes come split by TTL (``cache_creation.ephemeral_5m_input_tokens`` /
  ``ephemeral_1h_input_tokens``); older payloads carry one ``cache_creation_input_tokens``, read as
  5-minute writes and flagged ``cache_ttl_assumed``. Missing cache fields are flagged
  ``token_subfields_missing``, never read as 0. Web searches (``server_tool_use``) are a
  ``non_token`` row in Requests.
* Usage has no money: rows are ``x_CostBasis = estimated``, money null, flagged ``unpriced``.
* Cost ``amount`` (and the analytics ``list_amount``) are decimal *strings in cents*, fractional
  cents allowed: ``"123.4500"`` is $1.2345, divided by 100 exactly as Decimal.
* ``workspace_id`` null is the Default workspace: ``SubAccountId = "default"``, name
  ``Default Workspace`` (an ungrouped query also returns null: it cannot be told apart).
* ``context_window`` ``0-200k`` / ``200k-1M`` is the standard / long context tier;
  ``service_tier`` ``priority_on_demand`` is priority, ``flex_discount`` is flex.
* Buckets at the edges of the query window are partial (``ending_at`` at "now"), and analytics
  buckets ending after ``data_refreshed_at`` are incomplete: both flagged ``partial_bucket``.
* Priority Tier costs never appear in the cost report (Anthropic's note): only in usage.
* Analytics ``rbac_group_id`` rows overlap (a user in two groups counts in both): the group is kept
  in ``x_SourceExtra``, never as a team, so money totals stay exact only for files not grouped by it.
* The per-user reports restate the organization's usage and cost per user (``x_UserId``): load
  them or the bucketed reports for a period, not both.

Rows are replaced one by one through their natural key (period start and every dimension): a
re-pulled page may be filtered (``workspace_ids[]``, ``models[]``), so it declares no window.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import Any

from ibis.backends import BaseBackend

from finops_lib.meters import parse_meter
from finops_lib.schema import TOKEN_TYPES
from finops_lib.sources import ReadResult, register_source
from finops_lib.sources._anthropic import (
    TOKEN_FIELDS,
    base_row,
    bucket_results,
    dimensions,
    field_count,
    field_text,
    file_context,
    is_partial,
    load_page,
    natural_key,
    period,
)
from finops_lib.sources._common import Fault, flags, money, records_table, reject, row_hash

USAGE = "anthropic_usage_report"
COSTS = "anthropic_cost_report"
#: Amounts from a quadrillion dollars up are refused (12 decimal places must stay exact).
MAX_CENTS = Decimal(10) ** 17
_USAGE_MARK = re.compile(r'"(uncached_input_tokens|cache_read_input_tokens|cache_creation_input_tokens)"\s*:')
_COST_MARK = re.compile(r'"amount"\s*:\s*"')
_BUCKET_MARK = re.compile(r'"starting_at"\s*:')


def _detect(head: str, mark: re.Pattern[str], other: re.Pattern[str]) -> bool:
    return head.lstrip("\ufeff \t\r\n")[:1] in ("{", "[") and bool(_BUCKET_MARK.search(head)) \
        and bool(mark.search(head)) and not other.search(head) and '"model_breakdown"' not in head


def _detect_usage(path: Path, head: str) -> bool:
    return _detect(head, _USAGE_MARK, _COST_MARK)


def _detect_costs(path: Path, head: str) -> bool:
    return _detect(head, _COST_MARK, _USAGE_MARK)


def _cache_writes(result: dict[str, Any], marks: set[str]) -> tuple[int | None, int | None]:
    """Return (5m, 1h) cache writes; a single legacy field is assumed 5m."""
    split = result.get("cache_creation")
    if isinstance(split, dict):
        return (field_count(split, "ephemeral_5m_input_tokens", "cache_creation.ephemeral_5m_input_tokens"),
                field_count(split, "ephemeral_1h_input_tokens", "cache_creation.ephemeral_1h_input_tokens"))
    if split is not None:
        raise Fault("cache_creation", split, "'cache_creation' must be an object")
    legacy = field_count(result, "cache_creation_input_tokens")
    if legacy:
        marks.add("cache_ttl_assumed")
    return legacy, (0 if legacy is not None else None)


def _usage_buckets(result: dict[str, Any]) -> tuple[dict[str, int], set[str]]:
    """Split one usage result into disjoint buckets; return (tokens per bucket, flags)."""
    marks: set[str] = set()
    uncached = field_count(result, "uncached_input_tokens")
    if uncached is None:
        uncached = field_count(result, "input_tokens")
    output = field_count(result, "output_tokens")
    if uncached is None or output is None:
        missing = "uncached_input_tokens" if uncached is None else "output_tokens"
        raise Fault(missing, None, f"required field '{missing}' is missing")
    read = field_count(result, "cache_read_input_tokens")
    write_5m, write_1h = _cache_writes(result, marks)
    if None in (read, write_5m, write_1h):
        marks.add("token_subfields_missing")
    return {"input_uncached": uncached, "input_cache_read": read or 0, "input_cache_write_5m": write_5m or 0,
            "input_cache_write_1h": write_1h or 0, "output": output}, marks


def _usage_rows(result: dict[str, Any], base: dict[str, Any], partial: bool, key: list[Any]) -> list[dict[str, Any]]:
    buckets, marks = _usage_buckets(result)
    tools = result.get("server_tool_use")
    searches = field_count(tools, "web_search_requests", "server_tool_use.web_search_requests") \
        if isinstance(tools, dict) else None
    requests = field_count(result, "requests")
    common = {**base, **dimensions(result), "x_CostBasis": "estimated"}
    rows = []
    for bucket, tokens in buckets.items():
        if tokens == 0 and bucket != "output":
            continue
        direction, action, _ = TOKEN_TYPES[bucket]
        own = marks if bucket == "input_cache_write_5m" else marks - {"cache_ttl_assumed"}
        rows.append({**common, "ChargeDescription": f"Claude usage, {bucket.replace('_', ' ')} tokens",
                     "ConsumedQuantity": Decimal(tokens), "ConsumedUnit": "Tokens",
                     "PricingQuantity": Decimal(tokens) / Decimal(1_000_000), "PricingUnit": "1M Tokens",
                     "SkuMeter": f"usage_report.messages:{bucket}",
                     "SkuPriceDetails": json.dumps({"TokenDirection": direction, "CacheAction": action}),
                     "x_TokenType": bucket, "x_RequestCount": requests if bucket == "output" else None,
                     "x_DataQualityFlags": flags("unpriced", "partial_bucket" if partial else None, *own),
                     "x_RowHash": row_hash(*key, bucket)})
    if searches:
        rows.append({**common, "ChargeDescription": "Claude server tool use, web search requests",
                     "ConsumedQuantity": Decimal(searches), "ConsumedUnit": "Requests",
                     "PricingQuantity": Decimal(searches), "PricingUnit": "Requests",
                     "SkuMeter": "usage_report.messages:web_search_requests", "x_TokenType": "non_token",
                     "x_DataQualityFlags": flags("unpriced", "partial_bucket" if partial else None),
                     "x_RowHash": row_hash(*key, "web_search_requests")})
    return rows


def _cents(result: dict[str, Any], name: str) -> Decimal | None:
    """Return an amount in cents (decimal string, or number) as dollars, exactly."""
    value = result.get(name)
    if value is None:
        return None
    try:
        cents = Decimal(value.strip() if isinstance(value, str) else value) \
            if isinstance(value, str | int | Decimal) and not isinstance(value, bool) else None
    except InvalidOperation:
        cents = None
    if cents is None or not cents.is_finite():
        raise Fault(name, value, f"'{name}' is not a decimal amount in cents")
    if abs(cents) >= MAX_CENTS:
        raise Fault(name, value, f"'{name}' is out of range")
    with localcontext() as exact:
        exact.prec = 60  # no rounding before money()'s single half-even rounding to 12 places
        return money(cents.scaleb(-2))


def _currency(result: dict[str, Any]) -> str:
    raw = result.get("currency", "USD")
    currency = raw.strip().upper() if isinstance(raw, str) else ""
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise Fault("currency", raw, "'currency' is not an ISO 4217 code")
    return currency


def _cost_meter(result: dict[str, Any]) -> tuple[str, Any, set[str]]:
    """Return (token bucket, the description's meter when the bucket came from it, flags) of a cost result."""
    token_type, cost_type = field_text(result.get("token_type")), field_text(result.get("cost_type"))
    if token_type is not None and token_type in TOKEN_FIELDS:
        assumed = token_type == "cache_creation_input_tokens"
        return TOKEN_FIELDS[token_type], None, {"cache_ttl_assumed"} if assumed else set()
    if cost_type not in (None, "tokens") and token_type is None:
        return "non_token", None, set()
    description = field_text(result.get("description"))
    if token_type is None and description is None:
        # Not grouped by token type: the amount is a total over token types (or over all costs).
        return "non_token", None, {"token_subfields_missing"} if cost_type == "tokens" else set()
    meter = parse_meter(description or token_type, provider="anthropic")
    if not meter.parsed or meter.token_type is None:
        return "non_token", None, {"meter_unparsed"}
    return meter.token_type, meter, set()


def _cost_rows(result: dict[str, Any], base: dict[str, Any], partial: bool, key: list[Any]) -> list[dict[str, Any]]:
    amount = _cents(result, "amount")
    if amount is None:
        raise Fault("amount", None, "required field 'amount' is missing")
    listed = _cents(result, "list_amount")
    currency = _currency(result)
    bucket, meter, marks = _cost_meter(result)
    dims = dimensions(result)
    description, cost_type = field_text(result.get("description")), field_text(result.get("cost_type"))
    if meter is not None:
        dims.update(x_Model=dims["x_Model"] or meter.model, x_ModelRaw=dims["x_ModelRaw"] or description,
                    x_ServiceTier=dims["x_ServiceTier"] or meter.service_tier,
                    x_ContextTier=dims["x_ContextTier"] or meter.context_tier)
    elif "meter_unparsed" in marks:
        dims["x_ModelRaw"] = dims["x_ModelRaw"] or description
    direction, action, _ = TOKEN_TYPES[bucket]
    return [{
        **base, **dims, "BillingCurrency": currency, "ChargeCategory": "Credit" if amount < 0 else "Usage",
        "ChargeDescription": description or f"Claude cost, {cost_type or 'all cost types'}",
        "BilledCost": amount, "EffectiveCost": amount, "ContractedCost": amount,
        "ListCost": listed if listed is not None else amount,
        "SkuMeter": description or field_text(result.get("token_type")) or cost_type,
        "SkuPriceDetails": json.dumps({"TokenDirection": direction, "CacheAction": action}) if direction else None,
        "x_TokenType": bucket, "x_RequestCount": field_count(result, "requests"), "x_CostBasis": "invoiced",
        "x_DataQualityFlags": flags("partial_bucket" if partial else None, *marks),
        "x_RowHash": row_hash(*key, bucket),
    }]


def _read(path: Path, fmt: str) -> ReadResult:
    buckets, page = load_page(path)
    ctx = file_context(buckets, page)
    shown = str(path)
    builder = _usage_rows if fmt == USAGE else _cost_rows
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    count = 0
    for ordinal, (locator, bucket, result) in enumerate(bucket_results(buckets), start=1):
        count = ordinal
        try:
            if isinstance(result, Fault):
                raise result
            if not isinstance(result, dict):
                raise Fault("record", result, "record is not a JSON object")
            start, end = period(bucket if bucket else result)
            base = base_row(fmt, shown, ordinal, locator, start, end, ctx)
            rows.extend(builder(result, base, is_partial(start, end, ctx), natural_key(fmt, start, result)))
        except Fault as fault:
            value = str(fault.value) if isinstance(fault.value, Decimal) else fault.value
            rejects.append(reject(fmt, shown, ordinal, fault.column, value, fault.reason, "costs", locator))
    return ReadResult(fmt, shown, records_table(rows, "costs"), None, records_table(rejects, "rejects"), count)


@register_source(USAGE, table="costs", detect=_detect_usage, line_id="bucket and group-by values",
                 description="Anthropic Admin API usage reports (messages, analytics): tokens per bucket")
def read_usage(path: Path, con: BaseBackend) -> ReadResult:
    """Read an Anthropic usage report file into ``costs`` rows (estimated basis, unpriced).

    Reads a saved response page (``.json`` or ``.json.gz``), a list of buckets, or one bucket. A reader of
    :data:`finops_lib.sources.SOURCES`: ``read(path, con) -> ReadResult``.
    """
    return _read(Path(path), USAGE)


@register_source(COSTS, table="costs", detect=_detect_costs, line_id="bucket and group-by values",
                 description="Anthropic Admin API cost reports (legacy, analytics): invoiced cents per day")
def read_costs(path: Path, con: BaseBackend) -> ReadResult:
    """Read an Anthropic cost report file into ``costs`` rows (invoiced basis, dollars).

    Reads a saved response page (``.json`` or ``.json.gz``), a list of buckets, or one bucket. A reader of
    :data:`finops_lib.sources.SOURCES`: ``read(path, con) -> ReadResult``.
    """
    return _read(Path(path), COSTS)
