"""FinOps FOCUS cost and usage files, versions 1.0 to 1.3 (CSV, CSV.gz or Parquet).

Read entirely inside the engine (DuckDB SQL), so a month of a big cloud bill streams without
pandas; only the distinct meter strings of AI rows go through Python
(:func:`finops_lib.meters.parse_meter`).

Quirks handled here (``reference/formats.md`` sections 1, 4.3 and 5):

* Nulls written as the literal string ``NULL`` (the FOCUS sample data) or as empty fields.
* Timestamps as ISO ``2026-05-01T00:00:00Z`` or ``2024-09-18 22:00:00`` (no zone: UTC).
* The version is told by the columns present (:func:`focus_version`): 1.3 replaces
  ``ProviderName`` by ``ServiceProviderName`` (``HostProviderName`` beside it); a file without
  ``InvoiceIssuerName`` or ``PublisherName`` gets the provider there.
* Every column the schema has no place for (vendor ``x_*`` columns such as AWS ``x_UsageType`` or
  Azure ``x_SkuMeterName``, the FOCUS sample's ``Id``, FOCUS columns such as ``AvailabilityZone``,
  ``RegionName`` or ``CommitmentDiscountId``) is kept as text in the ``x_SourceExtra`` JSON object.
* Case variants of FOCUS values (Oracle's ``Usage-based``) are normalized; an unknown
  ``ChargeClass``/``ChargeFrequency``/``PricingCategory`` value becomes null, its raw text kept in
  ``x_SourceExtra``. A null ``ContractedCost``/``EffectiveCost``/``ListCost`` (the sample's Oracle
  rows) takes the billed amount, as every invoiced row carries all four.
* Money and quantities are parsed from their text as DECIMAL(38, 12), rounded half-even
  (exponent notation accepted; Parquet doubles are read through their shortest text).
* AI rows (token units or meters, ``Generative AI``, GenAI services, or FOCUS 1.2+
  ``SkuPriceDetails`` ``TokenDirection``): model, token bucket and tier come from AWS
  ``x_UsageType`` (provider ``aws``), Azure ``SkuMeter``/``x_SkuMeterName`` (``azure``), else
  ``SkuMeter``; ``TokenDirection``/``CacheAction`` decide the bucket when present. Other rows load
  unchanged as ``non_token`` rows, so cloud spend adds up.
* ``Tags`` is a JSON object (Azure's brace-less body is wrapped); ``team``, ``app``/``application``,
  ``feature``, ``env``/``environment`` fill the dimensions, in any case and with AWS ``user:``
  prefixes.
* A FOCUS file restates its billing period per billing account: one
  :class:`~finops_lib.sources.Window` per (account, period), except for files named as one part of
  a multi-part export (``...-00001.csv.gz``, ``part_0_0001.csv``), which restate nothing alone.
  The natural key is every non-measure column plus the occurrence among identical rows.
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
from ibis.backends import BaseBackend

from finops_lib.errors import SourceError
from finops_lib.meters import parse_meter
from finops_lib.schema import conform
from finops_lib.sources import REJECT_MARK, ReadResult, Window, register_source
from finops_lib.sources._csv import quote, read_csv_sql

FORMAT = "focus"
#: FOCUS columns by the version that introduced them (Cost and Usage dataset).
VERSION_COLUMNS: dict[str, tuple[str, ...]] = {
    "1.1": ("CapacityReservationId", "CapacityReservationStatus", "CommitmentDiscountQuantity",
            "CommitmentDiscountUnit", "ServiceSubcategory", "SkuMeter", "SkuPriceDetails"),
    "1.2": ("BillingAccountType", "SubAccountType", "InvoiceId", "PricingCurrency",
            "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice"),
    "1.3": ("ServiceProviderName", "HostProviderName", "AllocatedMethodId", "AllocatedMethodDetails",
            "AllocatedResourceId", "AllocatedResourceName", "AllocatedTags", "ContractApplied"),
}
REQUIRED = ("BilledCost", "BillingAccountId", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd",
            "ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd", "ServiceCategory", "ServiceName")
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
_MULTIPART = re.compile(r"(?i)(part[-_]?\d+|[-_]\d{4,}\.)")
_US = "chr(31)"
TAG_MAP = "try(json_transform(__tags, '\"MAP(VARCHAR, VARCHAR)\"'))"
METER_FIELDS = ("model", "token_type", "service_tier", "context_tier", "deployment", "modality", "region")


def focus_version(columns: set[str] | list[str]) -> str:
    """Return the FOCUS version a set of column names implies (the newest introduced column present).

    Examples
    --------
    >>> focus_version(["BilledCost", "ProviderName"]), focus_version(["SkuMeter", "InvoiceId"])
    ('1.0', '1.2')
    >>> focus_version(["ServiceProviderName"])
    '1.3'
    """
    present = set(columns)
    return max((v for v, cols in VERSION_COLUMNS.items() if present & set(cols)), default="1.0")


def _is_focus(names: set[str]) -> bool:
    return {"BilledCost", "ChargePeriodStart", "BillingCurrency", "BillingPeriodStart"} <= names \
        and bool(names & {"ProviderName", "ServiceProviderName"})


def _detect(path: Path, head: str) -> bool:
    if head.startswith("PAR1"):
        try:
            import pyarrow.parquet as pq

            return _is_focus(set(pq.read_schema(path).names))
        except Exception:  # not a readable Parquet file: not ours
            return False
    first = head.lstrip("\ufeff").split("\n", 1)[0]
    return _is_focus({n.strip().strip('"') for n in first.split(",")})


# --- SQL building blocks ---------------------------------------------------------------------------------------


def ident(name: str) -> str:
    """Return ``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def decimal_sql(text: str) -> str:
    r"""Return SQL parsing ``text`` as DECIMAL(38, 12), rounded half-even (NULL when not a number).

    DuckDB's cast rounds half away from zero; an exact tie (``\d{12}5`` then zeros) whose twelfth
    digit is even is truncated instead.

    Examples
    --------
    >>> import duckdb
    >>> duckdb.sql(f"SELECT {decimal_sql(quote('0.0000000000025'))}").fetchone()[0]
    Decimal('2E-12')
    """
    tie = (f"regexp_matches({text}, '^\\s*[+-]?\\d*\\.\\d{{12}}50*\\s*$') "
           f"AND regexp_extract({text}, '\\.\\d{{11}}([02468])', 1) <> ''")
    truncated = f"TRY_CAST(regexp_extract({text}, '^\\s*([+-]?\\d*\\.\\d{{12}})', 1) AS DECIMAL(38, 12))"
    return f"CASE WHEN {tie} THEN {truncated} ELSE TRY_CAST({text} AS DECIMAL(38, 12)) END"


def timestamp_sql(text: str) -> str:
    """Return SQL parsing ISO-8601 ``text`` as a UTC timestamp (no zone written: UTC), NULL when invalid."""
    zoned = f"regexp_matches({text}, ':\\d{{2}}(\\.\\d+)?\\s*([zZ]|UTC|[+-]\\d{{2}}(:?\\d{{2}})?)$')"
    return (f"CASE WHEN {zoned} THEN TRY_CAST({text} AS TIMESTAMPTZ) "
            f"ELSE timezone('UTC', TRY_CAST({text} AS TIMESTAMP)) END")


def _json_object_sql(text: str, *, wrap: bool) -> str:
    """Return SQL: ``text`` when it is a JSON object, else NULL (``wrap``: accept a brace-less body too)."""
    plain = f"CASE WHEN json_type(try(json({text}))) = 'OBJECT' THEN {text} END"
    if not wrap:
        return plain
    wrapped = f"'{{' || {text} || '}}'"
    return f"coalesce({plain}, CASE WHEN json_type(try(json({wrapped}))) = 'OBJECT' THEN {wrapped} END)"


def _enum_sql(column: str, values: tuple[str, ...]) -> str:
    cases = " ".join(f"WHEN {quote(v.lower())} THEN {quote(v)}" for v in values)
    return f"CASE lower(trim({column})) {cases} END"


def _hint_sql(provider: str, usage_type: str) -> str:
    """Return SQL of the ``parse_meter`` provider of a row (AWS when it has an ``x_UsageType``)."""
    pairs = (("amazon|aws", "aws"), ("microsoft|azure", "azure"), ("google|gcp", "gcp"), ("openai", "openai"),
             ("anthropic", "anthropic"))
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


# --- reading -----------------------------------------------------------------------------------------------------


def _source(path: Path) -> tuple[str, list[str], str | None]:
    """Return (SQL of a relation with every column as text, column names, CSV reject table or None)."""
    with path.open("rb") as fh:
        parquet = fh.read(4) == b"PAR1"
    if not parquet:
        sql, names, rejects = read_csv_sql(path)
        return sql, names, rejects
    try:
        import pyarrow.parquet as pq

        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise SourceError(path, f"not a readable Parquet file: {exc}") from exc
    if len(set(schema.names)) != len(schema.names):
        raise SourceError(path, "the Parquet schema repeats a column name")
    cols = [f"CAST({'to_json(' + ident(f.name) + ')' if pa.types.is_nested(f.type) else ident(f.name)} "
            f"AS VARCHAR) AS {ident(f.name)}" for f in schema]
    return f"(SELECT {', '.join(cols)} FROM read_parquet({quote(str(path))}))", list(schema.names), None


def _stage(con: BaseBackend, source: str, names: list[str]) -> str:
    """Write the file's rows, as text with nulls normalized, in file order to a temporary Parquet file.

    Returns a relation reading them back with ``__line`` (the CSV line: header = 1). Numbering
    inside the query would run it on one thread; the Parquet row number is free (as in
    :func:`finops_lib.sources._csv.stage_numbered`).
    """
    folder = Path(tempfile.mkdtemp(prefix="finops_focus_"))
    atexit.register(shutil.rmtree, folder, True)
    target = folder / "raw.parquet"
    cols = ", ".join(f"CASE WHEN upper(trim({ident(n)})) IN ('', 'NULL') THEN NULL ELSE {ident(n)} END "
                     f"AS {ident(n)}" for n in names)
    con.con.execute("SET preserve_insertion_order = true")
    con.con.execute(f"COPY (SELECT {cols} FROM {source}) TO {quote(str(target))} (FORMAT parquet)")
    return (f"(SELECT * EXCLUDE (file_row_number), file_row_number + 2 AS __line "
            f"FROM read_parquet({quote(str(target))}, file_row_number = true))")


def _values_sql(names: list[str]) -> str:
    """Projection of the parsed values (``__*`` columns) beside the raw text columns."""
    col = _column(names)
    provider = f"coalesce({', '.join(col(c) for c in PROVIDER_COLUMNS)})"
    meter = (f"CASE WHEN __hint = 'aws' THEN coalesce({col('x_UsageType')}, {col('SkuMeter')}) "
             f"ELSE coalesce({col('SkuMeter')}, {col('x_SkuMeterName')}) END")
    parts = [f"{decimal_sql(col(c))} AS __{c}" for c in (*MONEY, *QUANTITIES)]
    parts += [f"{timestamp_sql(col(c))} AS __{c}" for c in TIMES]
    parts += [f"{_enum_sql(col(c), values)} AS __{c}" for c, values in ENUMS.items()]
    key = [_key_sql(n) for n in sorted(names) if n not in MEASURES and not _MEASURE_EXTENSION.match(n)]
    parts += [
        f"upper(trim({col('BillingCurrency')})) AS __currency",
        f"{provider} AS __provider",
        f"{_json_object_sql(col('Tags'), wrap=True)} AS __tags",
        f"{_json_object_sql(col('SkuPriceDetails'), wrap=False)} AS __details",
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


def _column(names: list[str]) -> Callable[[str], str]:
    present = set(names)
    return lambda c: ident(c) if c in present else "NULL::VARCHAR"


def _faults(names: list[str]) -> list[tuple[str, str, str]]:
    """(condition, column, reason) checks in order: the first that holds rejects the row."""
    col = _column(names)
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


def _select_sql(stage: str, names: list[str], meters: str, path: str) -> str:
    """Return the SELECT from the staged raw rows to ``costs`` rows (rejects marked inline)."""
    col = _column(names)
    checks = _faults(names)
    fault = "CASE " + " ".join(f"WHEN {cond} THEN {quote(c)} || {_US} || {quote(why)}"
                               for cond, c, why in checks) + " END"
    bad_value = "CASE split_part(__fault, chr(31), 1) " + " ".join(
        f"WHEN {quote(c)} THEN {col(c)}" for c in dict.fromkeys(c for _, c, _ in checks)) + " END"
    flags = ("concat_ws(',', CASE WHEN __ttl_assumed THEN 'cache_ttl_assumed' END, "  # sorted by name
             "CASE WHEN __ai AND __meter IS NOT NULL AND NOT coalesce(__parsed, false) THEN 'meter_unparsed' END, "
             "CASE WHEN x_TokenType <> 'non_token' AND __model IS NULL AND coalesce(__parsed, __meter IS NULL) "
             "THEN 'model_unknown' END)")
    ai = lambda c: f"CASE WHEN __ai THEN {c} END"  # noqa: E731 - meter fields only on AI rows
    return f"""
WITH v AS (
  SELECT *, {_values_sql(names)} FROM {stage}
), f AS (
  SELECT *, {fault} AS __fault, row_number() OVER (PARTITION BY __key ORDER BY __line) AS __occurrence FROM v
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
  '{FORMAT}' AS x_SourceFormat, {quote(path)} AS x_SourceFile, __line AS x_SourceRow,
  md5('{FORMAT}' || {_US} || __key || {_US} || __occurrence) AS x_RowHash,
  CASE WHEN __fault IS NOT NULL THEN '{REJECT_MARK}' || __fault || {_US} || coalesce(left({bad_value}, 200), '')
       ELSE {flags} END AS x_DataQualityFlags
FROM t
"""


def _meters_table(con: BaseBackend, stage: str, names: list[str]) -> str:
    """Parse the distinct (provider, meter) pairs of AI rows once; return the lookup table's name."""
    pairs = con.con.execute(f"SELECT DISTINCT __hint, __meter FROM (SELECT *, {_values_sql(names)} FROM {stage}) "
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


def _windows(con: BaseBackend, path: Path, stage: str, names: list[str]) -> tuple[Window, ...]:
    """One window per (billing account, billing period) in the file, unless it is one part of several."""
    if _MULTIPART.search(path.name):
        return ()
    col = _column(names)
    start, end = timestamp_sql(col("BillingPeriodStart")), timestamp_sql(col("BillingPeriodEnd"))
    rows = con.con.execute(
        f"SELECT DISTINCT account, s, e FROM (SELECT {col('BillingAccountId')} AS account, {start} AS s, {end} AS e "
        f"FROM {stage}) WHERE account IS NOT NULL AND s IS NOT NULL AND e > s ORDER BY ALL").fetchall()
    return tuple(Window(s, e, (("BillingAccountId", account),), "BillingPeriodStart") for account, s, e in rows)


@register_source(FORMAT, table="costs", detect=_detect,
                 description="FinOps FOCUS 1.0-1.3 cost and usage file (CSV, CSV.gz or Parquet; AWS and Azure "
                             "FOCUS exports, any provider): every charge, AI rows by model and token bucket")
def read(path: Path, con: BaseBackend) -> ReadResult:
    """Read a FOCUS file into ``costs`` rows inside the engine.

    Parameters
    ----------
    path
        FOCUS 1.0, 1.1, 1.2 or 1.3 cost and usage data (CSV, optionally gzip, or Parquet).
    con
        A DuckDB-backed ibis connection.

    Returns
    -------
    ReadResult
        ``costs`` rows (invoiced basis) with rejected records marked inline, the CSV reader's
        reject table, and one restatement window per billing account and billing period.

    Raises
    ------
    SourceError
        When the file is not readable as a table or lacks a mandatory FOCUS column.
    """
    path = Path(path)
    try:
        source, names, csv_rejects = _source(path)
        missing = [c for c in REQUIRED if c not in names]
        if not set(names) & set(PROVIDER_COLUMNS):
            missing.append("ProviderName")
        if missing:
            raise SourceError(path, f"mandatory FOCUS column(s) missing: {', '.join(missing)} "
                                    f"(FOCUS {focus_version(names)} columns found)", column=missing[0])
        stage = _stage(con, source, names)
        meters = _meters_table(con, stage, names)
        windows = _windows(con, path, stage, names)
        costs = conform(con.sql(_select_sql(stage, names, meters, str(path))), "costs")
    except (duckdb.Error, OSError) as exc:
        raise SourceError(path, f"cannot read the file: {exc}") from exc
    return ReadResult(FORMAT, str(path), costs, None, None, None, inline_rejects=True, csv_rejects=csv_rejects,
                      windows=windows)
