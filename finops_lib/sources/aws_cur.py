"""AWS Cost and Usage Reports: CUR 2.0 (Data Exports) and the legacy CUR, gzip CSV or Parquet.

Read inside the engine (DuckDB SQL) in two staged passes: the raw columns as text, numbered in file
order, then one SELECT to ``costs`` rows (rejects marked inline). The usage-type and pricing-unit
strings are parsed once per distinct value in Python (:func:`finops_lib.meters.parse_meter`), and tag
JSON once per distinct value in SQL, then joined back, so a CUR of millions of lines is never walked
row by row in Python (about 500,000 lines in 15 s of CPU).

The SQL helpers shared with :mod:`finops_lib.sources.azure_costs` (text sources, staging, exact
decimals, lookups, tags, windows) live in :mod:`finops_lib.sources._cloud`.

Quirks handled here (``reference/formats.md`` sections 4.1 and 4.2):

* Naming: CUR 2.0 is snake_case (``line_item_usage_type``); the legacy CUR writes
  ``lineItem/UsageType``, ``bill/PayerAccountId``, ``pricing/publicOnDemandCost`` (converted to the
  snake_case names) and one ``resourceTags/user:team`` column per tag; legacy Parquet (Athena) writes
  ``resource_tags_user_team`` columns. CUR 2.0 ``resource_tags`` is JSON object text in CSV and a
  MAP in Parquet (``product``, ``tags``, ``cost_category`` too).
* ``Tags`` keeps the resource tags with their keys as written (``user:team``). Dimensions come from
  the keys team, app/application, feature, env/environment after dropping a ``user:``, ``user_`` or
  ``iamPrincipal/`` prefix: resource tags first, then the ``tags`` column (IAM principal tags).
  ``line_item_iam_principal`` is the user.
* Bedrock writes one line item per token type, encoded in ``line_item_usage_type``
  (``USE1-Claude3-5Haiku-cache-read-input-token-count``, ``...-input-tokens-batch``): model, bucket,
  tier, region come from ``parse_meter``; an unparsed Bedrock usage type is flagged
  ``meter_unparsed`` (bucket ``non_token``), never guessed. Rows of other services are loaded
  as ``non_token`` rows of ``ServiceCategory = 'Other'``.
* ``line_item_usage_amount`` is in ``pricing_unit`` (``Tokens``; a block such as ``1K tokens``
  is multiplied out to raw tokens), unless amount x rate only matches the cost once divided by the
  block: then the amount is already raw tokens. ``PricingQuantity = ConsumedQuantity / block``.
* Money (a double in the export) is parsed from its text as DECIMAL and rounded half-even to 12
  places. BilledCost and ContractedCost are the unblended cost; EffectiveCost the net unblended
  cost when the column is there (after discounts), else the unblended cost; ListCost the public
  on-demand cost of usage rows when present. Commitments are not amortized here (the AWS FOCUS
  export does that).
* ``line_item_line_item_type`` -> FOCUS (see :data:`LINE_ITEM_TYPES`): Usage, DiscountedUsage,
  SavingsPlanCoveredUsage -> Usage; SavingsPlanNegation, Credit, *Discount -> Credit; Refund ->
  Credit with ChargeClass Correction; Tax -> Tax; Fee, RIFee, SavingsPlan*Fee -> Purchase; any other
  type -> Adjustment (the raw type is kept in ``x_SourceExtra``).
* A CUR file restates its whole billing period for its payer: each billing period in the file is
  declared as a :class:`~finops_lib.sources.Window` on ``BillingPeriodStart`` scoped to the payer and
  to each usage account present (so two linked-account CURs of one payer never erase each other).
  A delivery split in parts (``<name>-00001.csv.gz``, ``-00002``... in one assembly or execution folder,
  listed by the ``reportKeys`` of the legacy ``<name>-Manifest.json`` or the ``dataFiles`` of a CUR 2.0
  manifest) is one delivery (:func:`parts_of`): the parts restate the period together, never each
  other, whatever the ingest order; a later assembly restates all of them. A manifest in the file's
  folder that lists it names the delivery's files; without one, the ``<name>-<n><ext>`` files of one
  folder are the delivery's.
* ``identity_line_item_id`` is not stable across deliveries: the natural key is payer, billing
  period, account, line item type, usage period, product, usage type, operation, resource,
  principal, pricing term and description (the same for the CUR 2.0 and legacy names).
"""

from __future__ import annotations

import functools
import glob
import json
import re
from dataclasses import replace
from pathlib import Path, PurePosixPath

from ibis.backends import BaseBackend

from finops_lib.errors import SourceError
from finops_lib.schema import conform
from finops_lib.sources import ReadResult, register_source
from finops_lib.sources._cloud import (
    AI_SQL,
    GENAI_SQL,
    distinct_values,
    extra_sql,
    fault_sql,
    flags_sql,
    hash_sql,
    head_names,
    json_object_text,
    meter_table,
    number_sql,
    of_file,
    per_block_sql,
    runs_alike,
    stage,
    tag_set_sql,
    union_rows,
    unit_table,
    windows_from,
)
from finops_lib.sources._csv import (
    LITERAL_FLAG,
    MISSING,
    PADDED,
    PADDED_FLAG,
    SHORT_REASON,
    json_text_sql,
    literal_used_sql,
    null_text_sql,
)
from finops_lib.sources._parts import listed_parts, missing_note, named_parts
from finops_lib.sources._sql import ident, money_faults, quote, relation
from finops_lib.sources._worker_stage import stage_text

CUR2 = "aws_cur2"
LEGACY = "aws_cur_legacy"
FAMILY = "aws_cur"
REQUIRED = ("line_item_usage_start_date", "line_item_usage_end_date", "line_item_unblended_cost",
            "line_item_usage_type", "line_item_currency_code", "bill_payer_account_id",
            "bill_billing_period_start_date")
#: Columns a short CSV line may not end before (money and identity); it may lack the others (padded, flagged).
PAD_REQUIRED = (*REQUIRED, "line_item_net_unblended_cost", "pricing_public_on_demand_cost",
                "line_item_line_item_type", "line_item_usage_account_id", "bill_billing_period_end_date")
#: Canonical (CUR 2.0) columns the reader uses; others are ignored.
COLUMNS = (
    *REQUIRED,
    "identity_line_item_id", "bill_bill_type", "bill_payer_account_name", "bill_billing_entity",
    "bill_billing_period_end_date", "bill_invoice_id", "line_item_usage_account_id", "line_item_usage_account_name",
    "line_item_line_item_type", "line_item_product_code", "line_item_operation", "line_item_resource_id",
    "line_item_usage_amount", "line_item_unblended_rate", "line_item_net_unblended_cost",
    "line_item_line_item_description", "line_item_iam_principal", "product_servicecode", "product_region_code",
    "product_region", "product_product_name", "product_product_family", "product_sku", "pricing_unit",
    "pricing_public_on_demand_cost", "pricing_public_on_demand_rate", "pricing_term", "product", "resource_tags",
    "cost_category", "discount", "tags",
)  # fmt: skip
#: line_item_line_item_type -> (ChargeCategory, ChargeClass, ChargeFrequency, PricingCategory).
LINE_ITEM_TYPES: dict[str, tuple[str, str | None, str | None, str | None]] = {
    "Usage": ("Usage", None, "Usage-Based", "Standard"),
    "DiscountedUsage": ("Usage", None, "Usage-Based", "Committed"),
    "SavingsPlanCoveredUsage": ("Usage", None, "Usage-Based", "Committed"),
    "SavingsPlanNegation": ("Credit", None, "Usage-Based", "Committed"),
    "Credit": ("Credit", None, None, None),
    "Refund": ("Credit", "Correction", None, None),
    "BundledDiscount": ("Credit", None, None, None),
    "EdpDiscount": ("Credit", None, None, None),
    "PrivateRateDiscount": ("Credit", None, None, None),
    "DistributorDiscount": ("Credit", None, None, None),
    "Discount": ("Credit", None, None, None),
    "Tax": ("Tax", None, None, None),
    "Fee": ("Purchase", None, "One-Time", None),
    "RIFee": ("Purchase", None, "Recurring", "Committed"),
    "SavingsPlanRecurringFee": ("Purchase", None, "Recurring", "Committed"),
    "SavingsPlanUpfrontFee": ("Purchase", None, "One-Time", "Committed"),
}
#: The hint columns a detector needs (CUR 2.0 names after conversion).
_SIGNATURE = {"line_item_usage_type", "line_item_unblended_cost", "bill_payer_account_id"}
_TAG_PREFIXES = ("resourceTags/", "resource_tags_")


@functools.lru_cache(maxsize=4096)
def snake(name: str) -> str:
    """Return the CUR 2.0 name of a column (legacy ``lineItem/UsageType`` -> ``line_item_usage_type``).

    Examples
    --------
    >>> snake("pricing/publicOnDemandCost"), snake("line_item_usage_type")
    ('pricing_public_on_demand_cost', 'line_item_usage_type')
    """
    parts = name.strip().split("/")
    return "_".join(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", p).lower() for p in parts)


def _kind(names: list[str]) -> str | None:
    """Return which CUR flavour a header is (None when it is not a CUR)."""
    if not {snake(n) for n in names} >= _SIGNATURE:
        return None
    return LEGACY if any("/" in n or n.startswith("resource_tags_") for n in names) else CUR2


def _detect_cur2(path: Path, head: str) -> bool:
    names = head_names(path, head)
    return names is not None and _kind(names) == CUR2


def _detect_legacy(path: Path, head: str) -> bool:
    names = head_names(path, head)
    return names is not None and _kind(names) == LEGACY


def _raw_select(source: str, types: dict[str, str], path: Path) -> tuple[str, dict[str, str]]:
    """Return (SELECT of the canonical columns as text, canonical -> file column names); tags gathered in one object."""
    canonical: dict[str, str] = {}
    labels: dict[str, str] = {}
    tag_columns: list[tuple[str, str]] = []
    for name, expr in types.items():
        prefix = next((p for p in _TAG_PREFIXES if name.startswith(p)), None)
        if prefix is not None:
            tag_columns.append((name[len(prefix):], expr))
            labels.setdefault("resource_tags", prefix.rstrip("/_"))
        elif snake(name) in COLUMNS and snake(name) not in canonical:
            canonical[snake(name)] = expr
            labels[snake(name)] = name
    missing = [c for c in REQUIRED if c not in canonical]
    if missing:
        raise SourceError(path, f"required CUR column(s) missing: {', '.join(missing)}", column=missing[0])
    if tag_columns and "resource_tags" not in canonical:
        canonical["resource_tags"] = json_object_text([(k, f"nullif(trim({e}), '')") for k, e in tag_columns])
    cols = [f"{canonical.get(c, 'NULL::VARCHAR')} AS {c}" for c in COLUMNS]
    return f"SELECT {', '.join(cols)}, {PADDED}, {MISSING}, {quote(str(path))} AS __file FROM {source}", labels


def _case(column: str, index: int, default: str | None) -> str:
    whens = " ".join(f"WHEN {quote(k)} THEN {quote(v[index]) if v[index] else 'NULL'}"
                     for k, v in LINE_ITEM_TYPES.items())
    other = quote(default) if default else "NULL"
    return f"CASE coalesce(nullif(trim({column}), ''), 'Usage') {whens} ELSE {other} END"


#: (column, condition marking the fault, reason), checked in order; the first one rejects the row.
_FAULTS = (
    ("line_item_usage_start_date", "t_start IS NULL", "not a timestamp"),
    ("line_item_usage_end_date", "t_end IS NULL", "not a timestamp"),
    ("line_item_usage_end_date", "t_end < t_start", "ends before the usage start"),
    ("bill_billing_period_start_date", "t_bp_start IS NULL", "not a timestamp"),
    ("bill_billing_period_end_date", "bill_billing_period_end_date IS NOT NULL AND t_bp_end IS NULL",
     "not a timestamp"),
    ("bill_billing_period_end_date", "t_bp_end <= t_bp_start", "ends before the billing period start"),
    ("bill_payer_account_id", "payer IS NULL", "missing payer account"),
    ("line_item_currency_code", "NOT coalesce(regexp_full_match(currency, '[A-Z]{3}'), false)",
     "not an ISO 4217 currency code"),
    ("line_item_unblended_cost", "line_item_unblended_cost IS NULL", "missing amount"),
    *money_faults("line_item_unblended_cost", "line_item_unblended_cost", "n_cost"),
    ("line_item_unblended_cost", "n_cost IS NULL", "not a number"),
    ("line_item_net_unblended_cost", "line_item_net_unblended_cost IS NOT NULL AND n_net IS NULL", "not a number"),
    ("pricing_public_on_demand_cost", "pricing_public_on_demand_cost IS NOT NULL AND n_list IS NULL",
     "not a number"),
    ("line_item_usage_amount", "line_item_usage_amount IS NOT NULL AND n_amount IS NULL", "not a number"),
    ("resource_tags", "NOT tags_ok", "not a JSON object"),
)
_KEY = ("payer", "CAST(t_bp_start AS VARCHAR)", "line_item_usage_account_id", "line_item_line_item_type",
        "CAST(t_start AS VARCHAR)", "CAST(t_end AS VARCHAR)", "coalesce(line_item_product_code, product_servicecode)",
        "line_item_usage_type", "line_item_operation", "line_item_resource_id", "line_item_iam_principal",
        "pricing_term", "line_item_line_item_description")
_EXTRA = ("identity_line_item_id", "bill_bill_type", "bill_invoice_id", "line_item_line_item_type",
          "line_item_product_code", "line_item_operation", "line_item_unblended_rate", "pricing_term",
          "product_product_family", "pricing_unit")
_JSON_EXTRA = ("tags", "cost_category", "discount")
_TAGS = "coalesce(src.resource_tags, '{}')"
#: Flags of a loaded row, sorted. Only usage rows are meters: Tax or Credit lines without a usage type are not
#: "unparsed".
_FLAGS = (f"concat_ws(',', CASE WHEN is_bedrock AND category = 'Usage' AND line_item_usage_type IS NOT NULL "
          f"AND NOT coalesce(m.parsed, false) THEN 'meter_unparsed' END, "
          f"CASE WHEN is_literal THEN '{LITERAL_FLAG}' END, CASE WHEN {PADDED} THEN '{PADDED_FLAG}' END)")
_SHORT = f"{MISSING} || chr(31) || {quote(SHORT_REASON)}"
#: Map columns kept in x_SourceExtra, read as JSON (or a Python literal).
_MAPS = ("cost_category", "discount")


def _parsed_sql(staged: str, labels: dict[str, str]) -> str:
    """Return SQL of the staged text rows with typed values (timestamps, decimals) and each row's fault."""
    nulls = ", ".join(f"{null_text_sql(ident(c))} AS {ident(c)}" for c in COLUMNS)
    product = f"try(CAST({json_text_sql('pr')} AS JSON))"
    maps = " OR ".join(literal_used_sql(c) for c in _MAPS)
    return f"""
WITH src AS (SELECT src_row, __file, {nulls}, {PADDED}, {MISSING} FROM {staged}),
tagset AS ({tag_set_sql('src', _TAGS, "tags", literals=True)}),
products AS (SELECT pr, json_extract_string({product}, '$.product_name') AS product_json,
    json_extract_string({product}, '$.region') AS product_map_region, {literal_used_sql('pr')} AS product_literal
  FROM (SELECT DISTINCT coalesce(product, '') AS pr FROM src)),
typed AS (
  SELECT src.*, tagset.* EXCLUDE (tk, mk), coalesce(product_product_name, product_json) AS product_name,
    product_map_region, coalesce(tags_literal OR product_literal OR {maps}, false) AS is_literal,
    TRY_CAST(line_item_usage_start_date AS TIMESTAMPTZ) AS t_start,
    TRY_CAST(line_item_usage_end_date AS TIMESTAMPTZ) AS t_end,
    TRY_CAST(bill_billing_period_start_date AS TIMESTAMPTZ) AS t_bp_start,
    TRY_CAST(bill_billing_period_end_date AS TIMESTAMPTZ) AS t_bp_end,
    {number_sql('line_item_unblended_cost')} AS n_cost, {number_sql('line_item_net_unblended_cost')} AS n_net,
    {number_sql('pricing_public_on_demand_cost')} AS n_list, {number_sql('line_item_usage_amount')} AS n_amount,
    {number_sql('line_item_unblended_rate')} AS n_rate, {number_sql('pricing_public_on_demand_rate')} AS n_list_rate,
    upper(line_item_currency_code) AS currency, bill_payer_account_id AS payer,
    {_case('line_item_line_item_type', 0, 'Adjustment')} AS category,
    starts_with(coalesce(line_item_product_code, product_servicecode, ''), 'AmazonBedrock')
      OR coalesce(product_product_name, product_json, '') ILIKE '%bedrock%' AS is_bedrock
  FROM src LEFT JOIN tagset ON tagset.tk = {_TAGS} AND tagset.mk = coalesce(src.tags, '')
    LEFT JOIN products ON products.pr = coalesce(src.product, '')
)
SELECT *, coalesce({_SHORT}, {fault_sql(_FAULTS, labels)}) AS fault FROM typed"""


def _quantities_sql() -> str:
    """ConsumedQuantity / PricingQuantity: the amount is in pricing-unit blocks unless the rate says otherwise."""
    raw_tokens = ("(u.block > 1 AND n_rate IS NOT NULL AND abs(CAST(n_amount AS DOUBLE) * CAST(n_rate AS DOUBLE) "
                  "/ u.block - CAST(n_cost AS DOUBLE)) < abs(CAST(n_amount AS DOUBLE) * CAST(n_rate AS DOUBLE) "
                  "- CAST(n_cost AS DOUBLE)))")
    in_blocks = f"(coalesce(u.block, 1) > 1 AND NOT coalesce({raw_tokens}, false))"
    consumed = (f"CASE WHEN {in_blocks} THEN try(CAST(CAST(n_amount AS DECIMAL(38, 12)) * "
                f"CAST(u.block AS DECIMAL(38, 0)) AS DECIMAL(38, 12))) ELSE n_amount END")
    pricing = f"CASE WHEN {in_blocks} THEN n_amount ELSE {per_block_sql('n_amount', 'u')} END"
    usage = "category = 'Usage'"
    return (f"CASE WHEN {usage} THEN {consumed} END AS ConsumedQuantity, "
            f"CASE WHEN {usage} AND n_amount IS NOT NULL THEN CASE WHEN m.token_type IS NOT NULL "
            f"AND m.token_type <> 'non_token' THEN 'Tokens' ELSE pricing_unit END END AS ConsumedUnit, "
            f"CASE WHEN {usage} THEN {pricing} END AS PricingQuantity, "
            f"CASE WHEN {usage} AND n_amount IS NOT NULL THEN pricing_unit END AS PricingUnit, "
            f"CASE WHEN {usage} THEN n_list_rate END AS ListUnitPrice, "
            f"CASE WHEN {usage} THEN n_rate END AS ContractedUnitPrice")


def _select_sql(staged: str, labels: dict[str, str], lookups: tuple[str, str], fmt: str) -> str:
    """One SELECT from the staged rows (of one file or more, ``__file``) to ``costs`` rows (rejects marked inline)."""
    is_ai = "(is_bedrock OR m.model IS NOT NULL)"
    service = ("coalesce(product_name, "
               "CASE WHEN is_bedrock THEN 'Amazon Bedrock' END, product_servicecode, line_item_product_code, 'AWS')")
    maps = [(c, f"CASE WHEN {c} <> '{{}}' THEN try(json({json_text_sql(c)})) END") for c in _JSON_EXTRA]
    extra = extra_sql([(c, c) for c in _EXTRA], maps)
    return f"""
WITH p AS ({_parsed_sql(staged, labels)})
SELECT
  n_cost AS BilledCost, coalesce(n_net, n_cost) AS EffectiveCost,
  CASE WHEN category = 'Usage' THEN coalesce(n_list, n_cost) ELSE n_cost END AS ListCost, n_cost AS ContractedCost,
  payer AS BillingAccountId, bill_payer_account_name AS BillingAccountName, currency AS BillingCurrency,
  t_bp_start AS BillingPeriodStart, coalesce(t_bp_end, t_bp_start + INTERVAL 1 MONTH) AS BillingPeriodEnd,
  category AS ChargeCategory, {_case('line_item_line_item_type', 1, None)} AS ChargeClass,
  {_case('line_item_line_item_type', 2, None)} AS ChargeFrequency,
  CASE WHEN category = 'Usage' AND lower(pricing_term) = 'spot' THEN 'Dynamic'
       ELSE {_case('line_item_line_item_type', 3, None)} END AS PricingCategory,
  line_item_line_item_description AS ChargeDescription, t_start AS ChargePeriodStart, t_end AS ChargePeriodEnd,
  coalesce(bill_billing_entity, 'AWS') AS InvoiceIssuerName, 'AWS' AS ProviderName,
  coalesce(m.publisher, 'AWS') AS PublisherName, {service} AS ServiceName,
  CASE WHEN {is_ai} THEN {AI_SQL} ELSE 'Other' END AS ServiceCategory,
  CASE WHEN {is_ai} THEN {GENAI_SQL} END AS ServiceSubcategory,
  {_quantities_sql()},
  line_item_resource_id AS ResourceId,
  coalesce(product_region_code, product_region, product_map_region, m.region) AS RegionId,
  product_sku AS SkuId, line_item_usage_type AS SkuMeter, m.details AS SkuPriceDetails,
  line_item_usage_account_id AS SubAccountId, line_item_usage_account_name AS SubAccountName,
  tags_json AS Tags,
  m.model AS x_Model, CASE WHEN {is_ai} THEN line_item_usage_type END AS x_ModelRaw,
  coalesce(m.token_type, 'non_token') AS x_TokenType, m.modality AS x_Modality,
  CASE WHEN {is_ai} THEN m.service_tier END AS x_ServiceTier, m.context_tier AS x_ContextTier,
  m.deployment AS x_DeploymentType, 'invoiced' AS x_CostBasis, line_item_iam_principal AS x_UserId,
  x_Team, x_Application, x_Feature, x_Environment, {extra} AS x_SourceExtra,
  '{fmt}' AS x_SourceFormat, __file AS x_SourceFile, src_row AS x_SourceRow,
  {hash_sql(FAMILY, _KEY)} AS x_RowHash,
  {flags_sql(_FAULTS, labels, _FLAGS)} AS x_DataQualityFlags
FROM p LEFT JOIN {lookups[0]} m ON m.k = p.line_item_usage_type LEFT JOIN {lookups[1]} u ON u.k = p.pricing_unit
"""


#: One part of a delivery: ``<name>-<n><ext>``, n of 1 to 5 digits (``acme-00001.csv.gz``, legacy ``acme-1.csv.gz``;
#: not a dated name such as ``cur-20260501.csv``, a whole delivery).
_PART = re.compile(r"^(?P<stem>.+)-\d{1,5}(?P<ext>(?:\.[A-Za-z0-9]+)+)$")


def _listed(path: Path) -> list[str]:
    """Return the names of the data files a CUR manifest beside ``path`` lists with it (``reportKeys``, ``dataFiles``).

    Empty when no manifest of the folder lists the file.
    """
    for manifest in sorted(path.parent.glob("*[Mm]anifest.json")):
        try:
            data = json.loads(manifest.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError):
            continue
        keys = [*(data.get("reportKeys") or []), *(data.get("dataFiles") or [])] if isinstance(data, dict) else []
        names = [PurePosixPath(k).name for k in keys if isinstance(k, str)]
        if path.name in names:
            return list(dict.fromkeys(names))
    return []


def parts_of(path: Path) -> tuple[str, ...]:
    """Return globs of the files of the CUR delivery ``path`` is one part of (empty when it is a whole delivery).

    A manifest in the file's folder (an assembly or execution folder) that lists it names the delivery's files
    exactly; else a file named ``<name>-<n><ext>`` is one of the ``<name>-[0-9]*<ext>`` files of its folder.

    Examples
    --------
    >>> parts_of(Path("/nonexistent/acme/20260501-20260601/a1b2/acme-00002.csv.gz"))
    ('/nonexistent/acme/20260501-20260601/a1b2/acme-[0-9]*.csv.gz',)
    >>> parts_of(Path("/nonexistent/cur.csv"))
    ()
    """
    listed = _listed(path)
    if listed:
        return listed_parts(path, listed)
    hit = _PART.match(path.name)
    return named_parts(path, f"{glob.escape(hit['stem'])}-[0-9]*{hit['ext']}") if hit else ()


def _pad_required(name: str) -> bool:
    """Whether a short CSV line may not end before column ``name`` (it is rejected instead of padded)."""
    return snake(name) in PAD_REQUIRED


def _read(path: Path, con: BaseBackend, fmt: str) -> ReadResult:
    return _read_many([Path(path)], con, fmt)[0]


def _read_many(paths: list[Path], con: BaseBackend, fmt: str) -> list[ReadResult]:
    """Read CUR files of one format: each file's text staged apart, then one typed SELECT over all of them.

    The typed SELECT is long (tens of kilobytes of SQL), and for a part of a few hundred rows planning it costs
    more than running it: files whose columns read alike (the same labels) share one, each file's rows then
    selected by ``x_SourceFile``. Returns one result per file, in order, each as :func:`_read` would give it.
    """
    staged = [(path, stage_text(con, path, _raw_select, required=_pad_required)) for path in paths]
    results: dict[Path, ReadResult] = {}
    for run in runs_alike(staged, key=lambda item: item[1].labels):
        rows = union_rows([text.rows for _, text in run])
        lookups = (meter_table(con, distinct_values(con, rows, "line_item_usage_type"), "aws"),
                   unit_table(con, distinct_values(con, rows, "pricing_unit")))
        final = stage(con, _select_sql(rows, run[0][1].labels, lookups, fmt), run[0][0])
        for view in lookups:
            con.con.unregister(view)
        for path, text in run:
            mine = of_file(final, path, len(run))
            # One window per billing period, payer and usage account (two linked-account CURs of one payer never
            # erase each other), restated together with the other parts of its delivery.
            parts = parts_of(path)
            windows = tuple(replace(w, parts=parts) for w in windows_from(con, mine))
            costs = conform(relation(con, f"SELECT * EXCLUDE (src_row) FROM {mine}"), "costs")
            results[path] = ReadResult(fmt, str(path), costs, None, None, text.lines, inline_rejects=True,
                                       csv_rejects=text.csv_rejects, windows=windows,
                                       lines_final=text.lines is not None,
                                       notes=(*text.notes, *missing_note(path, _listed(path), "delivery")))
    return [results[path] for path in paths]


@register_source(CUR2, table="costs", detect=_detect_cur2, many=lambda paths, con: _read_many(paths, con, CUR2),
                 description="AWS CUR 2.0 / Data Exports COST_AND_USAGE_REPORT (CSV, CSV.gz or Parquet), Bedrock "
                             "token line items")
def read_cur2(path: Path, con: BaseBackend) -> ReadResult:
    """Read an AWS CUR 2.0 file (snake_case columns) into ``costs`` rows inside the engine.

    Reads cSV (optionally gzip) or Parquet part of a CUR 2.0 export. A reader of :data:`finops_lib.sources.SOURCES`:
    ``read(path, con) -> ReadResult``.
    """
    return _read(path, con, CUR2)


@register_source(LEGACY, table="costs", detect=_detect_legacy,
                 many=lambda paths, con: _read_many(paths, con, LEGACY),
                 description="AWS legacy Cost and Usage Report (lineItem/UsageType naming; CSV, CSV.gz or Parquet)")
def read_legacy(path: Path, con: BaseBackend) -> ReadResult:
    """Read a legacy AWS CUR file (``lineItem/UsageType`` naming) into ``costs`` rows; see :func:`read_cur2`."""
    return _read(path, con, LEGACY)
