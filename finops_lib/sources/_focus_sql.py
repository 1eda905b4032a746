"""The SQL turning a staged FOCUS file (every column as text) into ``costs`` rows.

Split from :mod:`finops_lib.sources.focus` (file reading, detection and windows): values are
parsed (:func:`~finops_lib.sources._sql.decimal_sql`, :func:`~finops_lib.sources._sql.timestamp_sql`),
checked in order (the first fault rejects the row, marked inline), normalized to the schema, and the
natural key is built from every non-measure column; the meters of AI rows are parsed once per distinct text
(:func:`meters_table`).

The meter of a row is AWS ``x_UsageType``, else ``SkuMeter`` (Azure: ``x_SkuMeterName``). Pinecone's hosted
inference rows name their model in ``SkuMeter``, ``ChargeDescription`` or ``SkuId`` (UNCONFIRMED which): the first
of them naming a hosted model (:data:`finops_lib.meters.pinecone.HOSTED_MODELS`) is the meter, read by
:mod:`finops_lib.meters.pinecone`; its read, write and storage units are not AI rows (``non_token``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pyarrow as pa
from ibis.backends import BaseBackend

from finops_lib.meters import parse_meter
from finops_lib.meters.pinecone import HOSTED_MODELS
from finops_lib.sources import REJECT_MARK
from finops_lib.sources._csv import LITERAL_FLAG, MISSING, PADDED, PADDED_FLAG, SHORT_REASON, literal_json_sql
from finops_lib.sources._sql import decimal_sql, ident, money_faults, quote, timestamp_sql

PROVIDER_COLUMNS = ("ServiceProviderName", "ProviderName", "InvoiceIssuerName", "PublisherName")
MONEY = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
QUANTITIES = ("ConsumedQuantity", "PricingQuantity", "ListUnitPrice", "ContractedUnitPrice")
TIMES = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")
#: Columns copied as text into the column of the same name.
TEXT = ("BillingAccountId", "BillingAccountName", "ChargeDescription", "ConsumedUnit", "PricingUnit",
        "ServiceCategory", "ServiceName", "ServiceSubcategory", "ResourceId", "ResourceName", "SkuId",
        "SubAccountId", "SubAccountName")
#: Closed FOCUS value sets, matched case-insensitively.
ENUMS: dict[str, tuple[str, ...]] = {
    "ChargeCategory": ("Usage", "Purchase", "Tax", "Credit", "Adjustment"),
    "ChargeClass": ("Correction",),
    "ChargeFrequency": ("One-Time", "Recurring", "Usage-Based"),
    "PricingCategory": ("Standard", "Dynamic", "Committed", "Other"),
}
MAPPED = {*MONEY, *QUANTITIES, *TIMES, *TEXT, *ENUMS, *PROVIDER_COLUMNS, "BillingCurrency", "RegionId",
          "SkuMeter", "SkuPriceDetails", "Tags"}
#: Columns left out of the natural key: the measures a restatement may change.
MEASURES = {*MONEY, *QUANTITIES, "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost",
            "PricingCurrencyListUnitPrice", "CommitmentDiscountQuantity"}
#: Tag keys per dimension (compared lower case, after an AWS ``user:`` or similar prefix).
DIMENSION_TAGS = {"x_Team": ("team",), "x_Application": ("app", "application"), "x_Feature": ("feature",),
                  "x_Environment": ("env", "environment")}
GENAI_SERVICES = "bedrock|openai|vertex ai|gemini|anthropic|claude|foundry models|generative"
_MEASURE_EXTENSION = re.compile(r"^x_.*(Cost|Price|Quantity)", re.I)
_US = "chr(31)"
METER_FIELDS = ("model", "token_type", "service_tier", "context_tier", "deployment", "modality", "region")
TAG_MAP = "try(json_transform(__tags, '\"MAP(VARCHAR, VARCHAR)\"'))"


def _json_object_sql(text: str, *, wrap: bool) -> str:
    """Return SQL: ``text`` when it is a JSON object, else NULL (``wrap``: accept a brace-less body too)."""
    plain = f"CASE WHEN json_type(try(json({text}))) = 'OBJECT' THEN {text} END"
    if not wrap:
        return plain
    wrapped = f"'{{' || {text} || '}}'"
    return f"coalesce({plain}, CASE WHEN json_type(try(json({wrapped}))) = 'OBJECT' THEN {wrapped} END)"


def _literal_object_sql(text: str) -> str:
    """Return SQL: a Python dict literal (``{'team': 'ml'}``) in ``text`` as JSON object text, else NULL."""
    return (f"list_transform([{literal_json_sql(text)}], j -> CASE WHEN json_type(try(json(j))) = 'OBJECT' "
            "THEN j END)[1]")


def _object_sql(text: str, *, wrap: bool) -> tuple[str, str]:
    """Return SQL of (a JSON object cell as JSON text, whether it was read as a Python literal)."""
    json_text = _json_object_sql(text, wrap=wrap)
    value = f"CASE WHEN {text} IS NULL THEN NULL ELSE coalesce({json_text}, {_literal_object_sql(text)}) END"
    used = (f"CASE WHEN {text} IS NULL OR {json_text} IS NOT NULL THEN false "
            f"ELSE {_literal_object_sql(text)} IS NOT NULL END")
    return value, used


def _enum_sql(column: str, values: tuple[str, ...]) -> str:
    cases = " ".join(f"WHEN {quote(v.lower())} THEN {quote(v)}" for v in values)
    return f"CASE lower(trim({column})) {cases} END"


def _hint_sql(provider: str, usage_type: str) -> str:
    """Return SQL of the ``parse_meter`` provider of a row (AWS when it has an ``x_UsageType``)."""
    pairs = (("amazon|aws", "aws"), ("microsoft|azure", "azure"), ("google|gcp", "gcp"), ("openai", "openai"),
             ("anthropic", "anthropic"), ("pinecone", "pinecone"))
    cases = " ".join(f"WHEN regexp_matches(lower({provider}), '{p}') THEN '{v}'" for p, v in pairs)
    return f"CASE WHEN {usage_type} IS NOT NULL THEN 'aws' {cases} END"


def _token_type_sql(ai: str, details: str, meter_type: str) -> str:
    """Return SQL of the token bucket, from ``SkuPriceDetails`` TokenDirection/CacheAction first, else the meter."""
    direction = f"lower(json_extract_string({details}, '$.TokenDirection'))"
    action = f"lower(json_extract_string({details}, '$.CacheAction'))"
    write = (f"CASE WHEN {meter_type} IN ('input_cache_write_5m', 'input_cache_write_1h') THEN {meter_type} "
             "ELSE 'input_cache_write_5m' END")
    return (f"CASE WHEN NOT {ai} THEN 'non_token' WHEN {direction} = 'output' THEN 'output' "
            f"WHEN {direction} = 'input' THEN CASE WHEN {action} = 'read' THEN 'input_cache_read' "
            f"WHEN {action} = 'write' THEN {write} WHEN {action} = 'other' THEN coalesce({meter_type}, 'non_token') "
            f"ELSE 'input_uncached' END ELSE coalesce({meter_type}, 'non_token') END")


def _dimension_sql(tag_map: str) -> str:
    out = []
    for column, keys in DIMENSION_TAGS.items():
        wanted = ", ".join(quote(k) for k in keys)
        pick = (f"list_filter(map_entries({tag_map}), e -> regexp_replace(lower(trim(e.key)), "
                f"'^(user|tag|label|tags)[:/.]', '') IN ({wanted}))[1].value")
        out.append(f"nullif(trim({pick}), '') AS {column}")
    return ", ".join(out)


def values_sql(names: list[str]) -> str:
    """Projection of the parsed values (``__*`` columns) beside the raw text columns."""
    col = present_column(names)
    provider = f"coalesce({', '.join(col(c) for c in PROVIDER_COLUMNS)})"
    hosted = quote("|".join(m.replace(".", r"\.") for m in HOSTED_MODELS))
    naming = ", ".join(f"CASE WHEN regexp_matches(lower({col(c)}), {hosted}) THEN {col(c)} END"
                       for c in ("SkuMeter", "ChargeDescription", "SkuId"))
    meter = (f"CASE WHEN __hint = 'aws' THEN coalesce({col('x_UsageType')}, {col('SkuMeter')}) "
             f"WHEN __hint = 'pinecone' THEN coalesce({naming}, {col('SkuMeter')}) "
             f"ELSE coalesce({col('SkuMeter')}, {col('x_SkuMeterName')}) END")
    tags, tags_literal = _object_sql(col("Tags"), wrap=True)
    details, details_literal = _object_sql(col("SkuPriceDetails"), wrap=False)
    parts = [f"{decimal_sql(col(c))} AS __{c}" for c in (*MONEY, *QUANTITIES)]
    parts += [f"{timestamp_sql(col(c))} AS __{c}" for c in TIMES]
    parts += [f"{_enum_sql(col(c), values)} AS __{c}" for c, values in ENUMS.items()]
    key = [_key_sql(n) for n in sorted(names) if n not in MEASURES and not _MEASURE_EXTENSION.match(n)]
    parts += [
        f"upper(trim({col('BillingCurrency')})) AS __currency",
        f"{provider} AS __provider",
        f"{tags} AS __tags",
        f"{details} AS __details",
        f"{tags_literal} OR {details_literal} AS __literal",
        f"{_hint_sql(provider, col('x_UsageType'))} AS __hint",
        f"md5(to_json(list_value({', '.join(key)}))) AS __key",
    ]
    ai = (f"(regexp_matches(lower(concat_ws(' ', {col('ConsumedUnit')}, {col('PricingUnit')}, __meter)), 'token') "
          f"OR {col('ServiceSubcategory')} = 'Generative AI' "
          f"OR json_extract_string(__details, '$.TokenDirection') IS NOT NULL "
          f"OR regexp_matches(lower(coalesce({col('ServiceName')}, '')), '{GENAI_SERVICES}'))")
    return f"{', '.join(parts)}, {meter} AS __meter, {ai} AS __ai"


def _key_sql(name: str) -> str:
    """Return SQL of a column's value in the natural key: parsed where the text may vary (CSV vs Parquet)."""
    if name in TIMES:
        return f"CAST(epoch_us(__{name}) AS VARCHAR)"  # independent of the session's time zone
    if name in ("Tags", "SkuPriceDetails"):
        return f"CAST(json(__{'tags' if name == 'Tags' else 'details'}) AS VARCHAR)"
    if name in ENUMS:
        return f"coalesce(__{name}, {ident(name)})"
    return "__currency" if name == "BillingCurrency" else ident(name)


def meters_table(con: BaseBackend, stage: str, names: list[str]) -> str:
    """Parse the distinct (provider, meter) pairs of AI rows once; return the lookup table's name."""
    pairs = con.con.execute(f"SELECT DISTINCT __hint, __meter FROM (SELECT *, {values_sql(names)} FROM {stage}) "
                            "WHERE __ai AND __meter IS NOT NULL").fetchall()
    rows = []
    for hint, text in pairs:
        meter = parse_meter(text, provider=hint)
        rows.append({"hint": hint, "text": text, "parsed": bool(meter.parsed),
                     **{k: getattr(meter, k) for k in METER_FIELDS}})
    schema = pa.schema([("hint", pa.string()), ("text", pa.string()), ("parsed", pa.bool_()),
                        *((k, pa.string()) for k in METER_FIELDS)])
    name = f"_focus_meters_{uuid.uuid4().hex[:12]}"
    con.con.register(f"{name}_arrow", pa.Table.from_pylist(rows, schema=schema))
    con.con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
    con.con.unregister(f"{name}_arrow")
    return name


def present_column(names: list[str]) -> Callable[[str], str]:
    """Return a function giving a column's quoted name when the file has it, else a text NULL."""
    present = set(names)
    return lambda c: ident(c) if c in present else "NULL::VARCHAR"


def _faults(names: list[str]) -> list[tuple[str, str, str]]:
    """(condition, column, reason) checks in order: the first that holds rejects the row."""
    col = present_column(names)
    missing = "missing value in a mandatory FOCUS column"
    checks = [(f"{col(c)} IS NULL", c, missing) for c in ("BillingAccountId", "BilledCost", *TIMES)]
    checks += [
        ("NOT regexp_matches(coalesce(__currency, ''), '^[A-Z]{3}$')", "BillingCurrency",
         "not an ISO 4217 currency code"),
        (f"{col('ChargeCategory')} IS NULL", "ChargeCategory", missing),
        (f"{col('ServiceName')} IS NULL", "ServiceName", missing),
        (f"{col('ServiceCategory')} IS NULL", "ServiceCategory", missing),
        ("__provider IS NULL", "ProviderName", "no ProviderName, ServiceProviderName, InvoiceIssuerName or "
         "PublisherName"),
    ]
    checks += [fault[1::-1] + fault[2:] for c in MONEY for fault in money_faults(c, col(c), f"__{c}")]
    checks += [(f"{col(c)} IS NOT NULL AND __{c} IS NULL", c, "not a decimal number") for c in (*MONEY, *QUANTITIES)]
    checks += [(f"__{c} IS NULL", c, "not an ISO-8601 timestamp") for c in TIMES]
    checks += [
        ("__ChargePeriodEnd < __ChargePeriodStart", "ChargePeriodEnd", "before ChargePeriodStart"),
        ("__BillingPeriodEnd <= __BillingPeriodStart", "BillingPeriodEnd", "not after BillingPeriodStart"),
        ("__ChargeCategory IS NULL", "ChargeCategory", "not a FOCUS charge category"),
        (f"{col('Tags')} IS NOT NULL AND __tags IS NULL", "Tags", "not a JSON object"),
        (f"{col('SkuPriceDetails')} IS NOT NULL AND __details IS NULL", "SkuPriceDetails", "not a JSON object"),
    ]
    return checks


def _extra_sql(names: list[str]) -> str:
    """Return SQL of ``x_SourceExtra``: unmapped columns, and raw values that a normalization dropped."""
    entries = [f"{{'k': {quote(n)}, 'v': {ident(n)}}}" for n in names if n not in MAPPED]
    entries += [f"{{'k': {quote(n)}, 'v': CASE WHEN __{n} IS NULL THEN {ident(n)} END}}"
                for n in ENUMS if n in names and n != "ChargeCategory"]
    if not entries:
        return "NULL::VARCHAR"
    kept = f"list_filter([{', '.join(entries)}], e -> e.v IS NOT NULL)"
    return f"CASE WHEN len({kept}) > 0 THEN to_json(map_from_entries({kept})) END"


def _details_sql() -> str:
    """Return SQL of SkuPriceDetails, with FOCUS TokenDirection/CacheAction added on token rows that lack them."""
    added = ("json_object('TokenDirection', CASE WHEN x_TokenType = 'output' THEN 'Output' ELSE 'Input' END, "
             "'CacheAction', CASE x_TokenType WHEN 'input_cache_read' THEN 'Read' WHEN 'output' THEN 'None' "
             "WHEN 'input_uncached' THEN 'None' ELSE 'Write' END)")
    return (f"CASE WHEN x_TokenType = 'non_token' OR json_extract_string(__details, '$.TokenDirection') IS NOT NULL "
            f"THEN __details ELSE CAST(json_merge_patch(coalesce(__details, '{{}}'), {added}) AS VARCHAR) END")


def select_sql(stage: str, names: list[str], meters: str, fmt: str, *, locator: bool = False) -> str:
    """Return the SELECT from the staged raw rows to ``costs`` rows of format ``fmt`` (rejects marked inline).

    The rows may be of one file or more (``__file``): occurrences of a key are counted per file. ``locator``: the
    staged rows carry ``__locator`` (a zip's member and line), kept as ``x_SourceLocator``.
    """
    col = present_column(names)
    checks = _faults(names)
    short = f"WHEN {MISSING} IS NOT NULL THEN {MISSING} || {_US} || {quote(SHORT_REASON)} "
    fault = "CASE " + short + " ".join(f"WHEN {cond} THEN {quote(c)} || {_US} || {quote(why)}"
                                       for cond, c, why in checks) + " END"
    bad_value = "CASE split_part(__fault, chr(31), 1) " + " ".join(
        f"WHEN {quote(c)} THEN {col(c)}" for c in dict.fromkeys(c for _, c, _ in checks)) + " END"
    flags = ("concat_ws(',', CASE WHEN __ttl_assumed THEN 'cache_ttl_assumed' END, "  # sorted by name
             "CASE WHEN __ai AND __meter IS NOT NULL AND NOT coalesce(__parsed, false) THEN 'meter_unparsed' END, "
             "CASE WHEN x_TokenType <> 'non_token' AND __model IS NULL AND coalesce(__parsed, __meter IS NULL) "
             f"THEN 'model_unknown' END, CASE WHEN __literal THEN '{LITERAL_FLAG}' END, "
             f"CASE WHEN {PADDED} THEN '{PADDED_FLAG}' END)")
    ai = lambda c: f"CASE WHEN __ai THEN {c} END"  # noqa: E731 - meter fields only on AI rows
    located = " __locator AS x_SourceLocator," if locator else ""
    return f"""
WITH v AS (
  SELECT *, {values_sql(names)} FROM {stage}
), f AS (
  SELECT *, {fault} AS __fault, row_number() OVER (PARTITION BY __file, __key ORDER BY __line) AS __occurrence FROM v
), t AS (
  SELECT f.*, m.model AS __model, m.parsed AS __parsed, m.service_tier AS __tier, m.context_tier AS __context,
    m.deployment AS __deployment, m.modality AS __modality, m.region AS __region,
    {_token_type_sql('f.__ai', '__details', 'm.token_type')} AS x_TokenType,
    f.__ai AND lower(json_extract_string(__details, '$.CacheAction')) = 'write'
      AND m.token_type IS DISTINCT FROM 'input_cache_write_1h'
      AND m.token_type IS DISTINCT FROM 'input_cache_write_5m' AS __ttl_assumed
  FROM f LEFT JOIN {meters} m ON f.__ai AND m.hint IS NOT DISTINCT FROM f.__hint AND m.text = f.__meter
)
SELECT
  __BilledCost AS BilledCost, {', '.join(f"coalesce(__{c}, __BilledCost) AS {c}" for c in MONEY[1:])},
  __currency AS BillingCurrency, {', '.join(f"__{c} AS {c}" for c in (*TIMES, *ENUMS, *QUANTITIES))},
  {', '.join(f"{col(c)} AS {c}" for c in TEXT)},
  __provider AS ProviderName, coalesce({col('PublisherName')}, __provider) AS PublisherName,
  coalesce({col('InvoiceIssuerName')}, __provider) AS InvoiceIssuerName,
  coalesce({col('RegionId')}, {ai('__region')}) AS RegionId, coalesce({col('SkuMeter')}, {ai('__meter')}) AS SkuMeter,
  {_details_sql()} AS SkuPriceDetails, __tags AS Tags,
  {_dimension_sql(TAG_MAP)},
  {ai('__model')} AS x_Model, {ai('__meter')} AS x_ModelRaw, x_TokenType, {ai('__modality')} AS x_Modality,
  CASE WHEN __ai AND __model IS NOT NULL THEN coalesce(__tier, 'standard') END AS x_ServiceTier,
  {ai('__context')} AS x_ContextTier, {ai('__deployment')} AS x_DeploymentType,
  'invoiced' AS x_CostBasis, {_extra_sql(names)} AS x_SourceExtra,
  '{fmt}' AS x_SourceFormat, __file AS x_SourceFile, __line AS x_SourceRow,{located}
  md5('{fmt}' || {_US} || __key || {_US} || __occurrence) AS x_RowHash,
  CASE WHEN __fault IS NOT NULL THEN '{REJECT_MARK}' || __fault || {_US} || coalesce(left({bad_value}, 200), '')
       ELSE {flags} END AS x_DataQualityFlags
FROM t
"""
