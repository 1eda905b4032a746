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

import gzip
import json
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import Any

from ibis.backends import BaseBackend

from finops_lib.errors import SourceError
from finops_lib.meters import parse_meter
from finops_lib.models import canonical_model
from finops_lib.schema import TOKEN_TYPES
from finops_lib.sources import ReadResult, register_source
from finops_lib.sources._common import (
    AI_CATEGORY,
    GENAI_SUBCATEGORY,
    flags,
    money,
    month_bounds,
    records_table,
    reject,
    row_hash,
)

USAGE = "anthropic_usage_report"
COSTS = "anthropic_cost_report"
ACCOUNT_UNKNOWN = "(not in source)"
DEFAULT_WORKSPACE = ("default", "Default Workspace")
TIERS = {"standard": "standard", "batch": "batch", "priority": "priority", "priority_on_demand": "priority",
         "flex": "flex", "flex_discount": "flex"}
CONTEXT_TIERS = {"0-200k": "standard", "200k-1m": "long"}
#: Usage/cost token field (``token_type`` value) -> disjoint bucket.
TOKEN_FIELDS = {
    "uncached_input_tokens": "input_uncached",
    "input_tokens": "input_uncached",
    "cache_read_input_tokens": "input_cache_read",
    "cache_creation.ephemeral_5m_input_tokens": "input_cache_write_5m",
    "cache_creation.ephemeral_1h_input_tokens": "input_cache_write_1h",
    "cache_creation_input_tokens": "input_cache_write_5m",
    "output_tokens": "output",
}
#: Result keys that dimension a row: all of them are part of its natural key.
DIMENSIONS = ("workspace_id", "api_key_id", "account_id", "service_account_id", "model", "service_tier",
              "context_window", "inference_geo", "speed", "product", "rbac_group_id", "claude_tag_category",
              "claude_tag_user_id", "slack_channel_id", "description", "cost_type", "token_type")
#: Result keys placed in schema columns (the rest goes to ``x_SourceExtra``).
PLACED = {"workspace_id", "api_key_id", "account_id", "model", "service_tier", "context_window", "inference_geo",
          "description", "cost_type", "token_type", "amount", "list_amount", "currency", "requests",
          "starting_at", "ending_at", *(k.split(".")[0] for k in TOKEN_FIELDS), "server_tool_use"}
MAX_COUNT = 2**63 - 1
#: Amounts from a quadrillion dollars up are refused (12 decimal places must stay exact).
MAX_CENTS = Decimal(10) ** 17
_USAGE_MARK = re.compile(r'"(uncached_input_tokens|cache_read_input_tokens|cache_creation_input_tokens)"\s*:')
_COST_MARK = re.compile(r'"amount"\s*:\s*"')
_BUCKET_MARK = re.compile(r'"starting_at"\s*:')


class _Fault(ValueError):
    """A record that cannot be loaded: the column at fault, its value and why."""

    def __init__(self, column: str, value: object, reason: str) -> None:
        super().__init__(reason)
        self.column, self.value, self.reason = column, value, reason


def _detect(head: str, mark: re.Pattern[str], other: re.Pattern[str]) -> bool:
    return head.lstrip("\ufeff \t\r\n")[:1] in ("{", "[") and bool(_BUCKET_MARK.search(head)) \
        and bool(mark.search(head)) and not other.search(head) and '"model_breakdown"' not in head


def _detect_usage(path: Path, head: str) -> bool:
    return _detect(head, _USAGE_MARK, _COST_MARK)


def _detect_costs(path: Path, head: str) -> bool:
    return _detect(head, _COST_MARK, _USAGE_MARK)


def _load(path: Path) -> tuple[list[Any], dict[str, Any]]:
    """Return (buckets, page envelope) of a saved response."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            text = fh.read().decode("utf-8-sig")
        doc = json.loads(text, parse_float=Decimal)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise SourceError(path, f"cannot read file: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise SourceError(path, f"not valid JSON: {exc.msg}", line=exc.lineno, column=f"char {exc.colno}") from exc
    except (ValueError, RecursionError) as exc:
        raise SourceError(path, f"not valid JSON: {exc}") from exc
    if isinstance(doc, dict) and "data" not in doc and ("results" in doc or "starting_at" in doc):
        doc = [doc]
    buckets = doc.get("data") if isinstance(doc, dict) else doc
    if not isinstance(buckets, list):
        raise SourceError(path, "expected a page with a 'data' list or a list of buckets", column="data")
    return buckets, doc if isinstance(doc, dict) else {}


def _records(buckets: list[Any]) -> Iterator[tuple[str, Any, Any]]:
    """Yield (locator, bucket, result) for every result of every bucket; flat rows are their own bucket."""
    for i, bucket in enumerate(buckets):
        if not isinstance(bucket, dict):
            yield f"data[{i}]", {}, bucket
            continue
        key = "results" if "results" in bucket else "result" if "result" in bucket else None
        if key is None:
            flat = "amount" in bucket or any(k in bucket for k in TOKEN_FIELDS)
            yield f"data[{i}]", bucket, bucket if flat else _Fault("results", None, "bucket has no 'results' list")
            continue
        results = bucket[key]
        for j, result in enumerate(results if isinstance(results, list) else [results]):
            yield f"data[{i}].{key}[{j}]", bucket, result


def _timestamp(bucket: dict[str, Any], name: str) -> datetime:
    value = bucket.get(name)
    try:
        ts = datetime.fromisoformat(value) if isinstance(value, str) else None
        ts = ts if ts is None or ts.tzinfo is not None else ts.replace(tzinfo=UTC)
        ts = ts.astimezone(UTC) if ts is not None else None
    except (ValueError, OverflowError):
        ts = None
    if ts is None or not 1970 <= ts.year <= 9998:
        raise _Fault(name, value, f"'{name}' is not an RFC 3339 timestamp")
    return ts


def _period(bucket: dict[str, Any]) -> tuple[datetime, datetime]:
    start, end = _timestamp(bucket, "starting_at"), _timestamp(bucket, "ending_at")
    if end <= start:
        raise _Fault("ending_at", bucket.get("ending_at"), "'ending_at' is not after 'starting_at'")
    return start, end


def _bucket_width(buckets: list[Any]) -> int:
    """Return the dominant bucket width of the file in seconds (1d, 1h or 1m)."""
    periods = []
    for bucket in buckets:
        try:
            periods.append(_period(bucket))
        except (_Fault, AttributeError):
            continue
    widths = sorted(int((end - start).total_seconds()) for start, end in periods)
    for width in (86400, 3600, 60):
        if width in widths:
            return width
    return widths[len(widths) // 2] if widths else 86400


def _context(buckets: list[Any], page: dict[str, Any]) -> dict[str, Any]:
    """File-level facts: bucket width, data watermark, organization, service name."""
    try:
        refreshed = _timestamp(page, "data_refreshed_at") if "data_refreshed_at" in page else None
    except _Fault:
        refreshed = None
    analytics = "data_refreshed_at" in page or "organization_id" in page
    return {"width": _bucket_width(buckets), "refreshed": refreshed,
            "account": _text(page.get("organization_id")) or ACCOUNT_UNKNOWN,
            "service": "Claude" if analytics else "Claude API"}


def _is_partial(start: datetime, end: datetime, ctx: dict[str, Any]) -> bool:
    width = ctx["width"]
    seconds = int(start.timestamp())
    late = ctx["refreshed"] is not None and end > ctx["refreshed"]
    return late or int((end - start).total_seconds()) != width or seconds % width != 0


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)


def _count(container: dict[str, Any], name: str, label: str | None = None) -> int | None:
    """Return a non-negative integer field (``12.0`` is fine), None when absent."""
    value = container.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or not 0 <= value <= MAX_COUNT \
            or value != int(value):
        raise _Fault(label or name, value, f"'{label or name}' must be a non-negative integer")
    return int(value)


def _user(result: dict[str, Any]) -> str | None:
    actor = result.get("actor")
    user = actor.get("user_id") if isinstance(actor, dict) else None
    return _text(user) or _text(result.get("account_id")) or _text(result.get("service_account_id"))


def _dims(result: dict[str, Any]) -> dict[str, Any]:
    """Return the schema columns of the result's dimensions (the same for usage and cost rows)."""
    workspace = _text(result.get("workspace_id"))
    default = workspace is None and "workspace_id" in result  # absent: the report has no workspaces at all
    model = _text(result.get("model"))
    tier, window, geo = (_text(result.get(k)) for k in ("service_tier", "context_window", "inference_geo"))
    extra = {k: v for k, v in result.items() if k not in PLACED and v is not None}
    for key, raw, known in (("service_tier", tier, TIERS), ("context_window", window, CONTEXT_TIERS)):
        if raw is not None and raw.lower() not in known:
            extra[key] = raw
    return {
        "SubAccountId": DEFAULT_WORKSPACE[0] if default else workspace,
        "SubAccountName": DEFAULT_WORKSPACE[1] if default else None,
        "x_ApiKeyId": _text(result.get("api_key_id")),
        "x_UserId": _user(result),
        "x_ModelRaw": model,
        "x_Model": canonical_model(model),
        "x_ServiceTier": TIERS.get(tier.lower()) if tier else None,
        "x_ContextTier": CONTEXT_TIERS.get(window.lower()) if window else None,
        "RegionId": geo if geo and geo != "not_available" else None,
        "x_SourceExtra": json.dumps(extra, default=str, sort_keys=True) if extra else None,
    }


def _key(fmt: str, start: datetime, result: dict[str, Any]) -> list[Any]:
    """Return the natural key of a result (the token bucket is appended per row)."""
    return [fmt, start.isoformat(), _user(result), *(_text(result.get(k)) for k in DIMENSIONS)]


def _base_row(fmt: str, path: str, ordinal: int, locator: str, start: datetime, end: datetime,
              ctx: dict[str, Any]) -> dict[str, Any]:
    bp_start, bp_end = month_bounds(start)
    return {
        "BillingAccountId": ctx["account"], "BillingCurrency": "USD", "BillingPeriodStart": bp_start,
        "BillingPeriodEnd": bp_end, "ChargeCategory": "Usage", "ChargeFrequency": "Usage-Based",
        "ChargePeriodStart": start, "ChargePeriodEnd": end, "InvoiceIssuerName": "Anthropic",
        "ProviderName": "Anthropic", "PublisherName": "Anthropic", "ServiceCategory": AI_CATEGORY,
        "ServiceSubcategory": GENAI_SUBCATEGORY, "ServiceName": ctx["service"], "PricingCategory": "Standard",
        "x_SourceFormat": fmt, "x_SourceFile": path, "x_SourceRow": ordinal, "x_SourceLocator": locator,
    }


def _cache_writes(result: dict[str, Any], marks: set[str]) -> tuple[int | None, int | None]:
    """Return (5m, 1h) cache writes; a single legacy field is assumed 5m."""
    split = result.get("cache_creation")
    if isinstance(split, dict):
        return (_count(split, "ephemeral_5m_input_tokens", "cache_creation.ephemeral_5m_input_tokens"),
                _count(split, "ephemeral_1h_input_tokens", "cache_creation.ephemeral_1h_input_tokens"))
    if split is not None:
        raise _Fault("cache_creation", split, "'cache_creation' must be an object")
    legacy = _count(result, "cache_creation_input_tokens")
    if legacy:
        marks.add("cache_ttl_assumed")
    return legacy, (0 if legacy is not None else None)


def _usage_buckets(result: dict[str, Any]) -> tuple[dict[str, int], set[str]]:
    """Split one usage result into disjoint buckets; return (tokens per bucket, flags)."""
    marks: set[str] = set()
    uncached = _count(result, "uncached_input_tokens")
    if uncached is None:
        uncached = _count(result, "input_tokens")
    output = _count(result, "output_tokens")
    if uncached is None or output is None:
        missing = "uncached_input_tokens" if uncached is None else "output_tokens"
        raise _Fault(missing, None, f"required field '{missing}' is missing")
    read = _count(result, "cache_read_input_tokens")
    write_5m, write_1h = _cache_writes(result, marks)
    if None in (read, write_5m, write_1h):
        marks.add("token_subfields_missing")
    return {"input_uncached": uncached, "input_cache_read": read or 0, "input_cache_write_5m": write_5m or 0,
            "input_cache_write_1h": write_1h or 0, "output": output}, marks


def _usage_rows(result: dict[str, Any], base: dict[str, Any], partial: bool, key: list[Any]) -> list[dict[str, Any]]:
    buckets, marks = _usage_buckets(result)
    tools = result.get("server_tool_use")
    searches = _count(tools, "web_search_requests", "server_tool_use.web_search_requests") \
        if isinstance(tools, dict) else None
    requests = _count(result, "requests")
    common = {**base, **_dims(result), "x_CostBasis": "estimated"}
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
        raise _Fault(name, value, f"'{name}' is not a decimal amount in cents")
    if abs(cents) >= MAX_CENTS:
        raise _Fault(name, value, f"'{name}' is out of range")
    with localcontext() as exact:
        exact.prec = 60  # no rounding before money()'s single half-even rounding to 12 places
        return money(cents.scaleb(-2))


def _currency(result: dict[str, Any]) -> str:
    raw = result.get("currency", "USD")
    currency = raw.strip().upper() if isinstance(raw, str) else ""
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise _Fault("currency", raw, "'currency' is not an ISO 4217 code")
    return currency


def _cost_meter(result: dict[str, Any]) -> tuple[str, Any, set[str]]:
    """Return (token bucket, the description's meter when the bucket came from it, flags) of a cost result."""
    token_type, cost_type = _text(result.get("token_type")), _text(result.get("cost_type"))
    if token_type is not None and token_type in TOKEN_FIELDS:
        assumed = token_type == "cache_creation_input_tokens"
        return TOKEN_FIELDS[token_type], None, {"cache_ttl_assumed"} if assumed else set()
    if cost_type not in (None, "tokens") and token_type is None:
        return "non_token", None, set()
    description = _text(result.get("description"))
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
        raise _Fault("amount", None, "required field 'amount' is missing")
    listed = _cents(result, "list_amount")
    currency = _currency(result)
    bucket, meter, marks = _cost_meter(result)
    dims = _dims(result)
    description, cost_type = _text(result.get("description")), _text(result.get("cost_type"))
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
        "SkuMeter": description or _text(result.get("token_type")) or cost_type,
        "SkuPriceDetails": json.dumps({"TokenDirection": direction, "CacheAction": action}) if direction else None,
        "x_TokenType": bucket, "x_RequestCount": _count(result, "requests"), "x_CostBasis": "invoiced",
        "x_DataQualityFlags": flags("partial_bucket" if partial else None, *marks),
        "x_RowHash": row_hash(*key, bucket),
    }]


def _read(path: Path, fmt: str) -> ReadResult:
    buckets, page = _load(path)
    ctx = _context(buckets, page)
    shown = str(path)
    builder = _usage_rows if fmt == USAGE else _cost_rows
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    count = 0
    for ordinal, (locator, bucket, result) in enumerate(_records(buckets), start=1):
        count = ordinal
        try:
            if isinstance(result, _Fault):
                raise result
            if not isinstance(result, dict):
                raise _Fault("record", result, "record is not a JSON object")
            start, end = _period(bucket if bucket else result)
            base = _base_row(fmt, shown, ordinal, locator, start, end, ctx)
            rows.extend(builder(result, base, _is_partial(start, end, ctx), _key(fmt, start, result)))
        except _Fault as fault:
            value = str(fault.value) if isinstance(fault.value, Decimal) else fault.value
            rejects.append(reject(fmt, shown, ordinal, fault.column, value, fault.reason, "costs", locator))
    return ReadResult(fmt, shown, records_table(rows, "costs"), None, records_table(rejects, "rejects"), count)


@register_source(USAGE, table="costs", detect=_detect_usage,
                 description="Anthropic Admin API usage reports (messages, analytics): tokens per bucket")
def read_usage(path: Path, con: BaseBackend) -> ReadResult:
    """Read an Anthropic usage report file into ``costs`` rows (estimated basis, unpriced).

    Parameters
    ----------
    path
        A saved response page (``.json`` or ``.json.gz``), a list of buckets, or one bucket.
    con
        The engine (unused: rows are built in memory; report pages are small).

    Returns
    -------
    ReadResult
        A row per result and non-empty token bucket (output always) and per web-search count.

    Raises
    ------
    SourceError
        When the file is not readable JSON or holds no list of buckets.
    """
    return _read(Path(path), USAGE)


@register_source(COSTS, table="costs", detect=_detect_costs,
                 description="Anthropic Admin API cost reports (legacy, analytics): invoiced cents per day")
def read_costs(path: Path, con: BaseBackend) -> ReadResult:
    """Read an Anthropic cost report file into ``costs`` rows (invoiced basis, dollars).

    Parameters
    ----------
    path
        A saved response page (``.json`` or ``.json.gz``), a list of buckets, or one bucket.
    con
        The engine (unused).

    Returns
    -------
    ReadResult
        One ``costs`` row per bucket and result; ``amount`` cents divided by 100 exactly.

    Raises
    ------
    SourceError
        When the file is not readable JSON or holds no list of buckets.
    """
    return _read(Path(path), COSTS)
