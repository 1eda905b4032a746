"""GCP Cloud Billing export to BigQuery (standard and detailed usage cost tables), as exported files.

Rows of ``gcp_billing_export_v1_<ACCOUNT>`` / ``gcp_billing_export_resource_v1_<ACCOUNT>`` saved as JSON lines
(``.jsonl``/``.json`` or a JSON array, optionally ``.gz``), as Parquet (nested structs) or as CSV from a query that
flattened the structs (``sku.description`` or ``sku_description``; ``labels``, ``project.labels``,
``system_labels`` and ``credits`` as JSON text). One ``costs`` row per export row (``formats.md`` section 6).

Quirks handled here:

* Money: ``cost`` is in ``currency``; the (negative) ``credits[].amount`` are netted: BilledCost = EffectiveCost =
  ``cost + sum(credits)``, ContractedCost = ``cost``, ListCost = ``cost_at_list``, else ``cost``. Amounts are read
  from their text as Decimal (Parquet doubles through their shortest repr). A CSV without ``credits`` may carry a
  pre-summed ``credits_amount`` column.
* ``invoice.month`` (``YYYYMM``) is the billing period (late usage is invoiced in the next month); without it, the
  month of ``usage_start_time``. Timestamps: ``2026-05-01 00:00:00 UTC``, ISO-8601 or Parquet; naive = UTC.
* Labels are ``[{key, value}]`` arrays: ``Tags`` is ``project.labels`` overlaid by ``labels`` and ``system_labels``;
  team/app/feature/env come from it. ``project.id`` is the SubAccountId.
* No model field: ``sku.description`` goes through :func:`finops_lib.meters.parse_meter` (``gcp``) for model,
  bucket, tiers, modality and thinking (thinking output has its own SKU; it stays in ``output``, marked
  ``x_Thinking`` in SkuPriceDetails). A usage SKU of an AI service (Vertex AI, Gemini API) it cannot read is
  flagged ``meter_unparsed``; other services' rows are ``non_token`` cloud costs of category ``Other``.
* ``usage.amount`` / ``usage.unit`` is the consumed quantity (``count`` of a token SKU = Tokens),
  ``usage.amount_in_pricing_units`` / ``usage.pricing_unit`` the pricing one (``1000000 count`` = ``1M Tokens``).
* ``cost_type``: ``regular`` -> Usage, ``tax`` -> Tax, ``adjustment`` / ``rounding error`` -> Adjustment.
* A flattened CSV may write ``labels``, ``project.labels``, ``system_labels``, ``credits`` and ``adjustment_info``
  as Python literals instead of JSON (``[{'key': 'team', 'value': 'ml'}]``, ``None``, ``True``: a pandas dump of
  the query result); they are parsed as literals (never evaluated; amounts Decimal from their digits) and the row
  is flagged ``python_literal``. ``NULL``, ``null`` and ``None`` cells are null.

Restatements: the export is append-only. Late usage and corrections arrive as *new* rows (a later
``export_time``, or ``cost_type = adjustment``) that add to earlier ones; exported rows are not rewritten, so a
re-pulled window (an invoice month, the last N days) re-delivers earlier rows unchanged plus new ones. The natural
key (``x_RowHash``) is billing account, project, service, SKU, usage start/end, location, resource, labels, system
labels, cost type, invoice month, credit ids, adjustment, price tier, consumption model and ``export_time``: a
re-pulled row replaces its copy from any file or container, a late row is added, never dropped. No
:class:`~finops_lib.sources.Window` is declared: an incremental pull (rows exported since the last one) overlaps
the usage days of earlier pulls without restating them, and a usage-day or invoice-month window would delete
those rows. The export documents no line id, so two rows of one file identical in every field are two charges
(:mod:`finops_lib.warehouse.keys`); rows that differ in any field, money included, are never merged.

Shards: a BigQuery extract to a wildcard URI (``billing-*.csv``) writes one file per shard, the ``*`` replaced by a
12-digit number (``billing-000000000000.csv``, ``billing-000000000001.csv``). The shards of one extract are one
delivery (:func:`parts_of`): each declares an empty :class:`~finops_lib.sources.Window` (``start == end``,
restating nothing) that names the others, so two identical rows that land in two shards stay two charges instead
of one shard's key restating the other's, whatever the ingest order. A later extract restates earlier rows by key
as above.
"""

from __future__ import annotations

import csv
import glob
import json
import re
import zlib
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ibis.backends import BaseBackend

from finops_lib.errors import SourceError
from finops_lib.meters import Meter, parse_meter
from finops_lib.models import MODEL_PREFIX_PROVIDERS
from finops_lib.schema import TOKEN_TYPES, get_table
from finops_lib.sources import ReadResult, Window, parquet_columns, register_source
from finops_lib.sources._common import (
    ACCOUNT_UNKNOWN,
    AI_CATEGORY,
    GENAI_SUBCATEGORY,
    Fault,
    flags,
    json_number,
    plausible_time,
    records_table,
    reject,
    row_hash,
)
from finops_lib.sources._csv import LITERAL_FLAG, NULL_TEXTS, parse_json_text
from finops_lib.sources._parts import named_parts
from finops_lib.sources._records import bad_text, records

FORMAT = "gcp_billing_export"
AI_SERVICES = frozenset(("vertex ai", "gemini api", "generative language api"))
AI_SERVICE_IDS = frozenset(("C7E2-9256-1C43",))
CHARGE_CATEGORIES = {"regular": "Usage", "tax": "Tax", "adjustment": "Adjustment", "rounding error": "Adjustment"}
DIMENSION_KEYS = {"x_Team": ("team",), "x_Application": ("app", "application"), "x_Feature": ("feature",),
                  "x_Environment": ("env", "environment")}  # fmt: skip
#: Optional fields that distinguish rows (detailed export, newer columns), part of the natural key.
KEY_PATHS = ("location.zone", "resource.name", "resource.global_name", "price.tier_start_amount",
             "consumption_model.id", "transaction_type", "seller_name", "subscription.instance_id")  # fmt: skip
#: Kept in ``x_SourceExtra`` when present.
EXTRA_PATHS = ("service.id", "export_time", "cost_type", "currency_conversion_rate", "project.number",
               "location.zone", "adjustment_info", "transaction_type", "seller_name")  # fmt: skip
_MAX_MONEY = Decimal(10) ** 25
#: Wide enough for 26 integer digits and 12 decimals (the default context's 28 digits are not).
_WIDE = Context(prec=60)
_QUANTUM = Decimal("1e-12")
_TEXT_COLUMNS = frozenset(c.name for t in ("costs", "rejects") for c in get_table(t).columns
                          if c.dtype in ("string", "json"))  # fmt: skip
_SKU_COLUMNS = ("sku.description", "sku_description")
#: Fields holding nested values, which a flattened CSV writes as JSON text (or Python literals).
_NESTED = ("labels", "project.labels", "system_labels", "credits", "adjustment_info")
_JSON_MARKS = (re.compile(r'"usage_start_time"\s*:'), re.compile(r'"cost"\s*:'),
               re.compile(r'"sku(?:\.description|_description)?"\s*:'))  # fmt: skip


def _get(rec: dict[str, Any], path: str) -> Any:
    """Return a field by dotted path from a nested record, or a flattened (dotted / underscored) one."""
    if path in rec:
        return rec[path]
    flat = path.replace(".", "_")
    if flat in rec:
        return rec[flat]
    node: Any = rec
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _decimal(value: Any, column: str, *, required: bool = False) -> Decimal | None:
    if value is None or value == "":
        if required:
            raise Fault(column, value, f"required field {column!r} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise Fault(column, value, f"{column!r} is not a number")
    try:
        dec = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise Fault(column, value, f"{column!r} is not a number") from None
    if not dec.is_finite() or abs(dec) >= _MAX_MONEY:
        raise Fault(column, value, f"{column!r} is not a finite number below 1e25")
    return dec.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN, context=_WIDE)


def _timestamp(value: Any, column: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        text = re.sub(r"\s*UTC$", "+00:00", value.strip())
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise Fault(column, value, f"{column!r} is not a timestamp") from None
    else:
        raise Fault(column, value, f"required field {column!r} is missing or not a timestamp")
    return plausible_time(moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC), column,
                          value)


def _json_field(value: Any, column: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value, parse_float=json_number) if value.strip() else None
        except json.JSONDecodeError:
            raise Fault(column, value, f"{column!r} is not valid JSON") from None
    return value


def _parsed(rec: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Return the record with null spellings as None and nested fields' text parsed; and whether a literal was."""
    out = {k: None if isinstance(v, str) and v.strip() in NULL_TEXTS else v for k, v in rec.items()}
    literal = False
    for path in _NESTED:
        for key in dict.fromkeys((path, path.replace(".", "_"))):
            value = out.get(key)
            if isinstance(value, str) and value.strip():
                try:
                    out[key], used = parse_json_text(value)
                except ValueError:
                    raise Fault(path, value, f"{path!r} is not valid JSON") from None  # nor a Python literal
                literal = literal or used
    return out, literal


def _labels(rec: dict[str, Any], column: str) -> dict[str, str]:
    value = _json_field(_get(rec, column), column)
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    if not isinstance(value, list) or not all(isinstance(i, dict) and "key" in i for i in value):
        raise Fault(column, value, f"{column!r} must be an array of {{key, value}} objects")
    return {str(i["key"]): "" if i.get("value") is None else str(i["value"]) for i in value}


def _credits(rec: dict[str, Any]) -> tuple[Decimal, list[dict[str, Any]]]:
    value = _json_field(_get(rec, "credits"), "credits")
    if value is None:
        total = _decimal(_get(rec, "credits.amount"), "credits.amount")
        return total or Decimal(0), []
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        raise Fault("credits", value, "'credits' must be an array of objects")
    amounts = [_decimal(c.get("amount"), "credits.amount", required=True) or Decimal(0) for c in value]
    listed = [{k: str(v) if isinstance(v, Decimal | float) else v for k, v in c.items()} for c in value]
    total = Decimal(0)
    for amount in amounts:
        total = _WIDE.add(total, amount)
    return total, listed


def _money_fields(rec: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    cost = _decimal(_get(rec, "cost"), "cost", required=True)
    credit, listed = _credits(rec)
    net = _WIDE.add(cost, credit)
    at_list = _decimal(_get(rec, "cost_at_list"), "cost_at_list")
    currency = str(_get(rec, "currency") or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise Fault("currency", _get(rec, "currency"), "'currency' is not an ISO 4217 code")
    fields = {"BilledCost": net, "EffectiveCost": net, "ContractedCost": cost,
              "ListCost": at_list if at_list is not None else cost, "BillingCurrency": currency}  # fmt: skip
    return fields, listed


def _period_fields(rec: dict[str, Any]) -> dict[str, Any]:
    start = _timestamp(_get(rec, "usage_start_time"), "usage_start_time")
    end = _timestamp(_get(rec, "usage_end_time"), "usage_end_time")
    if end < start:
        raise Fault("usage_end_time", _get(rec, "usage_end_time"), "'usage_end_time' is before usage_start_time")
    month = _get(rec, "invoice.month")
    text = str(month).strip() if month is not None else start.strftime("%Y%m")
    if not re.fullmatch(r"\d{4}(0[1-9]|1[0-2])", text):
        raise Fault("invoice.month", month, "'invoice.month' is not YYYYMM")
    year, mon = int(text[:4]), int(text[4:])
    bp_start = datetime(year, mon, 1, tzinfo=UTC)
    bp_end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=UTC)
    return {"ChargePeriodStart": start, "ChargePeriodEnd": end, "BillingPeriodStart": bp_start,
            "BillingPeriodEnd": bp_end}  # fmt: skip


def _tag_fields(rec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    labels = _labels(rec, "labels")
    tags = {**_labels(rec, "project.labels"), **labels, **_labels(rec, "system_labels")}
    dims = {col: next((tags[k] for k in keys if tags.get(k)), None) for col, keys in DIMENSION_KEYS.items()}
    return {"Tags": json.dumps(tags, sort_keys=True) if tags else None, **dims}, labels


def _units(rec: dict[str, Any], meter: Meter, usage: bool) -> dict[str, Any]:
    if not usage:
        return {}
    tokens = meter.parsed and meter.token_type != "non_token"
    unit = _get(rec, "usage.unit")
    pricing_unit = str(_get(rec, "usage.pricing_unit") or "") or None
    block = re.fullmatch(r"(\d+) count", pricing_unit or "")
    if tokens and block:
        size = int(block[1])
        pricing_unit = {1: "Tokens", 1000: "1K Tokens", 1_000_000: "1M Tokens"}.get(size, f"{size} Tokens")
    return {
        "ConsumedQuantity": _decimal(_get(rec, "usage.amount"), "usage.amount"),
        "ConsumedUnit": "Tokens" if tokens and unit == "count" else unit,
        "PricingQuantity": _decimal(_get(rec, "usage.amount_in_pricing_units"), "usage.amount_in_pricing_units"),
        "PricingUnit": pricing_unit,
    }


def _meter_fields(rec: dict[str, Any], sku: str, service: str, usage: bool) -> tuple[dict[str, Any], Meter]:
    meter = parse_meter(sku, provider="gcp")
    is_ai = meter.parsed or service.lower() in AI_SERVICES or str(_get(rec, "service.id")) in AI_SERVICE_IDS
    unparsed = is_ai and usage and not meter.parsed
    details: dict[str, Any] = {}
    if meter.parsed and meter.token_type != "non_token":
        direction, action, _ = TOKEN_TYPES[meter.token_type or "non_token"]
        details = {"TokenDirection": direction, "CacheAction": action}
        if meter.thinking:
            details["x_Thinking"] = True
    fields = {
        "x_Model": meter.model, "x_ModelRaw": sku if meter.parsed or unparsed else None,
        "x_TokenType": meter.token_type or "non_token",
        "x_ServiceTier": meter.service_tier, "x_ContextTier": meter.context_tier,
        "x_DeploymentType": meter.deployment, "x_Modality": meter.modality,
        "SkuPriceDetails": json.dumps(details) if details else None,
        "ServiceCategory": AI_CATEGORY if is_ai else "Other",
        "ServiceSubcategory": GENAI_SUBCATEGORY if is_ai else None,
        "PublisherName": next((p for m, p in MODEL_PREFIX_PROVIDERS if (meter.model or "").startswith(m)), "Google"),
        "x_DataQualityFlags": flags("meter_unparsed" if unparsed else None),
    }  # fmt: skip
    return fields, meter


def _extra(rec: dict[str, Any], listed: list[dict[str, Any]]) -> str | None:
    extra = {p: _get(rec, p) for p in EXTRA_PATHS if _get(rec, p) not in (None, "", [], {})}
    if listed:
        extra["credits"] = listed
    return json.dumps(extra, default=str, sort_keys=True) if extra else None


def _natural_key(rec: dict[str, Any], base: dict[str, Any], labels: dict[str, str], listed: list[dict]) -> str:
    export = _get(rec, "export_time")
    exported = _timestamp(export, "export_time").isoformat() if export not in (None, "") else None
    credit_ids = sorted(json.dumps([c.get("type"), c.get("id"), c.get("name")], default=str) for c in listed)
    adjustment = _json_field(_get(rec, "adjustment_info"), "adjustment_info")
    return row_hash(
        base["BillingAccountId"], base["SubAccountId"], _get(rec, "service.id"), base["SkuId"] or base["SkuMeter"],
        base["ChargePeriodStart"].isoformat(), base["ChargePeriodEnd"].isoformat(), base["RegionId"],
        json.dumps(sorted(labels.items())), json.dumps(sorted(_labels(rec, "system_labels").items())),
        _get(rec, "cost_type"), base["BillingPeriodStart"].isoformat(), credit_ids,
        json.dumps(adjustment, default=str, sort_keys=True), *(_get(rec, p) for p in KEY_PATHS), exported,
    )  # fmt: skip


def build_row(rec: dict[str, Any], shown: str, ordinal: int, locator: str | None) -> dict[str, Any]:
    """Return the ``costs`` row of one export record (raises :class:`Fault` naming the faulty field).

    Parameters
    ----------
    rec
        The record: nested (JSON, Parquet) or flattened (CSV).
    shown, ordinal, locator
        Provenance: file, line (CSV: header = 1; JSON lines: line number; Parquet: row ordinal), locator.
    """
    if not isinstance(rec, dict):
        raise Fault("record", rec, "record is not a JSON object")
    rec, literal = _parsed(rec)
    sku = str(_get(rec, "sku.description") or "").strip()
    if not sku:
        raise Fault("sku.description", _get(rec, "sku.description"), "required field 'sku.description' is missing")
    service = str(_get(rec, "service.description") or "")
    cost_type = str(_get(rec, "cost_type") or "regular").strip().lower()
    category = CHARGE_CATEGORIES.get(cost_type)
    if category is None:
        raise Fault(
            "cost_type", _get(rec, "cost_type"), "'cost_type' is not regular, tax, adjustment or rounding error"
        )
    money_fields, listed = _money_fields(rec)
    tag_fields, labels = _tag_fields(rec)
    meter_fields, meter = _meter_fields(rec, sku, service, category == "Usage")
    base = {
        **money_fields, **_period_fields(rec), **tag_fields, **meter_fields, **_units(rec, meter, category == "Usage"),
        "BillingAccountId": str(_get(rec, "billing_account_id") or ACCOUNT_UNKNOWN), "ChargeCategory": category,
        "ChargeDescription": sku, "ChargeFrequency": "Usage-Based", "InvoiceIssuerName": "Google",
        "ProviderName": "Google", "ServiceName": service or "Google Cloud", "PricingCategory": "Standard",
        "SkuId": _get(rec, "sku.id"), "SkuMeter": sku, "SubAccountId": _get(rec, "project.id"),
        "SubAccountName": _get(rec, "project.name"),
        "RegionId": _get(rec, "location.region") or _get(rec, "location.location"),
        "ResourceId": _get(rec, "resource.global_name") or _get(rec, "resource.name"),
        "ResourceName": _get(rec, "resource.name"), "x_CostBasis": "invoiced",
        "x_SourceExtra": _extra(rec, listed), "x_SourceFormat": FORMAT, "x_SourceFile": shown,
        "x_SourceRow": ordinal, "x_SourceLocator": locator,
    }  # fmt: skip
    for name in ("SkuId", "SubAccountId", "SubAccountName", "RegionId", "ResourceId", "ResourceName"):
        base[name] = base[name] if base[name] not in ("", [], {}) else None
    base["x_RowHash"] = _natural_key(rec, base, labels, listed)
    base["x_DataQualityFlags"] = flags(*base["x_DataQualityFlags"].split(","), LITERAL_FLAG if literal else None)
    return base


def _require(path: Path, names: list[str], line: int | None) -> None:
    """Raise when a tabular file lacks a required column (flattened names or nested top-level structs)."""
    for options in (("cost",), ("currency",), ("usage_start_time",), ("usage_end_time",), (*_SKU_COLUMNS, "sku")):
        if not set(names) & set(options):
            raise SourceError(path, "required column is missing", line=line, column=options[0])


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    """Return the record with text that Arrow can store: non-text in text columns as text, lone surrogates replaced."""
    for name, value in record.items():
        if name in _TEXT_COLUMNS and value is not None and not isinstance(value, str):
            value = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
        if isinstance(value, str) and bad_text(value):
            value = value.encode("utf-8", "replace").decode("utf-8")
        record[name] = value
    return record


def _detect(path: Path, head: str) -> bool:
    if head.startswith("PAR1"):
        names = set(parquet_columns(path) or ())
        return "usage_start_time" in names and "cost" in names and bool(names & {"sku", *_SKU_COLUMNS})
    text = head.lstrip("\ufeff \t\r\n")
    if text.startswith(("{", "[")):
        return all(mark.search(text) for mark in _JSON_MARKS)
    try:
        names = set(next(csv.reader([text.split("\n", 1)[0].rstrip("\r")])))
    except (csv.Error, StopIteration):
        return False
    return {"usage_start_time", "cost"} <= names and bool(names & set(_SKU_COLUMNS))


#: One shard of a wildcard extract: the last run of exactly 12 digits in the file name.
_SHARD = re.compile(r"^(?P<stem>.*\D|)\d{12}(?P<rest>(?:\D.*)?)$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parts_of(path: Path) -> tuple[str, ...]:
    """Return a glob of the shards of the extract ``path`` is one shard of (empty when it is a whole delivery).

    Examples
    --------
    >>> parts_of(Path("/x/job-7/billing-000000000001.csv.gz"))
    ('/x/job-7/billing-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9].csv.gz',)
    >>> parts_of(Path("/x/billing_export_2026-05.jsonl"))
    ()
    """
    hit = _SHARD.match(path.name)
    if hit is None:
        return ()
    return named_parts(path, f"{glob.escape(hit['stem'])}{'[0-9]' * 12}{glob.escape(hit['rest'])}")


def _windows(path: Path) -> tuple[Window, ...]:
    """Return an empty window naming the extract ``path`` is one shard of (none for a whole delivery)."""
    parts = parts_of(path)
    return (Window(_EPOCH, _EPOCH, parts=parts),) if parts else ()


@register_source(
    FORMAT,
    table="costs",
    detect=_detect,
    description="GCP Cloud Billing export (BigQuery standard/detailed) as JSON lines, CSV or Parquet",
)
def read_gcp_billing(path: Path, con: BaseBackend) -> ReadResult:
    """Read a GCP billing export file (JSON lines, CSV, Parquet) into ``costs`` rows, invoiced and net of credits.

    ``con`` is unused: rows are built in memory. Raises :class:`SourceError` only when the file as a whole cannot
    be read (corrupt compression or Parquet, missing required column, repeated header, broken JSON array).
    """
    path = Path(path)
    shown = str(path)
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    count = 0
    try:
        for line, locator, rec in records(path, _require):
            count += 1
            try:
                if isinstance(rec, Fault):
                    raise rec
                rows.append(_clean(build_row(rec, shown, line, locator)))
            except Fault as exc:
                rejects.append(_clean(reject(FORMAT, shown, line, exc.column, exc.value, exc.reason, "costs", locator)))
            except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
                reason = f"unreadable record: {exc}"
                rejects.append(_clean(reject(FORMAT, shown, line, "record", None, reason, "costs", locator)))
    except (OSError, EOFError, zlib.error, csv.Error, UnicodeError) as exc:
        raise SourceError(path, f"cannot read file: {exc}", line=count + 1) from exc
    return ReadResult(FORMAT, shown, records_table(rows, "costs"), None, records_table(rejects, "rejects"), count,
                      windows=_windows(path))
