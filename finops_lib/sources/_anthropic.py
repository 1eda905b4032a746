"""Shared by the Anthropic Admin API usage and cost report readers: pages, buckets and result dimensions.

A saved response is one page ``{"data": [...], ...}``, a bare list of buckets or one bucket
(:func:`load_page`); each bucket holds ``results`` (or is itself a flat per-user row) with a
``starting_at``/``ending_at`` period (:func:`bucket_results`, :func:`period`). The dimensions of a
result are the same for usage and cost rows (:func:`dimensions`, :func:`natural_key`, :func:`base_row`).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from finops_lib.errors import SourceError
from finops_lib.models import canonical_model
from finops_lib.sources._common import (
    ACCOUNT_UNKNOWN,
    AI_CATEGORY,
    GENAI_SUBCATEGORY,
    Fault,
    grid_width,
    json_number,
    month_bounds,
    plausible_time,
)
from finops_lib.sources._compressed import open_input

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


def load_page(path: Path) -> tuple[list[Any], dict[str, Any]]:
    """Return (buckets, page envelope) of a saved response."""
    try:
        with open_input(path) as fh:
            text = fh.read().decode("utf-8-sig")
        doc = json.loads(text, parse_float=json_number)
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


def bucket_results(buckets: list[Any]) -> Iterator[tuple[str, Any, Any]]:
    """Yield (locator, bucket, result) for every result of every bucket; flat rows are their own bucket."""
    for i, bucket in enumerate(buckets):
        if not isinstance(bucket, dict):
            yield f"data[{i}]", {}, bucket
            continue
        key = "results" if "results" in bucket else "result" if "result" in bucket else None
        if key is None:
            flat = "amount" in bucket or any(k in bucket for k in TOKEN_FIELDS)
            yield f"data[{i}]", bucket, bucket if flat else Fault("results", None, "bucket has no 'results' list")
            continue
        results = bucket[key]
        for j, result in enumerate(results if isinstance(results, list) else [results]):
            yield f"data[{i}].{key}[{j}]", bucket, result


def timestamp(bucket: dict[str, Any], name: str) -> datetime:
    """Return an RFC 3339 field as UTC (naive = UTC); raise :class:`Fault` when it is not one."""
    value = bucket.get(name)
    try:
        ts = datetime.fromisoformat(value) if isinstance(value, str) else None
        ts = ts if ts is None or ts.tzinfo is not None else ts.replace(tzinfo=UTC)
        ts = ts.astimezone(UTC) if ts is not None else None
    except (ValueError, OverflowError):
        ts = None
    if ts is None:
        raise Fault(name, value, f"'{name}' is not an RFC 3339 timestamp")
    return plausible_time(ts, name, value)


def period(bucket: dict[str, Any]) -> tuple[datetime, datetime]:
    """Return (starting_at, ending_at) of a bucket; raise :class:`Fault` unless the end is after the start."""
    start, end = timestamp(bucket, "starting_at"), timestamp(bucket, "ending_at")
    if end <= start:
        raise Fault("ending_at", bucket.get("ending_at"), "'ending_at' is not after 'starting_at'")
    return start, end


def bucket_width(buckets: list[Any]) -> int:
    """Return the dominant bucket width of the file in seconds (1d, 1h or 1m)."""
    periods = []
    for bucket in buckets:
        try:
            periods.append(period(bucket))
        except (Fault, AttributeError):
            continue
    widths = sorted(int((end - start).total_seconds()) for start, end in periods)
    return grid_width(widths)


def file_context(buckets: list[Any], page: dict[str, Any]) -> dict[str, Any]:
    """File-level facts: bucket width, data watermark, organization, service name."""
    try:
        refreshed = timestamp(page, "data_refreshed_at") if "data_refreshed_at" in page else None
    except Fault:
        refreshed = None
    analytics = "data_refreshed_at" in page or "organization_id" in page
    return {"width": bucket_width(buckets), "refreshed": refreshed,
            "account": field_text(page.get("organization_id")) or ACCOUNT_UNKNOWN,
            "service": "Claude" if analytics else "Claude API"}


def is_partial(start: datetime, end: datetime, ctx: dict[str, Any]) -> bool:
    """Whether a bucket is partial: off the file's bucket grid, or ending after the data watermark."""
    width = ctx["width"]
    seconds = int(start.timestamp())
    late = ctx["refreshed"] is not None and end > ctx["refreshed"]
    return late or int((end - start).total_seconds()) != width or seconds % width != 0


def field_text(value: object) -> str | None:
    """Return a result field as text (objects and lists as JSON), None when null or empty."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)


def field_count(container: dict[str, Any], name: str, label: str | None = None) -> int | None:
    """Return a non-negative integer field (``12.0`` is fine), None when absent."""
    value = container.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or not 0 <= value <= MAX_COUNT \
            or value != int(value):
        raise Fault(label or name, value, f"'{label or name}' must be a non-negative integer")
    return int(value)


def user_id(result: dict[str, Any]) -> str | None:
    """Return the result's user: the per-user reports' ``actor.user_id``, else the account or service account."""
    actor = result.get("actor")
    user = actor.get("user_id") if isinstance(actor, dict) else None
    return field_text(user) or field_text(result.get("account_id")) or field_text(result.get("service_account_id"))


def dimensions(result: dict[str, Any]) -> dict[str, Any]:
    """Return the schema columns of the result's dimensions (the same for usage and cost rows)."""
    workspace = field_text(result.get("workspace_id"))
    default = workspace is None and "workspace_id" in result  # absent: the report has no workspaces at all
    model = field_text(result.get("model"))
    tier, window, geo = (field_text(result.get(k)) for k in ("service_tier", "context_window", "inference_geo"))
    extra = {k: v for k, v in result.items() if k not in PLACED and v is not None}
    for key, raw, known in (("service_tier", tier, TIERS), ("context_window", window, CONTEXT_TIERS)):
        if raw is not None and raw.lower() not in known:
            extra[key] = raw
    return {
        "SubAccountId": DEFAULT_WORKSPACE[0] if default else workspace,
        "SubAccountName": DEFAULT_WORKSPACE[1] if default else None,
        "x_ApiKeyId": field_text(result.get("api_key_id")),
        "x_UserId": user_id(result),
        "x_ModelRaw": model,
        "x_Model": canonical_model(model),
        "x_ServiceTier": TIERS.get(tier.lower()) if tier else None,
        "x_ContextTier": CONTEXT_TIERS.get(window.lower()) if window else None,
        "RegionId": geo if geo and geo != "not_available" else None,
        "x_SourceExtra": json.dumps(extra, default=str, sort_keys=True) if extra else None,
    }


def natural_key(fmt: str, start: datetime, result: dict[str, Any]) -> list[Any]:
    """Return the natural key of a result (the token bucket is appended per row)."""
    return [fmt, start.isoformat(), user_id(result), *(field_text(result.get(k)) for k in DIMENSIONS)]


def base_row(fmt: str, path: str, ordinal: int, locator: str, start: datetime, end: datetime,
             ctx: dict[str, Any]) -> dict[str, Any]:
    """Return the columns every ``costs`` row of a bucket shares (provider, period, billing month, provenance)."""
    bp_start, bp_end = month_bounds(start)
    return {
        "BillingAccountId": ctx["account"], "BillingCurrency": "USD", "BillingPeriodStart": bp_start,
        "BillingPeriodEnd": bp_end, "ChargeCategory": "Usage", "ChargeFrequency": "Usage-Based",
        "ChargePeriodStart": start, "ChargePeriodEnd": end, "InvoiceIssuerName": "Anthropic",
        "ProviderName": "Anthropic", "PublisherName": "Anthropic", "ServiceCategory": AI_CATEGORY,
        "ServiceSubcategory": GENAI_SUBCATEGORY, "ServiceName": ctx["service"], "PricingCategory": "Standard",
        "x_SourceFormat": fmt, "x_SourceFile": path, "x_SourceRow": ordinal, "x_SourceLocator": locator,
    }
