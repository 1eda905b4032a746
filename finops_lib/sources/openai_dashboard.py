"""OpenAI dashboard CSV exports (platform.openai.com/usage -> Export): cost and activity.

The dashboard exports at most 60 days, one row per UTC day and group. Columns (reference
``formats.md`` section 2.4, from a real export): cost ``start_time, end_time, start_time_iso,
end_time_iso, amount_value, amount_currency, line_item, project_id, organization_id,
organization_name`` (some exports add ``project_name``); activity ``start_time, end_time, ...,
project_id, num_model_requests, user_id, api_key_id, model, batch, service_tier, input_tokens,
output_tokens, input_cached_tokens, input_uncached_tokens`` and modality splits.

Quirks handled here:

* Counts are written as floats (``59200.0``): a whole value is read exactly, a fractional one
  (``12.5``) is rejected. ``batch`` is ``TRUE``/``FALSE``. Amounts are long decimal text
  (``0.5617712500000000``), read as Decimal (exponent notation too), in ``amount_currency``
  (lower case ``usd``).
* Days without usage come as rows with only their dates: they are not records (nothing is
  loaded or rejected) but they still bound the export window.
* Activity ``input_tokens`` *includes* cached tokens, as in the Usage API: the uncached bucket is
  ``input_tokens - input_cached_tokens - cache writes``. Cache writes are the
  ``input_cache_write_tokens`` column when present, else ``input_tokens - input_cached_tokens -
  input_uncached_tokens`` (``input_uncached_tokens`` excludes cache writes); without either the
  split is flagged ``token_subfields_missing``.
* Cost ``line_item`` strings are parsed by :func:`finops_lib.meters.parse_meter` (provider
  ``openai``); one it cannot read is flagged ``meter_unparsed`` and kept raw.
* Natural keys are those of the Usage and Costs APIs (:func:`~finops_lib.sources.openai_api.usage_key`,
  :func:`~finops_lib.sources.openai_api.costs_key`): the same charge read from an API page and from a
  dashboard export replaces, never adds. A re-downloaded,
  overlapping export also declares its window (first to last day) per project: rows of an earlier
  export of the same project in that window are replaced even when a group disappeared.
* Column names are matched case-insensitively, with a few variants (``amount``, ``currency``,
  ``num_requests``); either Unix or ISO times may be present; ``end_time`` defaults to one day
  after ``start_time``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ibis.backends import BaseBackend

from finops_lib.errors import SourceError
from finops_lib.meters import parse_meter
from finops_lib.models import canonical_model
from finops_lib.schema import TOKEN_TYPES
from finops_lib.sources import ReadResult, Window, register_source
from finops_lib.sources._common import (
    ACCOUNT_UNKNOWN,
    Fault,
    flags,
    money,
    plausible_time,
    records_table,
    reject,
    row_hash,
    unix_in_window,
)
from finops_lib.sources._compressed import open_input
from finops_lib.sources.openai_api import TIERS, base_row, costs_key, usage_key

COST_FORMAT = "openai_dashboard_costs"
ACTIVITY_FORMAT = "openai_dashboard_activity"
DAY = 86400
MAX_COUNT = 2**63 - 1
MAX_AMOUNT = Decimal(10) ** 15
#: Canonical column -> accepted header spellings (lower case), first match wins.
ALIASES: dict[str, tuple[str, ...]] = {
    "amount_value": ("amount_value", "amount"), "amount_currency": ("amount_currency", "currency"),
    "num_model_requests": ("num_model_requests", "num_requests"),
}
#: Modality subsets of the activity export kept in ``SkuPriceDetails`` (never added to the buckets).
SUBSET_COLUMNS = ("input_audio_tokens", "input_cached_audio_tokens", "output_audio_tokens", "input_image_tokens",
                  "input_cached_image_tokens", "output_image_tokens")
BOOLS = {"true": True, "false": False, "1": True, "0": False}


def _header_names(head: str) -> set[str]:
    first = head.lstrip("\ufeff").split("\n", 1)[0]
    try:
        return {n.strip().lower() for n in next(csv.reader([first]))}
    except (csv.Error, StopIteration):
        return set()


def _has(names: set[str], column: str) -> bool:
    return any(a in names for a in ALIASES.get(column, (column,)))


def _detect_costs(path: Path, head: str) -> bool:
    names = _header_names(head)
    return (_has(names, "start_time") or _has(names, "start_time_iso")) and "line_item" in names \
        and _has(names, "amount_value") and "input_tokens" not in names


def _detect_activity(path: Path, head: str) -> bool:
    names = _header_names(head)
    return (_has(names, "start_time") or _has(names, "start_time_iso")) and {"input_tokens", "output_tokens"} <= names \
        and (_has(names, "num_model_requests") or "model" in names) and "line_item" not in names


def _text(path: Path) -> str:
    try:
        with open_input(path) as fh:
            return fh.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(path, f"not UTF-8 text (byte {exc.start})") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(path, f"cannot read file: {exc}") from exc


def _columns(path: Path, header: list[str], required: tuple[str, ...]) -> dict[str, int]:
    """Map canonical column names to their position; raise on a repeated or missing column."""
    names = [n.strip().lower() for n in header]
    if len(set(names)) != len(names):
        raise SourceError(path, "the CSV header repeats a column name", line=1)
    index = {n: i for i, n in enumerate(names)}
    out = dict(index)
    for canon, spellings in ALIASES.items():
        found = next((index[s] for s in spellings if s in index), None)
        if found is not None:
            out[canon] = found
    if "start_time" not in out and "start_time_iso" not in out:
        raise SourceError(path, "required column missing: start_time", line=1, column="start_time")
    for column in required:
        if column not in out:
            raise SourceError(path, f"required column missing: {column}", line=1, column=column)
    return out


def _records(path: Path, required: tuple[str, ...]) -> tuple[dict[str, int], int, Iterator[tuple[int, Any]]]:
    """Return (column positions, header width, iterator of (line, fields or csv.Error)); header is line 1."""
    reader = csv.reader(io.StringIO(_text(path)))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise SourceError(path, f"cannot read the CSV header: {exc or 'empty file'}", line=1) from None
    columns = _columns(path, header, required)

    def rows() -> Iterator[tuple[int, Any]]:
        while True:
            line = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield line, exc
                continue
            if fields:
                yield line, fields

    return columns, len(header), rows()


def _value(fields: list[str], columns: dict[str, int], name: str) -> str | None:
    i = columns.get(name)
    text = fields[i].strip() if i is not None else ""
    return text or None


def _count(record: dict[str, str | None], name: str) -> int | None:
    """Return a whole non-negative count (``1234.0`` is fine), None when empty."""
    text = record.get(name)
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise Fault(name, text, "not a number") from None
    if not value.is_finite() or not 0 <= value <= MAX_COUNT:
        raise Fault(name, text, "not a non-negative count")
    if value != value.to_integral_value():
        raise Fault(name, text, "fractional count (tokens and requests are whole numbers)")
    return int(value)


def _instant(record: dict[str, str | None], unix: str, iso: str) -> datetime | None:
    """Return the Unix-seconds column as UTC, else the ISO one, None when both are empty."""
    column = unix if record.get(unix) is not None else iso
    text = record.get(column)
    if text is None:
        return None
    try:
        if column == unix:
            ts = datetime.fromtimestamp(int(unix_in_window(text, column)), tz=UTC)
        else:
            ts = datetime.fromisoformat(text)
            ts = (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC)
    except Fault as fault:
        if "plausible" in fault.reason:
            raise
        ts = None
    except (ValueError, OverflowError, OSError):
        ts = None
    if ts is None:
        raise Fault(column, text, "not a Unix time in seconds" if column == unix else "not an ISO 8601 timestamp")
    return plausible_time(ts, column, text)


def _period(record: dict[str, str | None]) -> tuple[datetime, datetime]:
    start = _instant(record, "start_time", "start_time_iso")
    if start is None:
        raise Fault("start_time", None, "required value missing")
    end = _instant(record, "end_time", "end_time_iso") or start + timedelta(days=1)
    if end <= start:
        raise Fault("end_time", record.get("end_time") or record.get("end_time_iso"), "period end is not after start")
    return start, end


def _base_row(fmt: str, path: str, line: int, start: datetime, end: datetime) -> dict[str, Any]:
    seconds = int(start.timestamp())
    partial = int((end - start).total_seconds()) != DAY or seconds % DAY != 0
    return {**base_row(fmt, path, line, start, end), "x_DataQualityFlags": "partial_bucket" if partial else ""}


def _meter(line_item: str | None) -> tuple[str | None, str, str | None, str | None, bool]:
    """Return (model, token bucket, service tier, context tier, parsed) of a cost line item."""
    if line_item is None:
        return None, "non_token", None, None, True
    meter = parse_meter(line_item, provider="openai")
    if not meter.parsed:
        return None, "non_token", None, None, False
    return meter.model, meter.token_type or "non_token", meter.service_tier, meter.context_tier, True


def _cost_rows(record: dict[str, str | None], base: dict[str, Any]) -> list[dict[str, Any]]:
    text = record.get("amount_value")
    try:
        value = Decimal(text) if text is not None else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or abs(value) >= MAX_AMOUNT:
        raise Fault("amount_value", text, "missing or not a decimal amount" if value is None or not value.is_finite()
                     else "amount out of range")
    currency = (record.get("amount_currency") or "USD").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise Fault("amount_currency", record.get("amount_currency"), "not an ISO 4217 currency code")
    line_item = record.get("line_item")
    model, bucket, tier, context, parsed = _meter(line_item)
    cost = money(value)
    direction, action, _ = TOKEN_TYPES[bucket]
    start = int(base["ChargePeriodStart"].timestamp())
    return [{
        **base, "BillingAccountId": record.get("organization_id") or ACCOUNT_UNKNOWN,
        "BillingAccountName": record.get("organization_name"), "BillingCurrency": currency,
        "ChargeCategory": "Credit" if value < 0 else "Usage", "ChargeDescription": line_item,
        "BilledCost": cost, "EffectiveCost": cost, "ListCost": cost, "ContractedCost": cost,
        "SkuMeter": line_item, "SkuPriceDetails": json.dumps({"TokenDirection": direction, "CacheAction": action})
        if direction else None, "SubAccountId": record.get("project_id"), "SubAccountName": record.get("project_name"),
        "x_ApiKeyId": record.get("api_key_id"), "x_ModelRaw": line_item, "x_Model": model, "x_TokenType": bucket,
        "x_ServiceTier": tier, "x_ContextTier": context, "x_CostBasis": "invoiced",
        "x_DataQualityFlags": flags(base["x_DataQualityFlags"], None if parsed else "meter_unparsed"),
        # The Costs API key: the same charge from an API page and from this export replaces, never adds.
        "x_RowHash": row_hash(*costs_key(start, record.get("project_id"), record.get("api_key_id"), line_item)),
    }]


def _batch(record: dict[str, str | None]) -> bool | None:
    text = record.get("batch")
    if text is None:
        return None
    if text.lower() not in BOOLS:
        raise Fault("batch", text, "not TRUE or FALSE")
    return BOOLS[text.lower()]


def _activity_buckets(record: dict[str, str | None]) -> tuple[dict[str, int], set[str]]:
    """Split one activity row into disjoint buckets; return (tokens per bucket, flags)."""
    total, output = _count(record, "input_tokens"), _count(record, "output_tokens")
    if total is None or output is None:
        column = "input_tokens" if total is None else "output_tokens"
        raise Fault(column, None, "required value missing")
    cached, uncached = _count(record, "input_cached_tokens"), _count(record, "input_uncached_tokens")
    write, write_12h = _count(record, "input_cache_write_tokens"), _count(record, "input_cache_write_12h_tokens") or 0
    if write is None and cached is not None and uncached is not None:
        write = total - cached - uncached - write_12h
        if write < 0:
            raise Fault("input_uncached_tokens", record["input_uncached_tokens"],
                         "input_cached_tokens + input_uncached_tokens exceed input_tokens")
    marks = {"token_subfields_missing"} if cached is None or write is None else set()
    rest = total - (cached or 0) - (write or 0) - write_12h
    if rest < 0:
        raise Fault("input_tokens", record["input_tokens"], "input_tokens is smaller than its cached and cache-write "
                     "parts")
    return {"input_uncached": rest, "input_cache_read": cached or 0, "input_cache_write_5m": write or 0,
            "input_cache_write_1h": write_12h, "output": output}, marks


def _activity_rows(record: dict[str, str | None], base: dict[str, Any]) -> list[dict[str, Any]]:
    buckets, marks = _activity_buckets(record)
    batch, tier_raw = _batch(record), record.get("service_tier")
    requests = _count(record, "num_model_requests")
    subsets = {k: n for k in SUBSET_COLUMNS if (n := _count(record, k)) is not None}
    model = record.get("model")
    tier = "batch" if batch else TIERS.get(tier_raw.lower()) if tier_raw else "standard" if batch is False else None
    common = {**base, "SubAccountId": record.get("project_id"), "x_ApiKeyId": record.get("api_key_id"),
              "x_UserId": record.get("user_id"), "x_ModelRaw": model, "x_Model": canonical_model(model),
              "x_ServiceTier": tier, "x_CostBasis": "estimated",
              "x_SourceExtra": json.dumps({"service_tier": tier_raw}) if tier_raw and tier is None else None}
    # The Usage API key (completions): the same usage from an API page and from this export replaces.
    key = usage_key("completions", int(base["ChargePeriodStart"].timestamp()), record.get("project_id"),
                    record.get("api_key_id"), record.get("user_id"), model, batch, tier_raw)
    rows = []
    for bucket, tokens in buckets.items():
        if tokens == 0 and bucket != "output":
            continue
        direction, action, _ = TOKEN_TYPES[bucket]
        details: dict[str, Any] = {"TokenDirection": direction, "CacheAction": action}
        if bucket in ("input_uncached", "output"):
            details.update({f"x_{k}": v for k, v in subsets.items() if k.startswith(direction.lower())})
        rows.append({**common, "ChargeDescription": f"OpenAI completions usage, {bucket.replace('_', ' ')} tokens",
                     "ConsumedQuantity": Decimal(tokens), "ConsumedUnit": "Tokens",
                     "PricingQuantity": Decimal(tokens) / Decimal(1_000_000), "PricingUnit": "1M Tokens",
                     "SkuMeter": f"usage.completions:{bucket}", "SkuPriceDetails": json.dumps(details),
                     "x_TokenType": bucket, "x_RequestCount": requests if bucket == "output" else None,
                     "x_DataQualityFlags": flags("unpriced", base["x_DataQualityFlags"], *marks),
                     "x_RowHash": row_hash(*key, bucket)})
    return rows


def _windows(rows: list[dict[str, Any]], bounds: list[datetime]) -> tuple[Window, ...]:
    """One window per project (and organization) over the export's whole date range."""
    if not bounds:
        return ()
    start, end = min(bounds), max(bounds)
    scopes = sorted({(r["BillingAccountId"], r["SubAccountId"]) for r in rows if r.get("SubAccountId")})
    return tuple(Window(start, end, scope=(("BillingAccountId", account), ("SubAccountId", project)))
                 for account, project in scopes)


def _read(path: Path, fmt: str, measures: tuple[str, ...], builder: Callable[..., list[dict[str, Any]]]) -> ReadResult:
    """Read one export; ``measures`` are the required columns, all empty on a day without usage."""
    columns, width, lines = _records(path, measures)
    shown = str(path)
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    bounds: list[datetime] = []
    for line, fields in lines:
        try:
            if isinstance(fields, csv.Error):
                raise Fault("record", None, f"malformed CSV line: {fields}")
            if len(fields) != width:
                raise Fault("record", ",".join(fields), f"expected {width} fields, found {len(fields)}")
            record = {name: _value(fields, columns, name) for name in columns}
            start, end = _period(record)
            bounds += [start, end]
            if all(record.get(c) is None for c in (*measures, "model", "num_model_requests")):
                continue  # a day without usage: no record, but it bounds the window
            rows.extend(builder(record, _base_row(fmt, shown, line, start, end)))
        except Fault as fault:
            rejects.append(reject(fmt, shown, line, fault.column, fault.value, fault.reason, "costs"))
    return ReadResult(fmt, shown, records_table(rows, "costs"), None, records_table(rejects, "rejects"),
                      len({r["x_SourceRow"] for r in rows}) + len(rejects), windows=_windows(rows, bounds))


@register_source(COST_FORMAT, table="costs", detect=_detect_costs, line_id="day, project and line item",
                 description="OpenAI dashboard cost export (CSV): invoiced amounts per day, project and line item")
def read_costs(path: Path, con: BaseBackend) -> ReadResult:
    """Read an OpenAI dashboard cost export into ``costs`` rows (invoiced basis).

    Reads the exported CSV (optionally ``.csv.gz``). A reader of :data:`finops_lib.sources.SOURCES`: ``read(path,
    con) -> ReadResult``.
    """
    return _read(Path(path), COST_FORMAT, ("amount_value", "line_item"), _cost_rows)


@register_source(ACTIVITY_FORMAT, table="costs", detect=_detect_activity,
                 line_id="day, project, key, user and model",
                 description="OpenAI dashboard activity export (CSV): tokens per day, project, key, user and model")
def read_activity(path: Path, con: BaseBackend) -> ReadResult:
    """Read an OpenAI dashboard activity export into ``costs`` rows (estimated basis, unpriced).

    Reads the exported CSV (optionally ``.csv.gz``). A reader of :data:`finops_lib.sources.SOURCES`: ``read(path,
    con) -> ReadResult``.
    """
    return _read(Path(path), ACTIVITY_FORMAT, ("input_tokens", "output_tokens"), _activity_rows)
