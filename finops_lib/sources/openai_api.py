"""OpenAI organization Usage API and Costs API responses (JSON pages).

Accepts what a client saves from ``GET /v1/organization/usage/{endpoint}`` and
``GET /v1/organization/costs``: one page ``{"object": "page", "data": [...], "next_page": ...}``,
a bare list of buckets (as the OpenAI cookbook prints them) or ``{"data": [...]}``.

Quirks handled here (see ``reference/formats.md`` section 2):

* Usage ``input_tokens`` *includes* cached and cache-write tokens: the uncached bucket is
  ``input_tokens - input_cached_tokens - input_cache_write_tokens``, so the input buckets always
  add up to ``input_tokens``. Old payloads carry no cache-write field: the split is then flagged
  ``token_subfields_missing`` (cache writes, if any, stay inside the uncached bucket).
* Buckets at the edges of the query window are partial (``start_time`` at the query start, the last
  ending at "now"): flagged ``partial_bucket``.
* Usage carries tokens, not money: its rows are ``x_CostBasis = estimated`` with null money and the
  ``unpriced`` flag until a price catalog prices them. Costs API amounts are dollars (a JSON number,
  parsed exactly as decimal text), currency lower case.
* Costs ``line_item`` grammar: ``[<feature> | ]<model>[, <direction>]``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ibis.backends import BaseBackend

from finops_lib.meters import parse_meter
from finops_lib.models import canonical_model
from finops_lib.schema import TOKEN_TYPES
from finops_lib.sources import ReadResult, register_source
from finops_lib.sources._common import (
    ACCOUNT_UNKNOWN,
    AI_CATEGORY,
    GENAI_SUBCATEGORY,
    MONEY_LIMIT,
    flags,
    money,
    month_bounds,
    records_table,
    reject,
    row_hash,
    utc_from_unix,
)
from finops_lib.sources._openai import (
    bucket_results,
    bucket_width,
    int_field,
    is_partial,
    load_page,
    period,
    text_field,
)

USAGE = "openai_usage"
COSTS = "openai_costs"
TIERS = {"default": "standard", "auto": "standard", "standard": "standard", "flex": "flex",
         "priority": "priority", "scale": "provisioned", "batch": "batch"}
#: Quantity fields of the non-token usage endpoints and their FOCUS units.
OTHER_QUANTITIES = {"images": "Images", "characters": "Characters", "seconds": "Seconds",
                    "num_sessions": "Sessions", "usage_bytes": "Bytes", "num_requests": "Requests"}
_USAGE_MARK = re.compile(r'"organization\.usage\.[a-z_]+\.result"')
_COSTS_MARK = re.compile(r'"organization\.costs\.result"')


def _detect_usage(path: Path, head: str) -> bool:
    return bool(_USAGE_MARK.search(head))


def _detect_costs(path: Path, head: str) -> bool:
    return bool(_COSTS_MARK.search(head))


def base_row(fmt: str, path: str, row: int, start: datetime, end: datetime) -> dict[str, Any]:
    """Return the columns every OpenAI ``costs`` row shares: provider, service, period, billing month, provenance.

    Used by the API readers and by the dashboard exports (:mod:`finops_lib.sources.openai_dashboard`).
    """
    bp_start, bp_end = month_bounds(start)
    return {
        "BillingAccountId": ACCOUNT_UNKNOWN, "BillingCurrency": "USD", "BillingPeriodStart": bp_start,
        "BillingPeriodEnd": bp_end, "ChargeCategory": "Usage", "ChargeFrequency": "Usage-Based",
        "ChargePeriodStart": start, "ChargePeriodEnd": end, "InvoiceIssuerName": "OpenAI", "ProviderName": "OpenAI",
        "PublisherName": "OpenAI", "ServiceCategory": AI_CATEGORY, "ServiceSubcategory": GENAI_SUBCATEGORY,
        "ServiceName": "OpenAI API", "PricingCategory": "Standard", "x_SourceFormat": fmt, "x_SourceFile": path,
        "x_SourceRow": row,
    }


def usage_key(kind: str, start: int, project_id: object, api_key_id: object, user_id: object, model: object,
              batch: object, service_tier: object) -> tuple[Any, ...]:
    """Return the natural key of a Usage API result; each row appends its token bucket or quantity field.

    The dashboard activity export uses the same key, so usage read from an API page and from an export
    replaces, never adds.

    Parameters
    ----------
    kind
        Usage endpoint (``completions``, ``embeddings``, ...).
    start
        Bucket start, Unix seconds.
    project_id, api_key_id, user_id, model, batch, service_tier
        The result's grouping fields, as given (``service_tier`` raw).

    Examples
    --------
    >>> usage_key("completions", 1714521600, "proj_1", None, None, "gpt-4o-mini", False, None)
    ('openai_usage', 'completions', 1714521600, 'proj_1', None, None, 'gpt-4o-mini', False, None)
    """
    return (USAGE, kind, start, project_id, api_key_id, user_id, model, batch, service_tier)


def costs_key(start: int, project_id: object, api_key_id: object, line_item: object) -> tuple[Any, ...]:
    """Return the natural key of a Costs API line item (the dashboard cost export uses it too).

    Examples
    --------
    >>> costs_key(1714521600, "proj_1", None, "gpt-4o-mini-2024-07-18, input")
    ('openai_costs', 1714521600, 'proj_1', None, 'gpt-4o-mini-2024-07-18, input')
    """
    return (COSTS, start, project_id, api_key_id, line_item)


def _tier(result: dict[str, Any]) -> str | None:
    if result.get("batch") is True:
        return "batch"
    raw = result.get("service_tier")
    if raw is None:
        return "standard" if result.get("batch") is False else None
    return TIERS.get(str(raw).lower(), str(raw).lower())


def _usage_buckets(result: dict[str, Any]) -> tuple[dict[str, int], set[str]]:
    """Split one completions/embeddings result into disjoint buckets; return (buckets, flags)."""
    marks: set[str] = set()
    total_in = int_field(result, "input_tokens", required=True) or 0
    cached = int_field(result, "input_cached_tokens")
    write = int_field(result, "input_cache_write_tokens")
    write_12h = int_field(result, "input_cache_write_12h_tokens")
    output = int_field(result, "output_tokens") or 0
    is_completion = "output_tokens" in result
    if is_completion and (cached is None or write is None):
        marks.add("token_subfields_missing")
    cached, write, write_12h = cached or 0, write or 0, write_12h or 0
    uncached = total_in - cached - write - write_12h
    if uncached < 0:
        raise ValueError(f"'input_tokens' ({total_in}) is smaller than its cached and cache-write parts")
    buckets = {"input_uncached": uncached, "input_cache_read": cached, "input_cache_write_5m": write,
               "input_cache_write_1h": write_12h, "output": output}
    return buckets, marks


def _usage_rows(result: dict[str, Any], base: dict[str, Any], partial: bool, start: int) -> list[dict[str, Any]]:
    kind = str(result.get("object", "")).removeprefix("organization.usage.").removesuffix(".result")
    model_raw = text_field(result, "model")
    dims = {
        "SubAccountId": result.get("project_id"),
        "x_ApiKeyId": result.get("api_key_id"),
        "x_UserId": result.get("user_id"),
        "x_ModelRaw": model_raw,
        "x_Model": canonical_model(model_raw),
        "x_ServiceTier": _tier(result),
    }
    requests = int_field(result, "num_model_requests")
    common = {**base, **dims, "x_CostBasis": "estimated", "ResourceId": None}
    key = usage_key(kind, start, dims["SubAccountId"], dims["x_ApiKeyId"], dims["x_UserId"], model_raw,
                    result.get("batch"), result.get("service_tier"))
    if kind not in ("completions", "embeddings"):
        return _other_usage_rows(result, common, partial, key, requests)
    buckets, marks = _usage_buckets(result)
    if partial:
        marks.add("partial_bucket")
    subsets = {k: int_field(result, k) for k in sorted(result) if k.endswith("_tokens") and ("audio" in k or "image"
               in k) and result[k] is not None}
    rows = []
    for bucket, tokens in buckets.items():
        if tokens == 0 and bucket != "output":
            continue
        direction, action, _ = TOKEN_TYPES[bucket]
        details = {"TokenDirection": direction, "CacheAction": action}
        if bucket in ("input_uncached", "output"):
            details.update({f"x_{k}": int(v) for k, v in subsets.items() if k.startswith(direction.lower())})
        rows.append({
            **common,
            "ChargeDescription": f"OpenAI {kind} usage, {bucket.replace('_', ' ')} tokens",
            "ConsumedQuantity": Decimal(tokens),
            "ConsumedUnit": "Tokens",
            "PricingQuantity": Decimal(tokens) / Decimal(1_000_000),
            "PricingUnit": "1M Tokens",
            "SkuMeter": f"usage.{kind}:{bucket}",
            "SkuPriceDetails": json.dumps(details),
            "x_TokenType": bucket,
            "x_RequestCount": requests if bucket == "output" else None,
            "x_DataQualityFlags": flags("unpriced", *marks),
            "x_RowHash": row_hash(*key, bucket),
        })
    return rows


def _other_usage_rows(result: dict[str, Any], common: dict[str, Any], partial: bool, key: tuple[Any, ...],
                      requests: int | None) -> list[dict[str, Any]]:
    rows = []
    for field_name, unit in OTHER_QUANTITIES.items():
        value = result.get(field_name)
        if value is None:
            continue
        quantity = Decimal(value) if isinstance(value, int | Decimal) else None
        if quantity is None or quantity < 0:
            raise ValueError(f"{field_name!r} must be a non-negative number")
        rows.append({**common, "ChargeDescription": f"OpenAI usage, {field_name}", "ConsumedQuantity": quantity,
                     "ConsumedUnit": unit, "SkuMeter": f"usage:{field_name}", "x_TokenType": "non_token",
                     "x_RequestCount": requests if not rows else None,
                     "x_DataQualityFlags": flags("unpriced", "partial_bucket" if partial else None),
                     "x_RowHash": row_hash(*key, field_name)})
    if not rows:
        raise ValueError("no token or quantity field found in this usage result")
    return rows


_LINE_ITEM = re.compile(r"^(?:(?P<feature>[^|]+?)\s*\|\s*)?(?P<model>[^,]+?)(?:,\s*(?P<direction>.+))?$")
_DIRECTIONS = {
    "input": "input_uncached",
    "uncached input": "input_uncached",
    "cached input": "input_cache_read",
    "cache read": "input_cache_read",
    "cache writes": "input_cache_write_5m",
    "cache write": "input_cache_write_5m",
    "cache writes - 12hr": "input_cache_write_1h",
    "output": "output",
}


def parse_line_item(line_item: str) -> tuple[str | None, str | None, str, str | None]:
    """Split a Costs API ``line_item`` into (feature, model, token bucket, service tier).

    Examples
    --------
    >>> parse_line_item("ft-gpt-4o-2024-08-06, cached input")
    (None, 'ft-gpt-4o-2024-08-06', 'input_cache_read', None)
    >>> parse_line_item("evals | gpt-4o-mini-2024-07-18, input")
    ('evals', 'gpt-4o-mini-2024-07-18', 'input_uncached', None)
    >>> parse_line_item("gpt-4o-mini-2024-07-18, output (batch)")
    (None, 'gpt-4o-mini-2024-07-18', 'output', 'batch')
    >>> parse_line_item("assistants api | file search")
    ('assistants api', None, 'non_token', None)
    """
    text = line_item.strip()
    tier = None
    tier_match = re.search(r"[\s(\[,-]*\b(batch|flex|priority|scale)\b[)\]]?\s*$", text, re.I)
    if tier_match:
        tier = TIERS[tier_match.group(1).lower()]
        text = text[: tier_match.start()].strip()
    m = _LINE_ITEM.match(text)
    if m is None:  # pragma: no cover - the pattern matches any non-empty text
        return None, None, "non_token", tier
    feature, model, direction = m.group("feature"), m.group("model"), m.group("direction")
    bucket = _DIRECTIONS.get(direction.strip().lower()) if direction else None
    if bucket is None:
        return (feature.strip() if feature else None), (model if direction else None), "non_token", tier
    return (feature.strip() if feature else None), model.strip(), bucket, tier


def _line_item_parts(line_item: str | None) -> tuple[str | None, str | None, str, str | None, bool]:
    """Return (feature, model, bucket, tier, unparsed) of a Costs API line item.

    Model, bucket and tier come from :func:`finops_lib.meters.parse_meter` (``batch | gpt-4.1, input`` is
    the batch tier). A line item that names a token direction the meter tables do not know keeps the
    grammar's reading and is flagged ``meter_unparsed``; line items without a direction (tool calls,
    file search) are non-token charges.
    """
    if not line_item:
        return None, None, "non_token", None, False
    feature, model_raw, bucket, tier = parse_line_item(line_item)
    meter = parse_meter(line_item, provider="openai")
    if meter.parsed and meter.token_type:
        return feature, model_raw, meter.token_type, meter.service_tier, False
    return feature, model_raw, bucket, tier, bucket != "non_token"


def _cost_rows(result: dict[str, Any], base: dict[str, Any], partial: bool, start: int) -> list[dict[str, Any]]:
    amount = result.get("amount")
    if not isinstance(amount, dict) or amount.get("value") is None:
        raise ValueError("'amount.value' is missing")
    try:
        value = Decimal(str(amount["value"]))
    except InvalidOperation:
        raise ValueError("'amount.value' is not a number") from None
    if not value.is_finite():
        raise ValueError("'amount.value' is not a finite number")
    if abs(value) >= MONEY_LIMIT:
        raise ValueError("'amount.value' is out of range (a money column holds magnitudes below 1e26)")
    currency = str(amount.get("currency") or "").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ValueError("'amount.currency' is not an ISO 4217 code")
    line_item = text_field(result, "line_item")
    feature, model_raw, bucket, tier, unparsed = _line_item_parts(line_item)
    quantity = result.get("quantity")
    unit = result.get("quantity_unit")
    consumed, consumed_unit = None, None
    if isinstance(quantity, int | Decimal) and not isinstance(quantity, bool):
        consumed = Decimal(quantity) * (1000 if unit == "1000_tokens" else 1)
        consumed_unit = "Tokens" if unit in ("tokens", "1000_tokens") else unit
    cost = money(value)
    direction, action, _ = TOKEN_TYPES[bucket]
    details = {"TokenDirection": direction, "CacheAction": action} if direction else {}
    if feature:
        details["x_Feature"] = feature
    return [{
        **base,
        "BillingCurrency": currency,
        "ChargeCategory": "Credit" if value < 0 else "Usage",
        "ChargeDescription": line_item,
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": cost,
        "ContractedCost": cost,
        "ConsumedQuantity": consumed if value >= 0 else None,
        "ConsumedUnit": consumed_unit if value >= 0 else None,
        "SkuMeter": line_item,
        "SkuPriceDetails": json.dumps(details) if details else None,
        "SubAccountId": result.get("project_id"),
        "x_ApiKeyId": result.get("api_key_id"),
        "x_ModelRaw": model_raw,
        "x_Model": canonical_model(model_raw),
        "x_TokenType": bucket,
        "x_ServiceTier": tier or ("standard" if model_raw else None),
        "x_CostBasis": "invoiced",
        "x_DataQualityFlags": flags("partial_bucket" if partial else None, "meter_unparsed" if unparsed else None),
        "x_RowHash": row_hash(*costs_key(start, result.get("project_id"), result.get("api_key_id"), line_item)),
    }]


def _read(path: Path, fmt: str) -> ReadResult:
    buckets = load_page(path)
    width = bucket_width(buckets)
    shown = str(path)
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    builder = _usage_rows if fmt == USAGE else _cost_rows
    count = 0
    for ordinal, (locator, start, end, result) in enumerate(bucket_results(buckets), start=1):
        count = ordinal
        try:
            if not isinstance(result, dict):
                raise ValueError("record is not a JSON object")
            begin, finish = period(start, end)
            base = {**base_row(fmt, shown, ordinal, utc_from_unix(begin, "start_time"),
                                     utc_from_unix(finish, "end_time")),
                    "x_SourceLocator": locator}
            rows.extend(builder(result, base, is_partial(begin, finish, width), begin))
        except ValueError as exc:
            column = _fault_column(str(exc))
            value = _field(result, column)
            if column in ("start_time", "end_time"):
                value = start if column == "start_time" else end
            rejects.append(reject(fmt, shown, ordinal, column, value, str(exc), "costs", locator))
    return ReadResult(fmt, shown, records_table(rows, "costs"), None, records_table(rejects, "rejects"), count)


def _field(result: object, column: str) -> object:
    """Return the value at a dotted field path of a result (``amount.value``), None when absent."""
    for name in column.split("."):
        if not isinstance(result, dict) or name not in result:
            return None
        result = result[name]
    return result


def _fault_column(message: str) -> str:
    m = re.search(r"'([a-z_.]+)'", message)
    return m.group(1) if m else "record"


@register_source(USAGE, table="costs", detect=_detect_usage, line_id="bucket and group-by values",
                 description="OpenAI Usage API pages (completions, embeddings, other endpoints): tokens per bucket")
def read_usage(path: Path, con: BaseBackend) -> ReadResult:
    """Read an OpenAI Usage API response file into ``costs`` rows (estimated basis, unpriced).

    Reads a saved response page or list of buckets. A reader of :data:`finops_lib.sources.SOURCES`: ``read(path,
    con) -> ReadResult``.
    """
    return _read(Path(path), USAGE)


@register_source(COSTS, table="costs", detect=_detect_costs, line_id="bucket, project and line item",
                 description="OpenAI Costs API pages: invoiced amounts per day, project and line item")
def read_costs(path: Path, con: BaseBackend) -> ReadResult:
    """Read an OpenAI Costs API response file into ``costs`` rows (invoiced basis)."""
    return _read(Path(path), COSTS)
