"""Azure Cost Management cost details exports (EA and MCA; actual or amortized), CSV, CSV.gz or Parquet.

Read inside the engine like the AWS CUR (:mod:`finops_lib.sources.aws_cur`), with the SQL helpers both
share (:mod:`finops_lib.sources._cloud`): raw columns staged as text, meter names and units parsed once
per distinct value.

Quirks handled here (``reference/formats.md`` section 5):

* Naming: EA writes PascalCase (``CostInBillingCurrency``, ``BillingCurrencyCode``, ``MeterName``),
  MCA camelCase (``costInBillingCurrency``, ``billingCurrency``, ``meterName``); names are matched
  case-insensitively through :data:`ALIASES` (older names such as ``PreTaxCost``, ``ResourceGroup``,
  ``InstanceId`` too).
* Dates: EA writes ``MM/dd/yyyy``, MCA ISO or ``MM/dd/yyyy``; the form is detected once per file
  (the majority of the ``Date`` values) and applied strictly, so a stray form is rejected rather
  than read as another day. ``BillingPeriodEndDate`` is the last day (inclusive): the FOCUS end is
  the day after.
* ``Quantity`` is the consumed quantity (raw tokens); ``UnitOfMeasure`` is the price block
  (``1M``, ``1K``, ``1M Tokens``, ``1 Hour``): ``PricingQuantity = Quantity / block``, and token
  meters get ``PricingUnit = '<block> Tokens'``.
* Meter names are free-form (``gpt-4o-0806-cached-Inp-glbl``, ``GPT 4o mini outpt Glbl 1M Tokens``):
  model, bucket, tier and deployment come from ``parse_meter``; an AI meter it cannot read is flagged
  ``meter_unparsed``. ``AdditionalInfo.DeploymentType`` (``GlobalStandard``, ``DataZone...``,
  ``...Provisioned...``) fills deployment and tier only where the meter says nothing. PTU meters
  (``Provisioned Managed Unit``, ``1 Hour``) are ``non_token`` rows of the provisioned tier.
* ``Tags`` is a JSON object body without its braces (``"env": "prod","team": "ai"``): wrapped;
  dimension keys are matched case-insensitively. Tags written as a Python literal (``{'team': 'ai'}``) are
  read as JSON, the row flagged ``python_literal``.
* A CSV line that lacks trailing optional fields is padded with nulls and flagged ``row_padded``; one that ends
  before a money or identity field (:data:`PAD_REQUIRED`) is rejected, naming that column.
* Money is in the billing currency (EUR in the sample). BilledCost is ``CostInBillingCurrency``;
  ListCost is ``PaygCostInBillingCurrency``, else ``PayGPrice`` x PricingQuantity; ContractedCost is
  ``UnitPrice`` x PricingQuantity on commitment-covered usage (the billed cost elsewhere: on-demand
  rows are billed at the negotiated price). Prices are converted by ``ExchangeRatePricingToBilling``
  when a pricing currency column says they are in another currency; without a usable price both
  fall back to the billed cost, and unit prices are only filled when no conversion is needed.
* Actual vs amortized: the rows rarely say, so the file is classified from its rows
  (``x_SourceExtra.x_CostView``): ``amortized`` when commitment-covered usage carries cost or
  ``UnusedReservation``/``UnusedSavingsPlan`` rows exist; ``actual`` when covered usage is at zero or
  commitment purchases exist; else ``undetermined`` (pay-as-you-go only: both views are identical).
  An undetermined file takes the export's own word: the ``manifest.json`` Cost Management writes
  beside each run (``exportConfig.type``: ``ActualCost``/``AmortizedCost``), else the file or folder
  name (``amortized``, ``actual``), else ``actual``. In an amortized file covered and unused rows have
  BilledCost 0 and commitment purchases EffectiveCost 0; in the other views EffectiveCost equals
  BilledCost.
* The two views are two datasets of the same charges (``x_CostDataset`` ``actual`` / ``amortized``),
  loaded side by side and never replacing each other: windows are scoped by dataset, and the facts
  take billed figures from ``actual`` and EffectiveCost from ``amortized`` where both cover a billing
  account, subscription and billing period (:mod:`finops_lib.cost_datasets`). A file *restates*
  another only when it is the same dataset, scope and billing period: the newer delivery wins
  (``runInfo.submittedTime`` of the manifest, else the file's modification time).
* ``ChargeType`` -> FOCUS: Usage, UnusedReservation, UnusedSavingsPlan -> Usage; Purchase; Tax;
  Refund -> Credit with ChargeClass Correction; Credit; RoundingAdjustment and others -> Adjustment.
* A monthly export restates its month: one window per billing period, billing account and
  subscription (subscription-scope exports of one billing account then never erase each other).
* A run of a partitioned export writes several parts (``<export>/<YYYYMMDD-YYYYMMDD>/<run id>/part_0_0001.csv``,
  ``part_1_0001.csv``...) and a ``manifest.json`` (newer exports: ``_manifest.json``) listing them as ``blobs``,
  with the run's ``runInfo``. The parts are one delivery (:func:`parts_of`): they restate the window together,
  never each other; a later run restates all of them. The manifest, when it lists the file, names the run's
  files; without one, the ``part_<n>_<nnnn>`` files of one folder with one extension are the run's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import datetime
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
    meter_table,
    money_sql,
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
from finops_lib.sources._csv import LITERAL_FLAG, MISSING, PADDED, PADDED_FLAG, SHORT_REASON
from finops_lib.sources._parts import listed_parts, missing_note, named_parts
from finops_lib.sources._sql import money_faults, quote, relation
from finops_lib.sources._worker_stage import stage_text

FORMAT = "azure_cost_details"
#: Canonical name -> accepted column names (lower case), first present wins.
ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "usagedate", "usagedatetime"),
    "cost": ("costinbillingcurrency", "pretaxcost", "cost"),
    "currency": ("billingcurrencycode", "billingcurrency", "currency"),
    "billing_account_id": ("billingaccountid",), "billing_account_name": ("billingaccountname",),
    "billing_profile_id": ("billingprofileid",), "billing_profile_name": ("billingprofilename",),
    "bp_start": ("billingperiodstartdate",), "bp_end": ("billingperiodenddate",), "invoice_id": ("invoiceid",),
    "invoice_section": ("invoicesectionname",), "subscription_id": ("subscriptionid", "subscriptionguid"),
    "subscription_name": ("subscriptionname",), "resource_group": ("resourcegroupname", "resourcegroup"),
    "resource_id": ("resourceid", "instanceid"), "resource_name": ("resourcename",),
    "region": ("resourcelocationnormalized", "resourcelocation"), "location": ("location",),
    "meter_category": ("metercategory",), "meter_subcategory": ("metersubcategory",), "meter_name": ("metername",),
    "meter_id": ("meterid",), "meter_region": ("meterregion",), "product_name": ("productname", "product"),
    "product_id": ("productid",), "part_number": ("partnumber",), "quantity": ("quantity", "usagequantity"),
    "unit": ("unitofmeasure",), "unit_price": ("unitprice",), "payg_price": ("paygprice",),
    "effective_price": ("effectiveprice",), "payg_cost": ("paygcostinbillingcurrency",), "cost_usd": ("costinusd",),
    "charge_type": ("chargetype",), "frequency": ("frequency",), "pricing_model": ("pricingmodel",),
    "reservation_id": ("reservationid", "benefitid"), "tags": ("tags",), "additional_info": ("additionalinfo",),
    "consumed_service": ("consumedservice",), "cost_center": ("costcenter",),
    "exchange_rate": ("exchangeratepricingtobilling",), "pricing_currency": ("pricingcurrencycode", "pricingcurrency"),
    "publisher": ("publishername",), "partner": ("partnername",),
}  # fmt: skip
REQUIRED = ("date", "cost", "currency", "meter_name")
#: A CSV line that ends before one of these (money, identity, what the charge is) is rejected; a line that lacks
#: only later, optional fields (tags, additional info, names) is padded with nulls and flagged ``row_padded``.
PAD_REQUIRED = (*REQUIRED, "billing_account_id", "billing_profile_id", "subscription_id", "charge_type",
                "pricing_model", "quantity", "unit", "bp_start", "bp_end")


def _pad_required(name: str) -> bool:
    return any(name.strip().lower() in ALIASES[key] for key in PAD_REQUIRED)
_ACCOUNTS = ("billing_account_id", "billing_profile_id", "subscription_id")
#: ChargeType (lower case) -> (ChargeCategory, ChargeClass); blank is Usage, anything else Adjustment.
CHARGE_TYPES: dict[str, tuple[str, str | None]] = {
    "usage": ("Usage", None), "unusedreservation": ("Usage", None), "unusedsavingsplan": ("Usage", None),
    "purchase": ("Purchase", None), "tax": ("Tax", None), "refund": ("Credit", "Correction"),
    "credit": ("Credit", None), "roundingadjustment": ("Adjustment", None),
}  # fmt: skip
FREQUENCIES = {"onetime": "One-Time", "recurring": "Recurring", "usagebased": "Usage-Based"}
PRICING_MODELS = {"ondemand": "Standard", "reservation": "Committed", "savingsplan": "Committed", "spot": "Dynamic"}
#: Generative AI: Azure OpenAI / Foundry Models / AI services meters (and any meter naming a model).
_AI_CATEGORIES = ("%openai%", "%cognitive%", "%foundry%", "%ai services%")
_AI_SERVICES = ("microsoft.cognitiveservices",)
#: Machine learning that is not generative AI: Azure Machine Learning compute, disks, endpoints by the hour.
_ML_SQL = ("(lower(coalesce(consumed_service, '')) = 'microsoft.machinelearningservices' "
           "OR lower(coalesce(meter_category, '')) LIKE '%machine learning%')")
_US_DATES = "['%m/%d/%Y', '%m/%d/%Y %H:%M:%S', '%m/%d/%Y %I:%M:%S %p']"


def _first_alias(lower: dict[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, aliases in ALIASES.items():
        for alias in aliases:
            if alias in lower:
                found[key] = lower[alias]
                break
    return found


def _detect(path: Path, head: str) -> bool:
    names = head_names(path, head)
    if names is None:
        return False
    found = _first_alias({n.strip().lower(): n for n in names})
    return set(REQUIRED) <= set(found) and "quantity" in found and any(a in found for a in _ACCOUNTS)


def _raw_select(source: str, types: dict[str, str], path: Path) -> tuple[str, dict[str, str]]:
    """Return (SELECT of the canonical columns as text, canonical -> file column names)."""
    found = _first_alias({n.strip().lower(): n for n in types})
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        shown = {"date": "Date", "cost": "CostInBillingCurrency", "currency": "BillingCurrencyCode",
                 "meter_name": "MeterName"}
        raise SourceError(path, f"required cost details column(s) missing: {', '.join(shown[c] for c in missing)}",
                          column=shown[missing[0]])
    account = next((found[a] for a in _ACCOUNTS if a in found), None)
    if account is None:
        raise SourceError(path, "no billing account, billing profile or subscription column", column="BillingAccountId")
    cols = [f"{types[found[c]] if c in found else 'NULL::VARCHAR'} AS {c}" for c in ALIASES]
    return (f"SELECT {', '.join(cols)}, {PADDED}, {MISSING}, {quote(str(path))} AS __file FROM {source}",
            {**found, "billing_account_id": account})


def _date_sql(column: str, us: bool) -> str:
    parsed = f"try_strptime({column}, {_US_DATES})::TIMESTAMPTZ" if us else f"TRY_CAST({column} AS TIMESTAMPTZ)"
    return f"date_trunc('day', {parsed})"


def _case(column: str, mapping: dict[str, str | None], default: str) -> str:
    whens = " ".join(f"WHEN {quote(k)} THEN {quote(v) if v else 'NULL'}" for k, v in mapping.items())
    return f"CASE lower({column}) {whens} ELSE {default} END"


def _faults(us: bool) -> tuple[tuple[str, str, str], ...]:
    form = "a MM/dd/yyyy date" if us else "an ISO-8601 date"
    return (
        ("date", "t_date IS NULL", f"not {form}"),
        ("bp_start", "bp_start IS NOT NULL AND t_bp_start IS NULL", f"not {form}"),
        ("bp_end", "bp_end IS NOT NULL AND t_bp_end IS NULL", f"not {form}"),
        ("bp_end", "t_bp_end <= t_bp_start", "ends before the billing period start"),
        ("billing_account_id", "account IS NULL", "missing billing account"),
        ("currency", "NOT coalesce(regexp_full_match(currency_code, '[A-Z]{3}'), false)",
         "not an ISO 4217 currency code"),
        ("cost", "cost IS NULL", "missing amount"),
        *money_faults("cost", "cost", "n_cost"),
        ("cost", "n_cost IS NULL", "not a number"),
        ("quantity", "quantity IS NOT NULL AND n_qty IS NULL", "not a number"),
        ("payg_cost", "payg_cost IS NOT NULL AND n_payg_cost IS NULL", "not a number"),
        ("unit_price", "unit_price IS NOT NULL AND n_unit_price IS NULL", "not a number"),
        ("payg_price", "payg_price IS NOT NULL AND n_payg_price IS NULL", "not a number"),
        ("tags", "NOT tags_ok", "not a JSON object"),
    )


#: Tags without their braces (EA) are wrapped.
_WRAPPED = ("CASE WHEN src.tags IS NULL THEN '{}' WHEN starts_with(src.tags, '{') THEN src.tags "
            "ELSE '{' || src.tags || '}' END")


def _parsed_sql(staged: str, us: bool, labels: dict[str, str]) -> str:
    """Return SQL of the staged rows with typed values, the FOCUS category and each row's fault."""
    nulls = ", ".join(f"nullif(trim({c}), '') AS {c}" for c in ALIASES)
    category = _case("charge_type", {k: v[0] for k, v in CHARGE_TYPES.items()},
                     "CASE WHEN charge_type IS NULL THEN 'Usage' ELSE 'Adjustment' END")
    return f"""
WITH src AS (SELECT src_row, __file, {nulls}, {PADDED}, {MISSING} FROM {staged}),
tagset AS ({tag_set_sql('src', _WRAPPED, literals=True)}),
infoset AS (SELECT ai, json_extract_string(info_json, '$.DeploymentType') AS deployment_type, info_json
  FROM (SELECT ai, try(json(nullif(ai, ''))) AS info_json FROM (SELECT DISTINCT coalesce(additional_info, '') AS ai
  FROM src))),
typed AS (
  SELECT src.*, tagset.* EXCLUDE (tk, mk), infoset.* EXCLUDE (ai), {_WRAPPED} AS tags_text,
    {_date_sql('date', us)} AS t_date, {_date_sql('bp_start', us)} AS t_bp_start,
    {_date_sql('bp_end', us)} + INTERVAL 1 DAY AS t_bp_end,
    {number_sql('cost')} AS n_cost, {number_sql('quantity')} AS n_qty, {number_sql('payg_cost')} AS n_payg_cost,
    {number_sql('unit_price')} AS n_unit_price, {number_sql('payg_price')} AS n_payg_price,
    {number_sql('exchange_rate')} AS n_fx, upper(currency) AS currency_code,
    coalesce(billing_account_id, billing_profile_id, subscription_id) AS account,
    {category} AS category,
    coalesce(lower(charge_type) IN ('unusedreservation', 'unusedsavingsplan'), false) AS unused,
    coalesce(lower(pricing_model) IN ('reservation', 'savingsplan'), false) AS committed
  FROM src LEFT JOIN tagset ON tagset.tk = {_WRAPPED}
    LEFT JOIN infoset ON infoset.ai = coalesce(src.additional_info, '')
)
SELECT *, coalesce({MISSING} || chr(31) || {quote(SHORT_REASON)}, {fault_sql(_faults(us), labels)}) AS fault
FROM typed"""


def _us_dates(con: BaseBackend, staged: str) -> bool:
    """Whether the file writes its dates ``MM/dd/yyyy`` (the majority of its ``Date`` values), else ISO."""
    us, iso = con.con.execute(
        f"SELECT count(*) FILTER (WHERE regexp_matches(trim(date), '^\\d{{1,2}}/\\d{{1,2}}/\\d{{4}}')), "
        f"count(*) FILTER (WHERE TRY_CAST(trim(date) AS TIMESTAMPTZ) IS NOT NULL) FROM {staged}").fetchone()
    return us > iso


def _view(con: BaseBackend, staged: str) -> str:
    """Classify the export as ``amortized``, ``actual`` or ``undetermined`` from its commitment rows."""
    charge, model = "lower(trim(charge_type))", "lower(trim(pricing_model))"
    committed = f"{model} IN ('reservation', 'savingsplan')"
    cost = "TRY_CAST(trim(cost) AS DOUBLE)"
    unused, covered_cost, covered_zero, purchases = con.con.execute(f"""SELECT
        count(*) FILTER (WHERE {charge} IN ('unusedreservation', 'unusedsavingsplan')),
        count(*) FILTER (WHERE {committed} AND {charge} = 'usage' AND {cost} <> 0),
        count(*) FILTER (WHERE {committed} AND {charge} = 'usage' AND {cost} = 0),
        count(*) FILTER (WHERE {committed} AND {charge} = 'purchase')
        FROM {staged}""").fetchone()
    if unused or covered_cost:
        return "amortized"
    return "actual" if covered_zero or purchases else "undetermined"


#: Names of the manifest Cost Management writes in an export run's folder (older, newer exports).
MANIFEST_NAMES = ("manifest.json", "_manifest.json")
#: One part of a partitioned export run: ``part_<n>_<nnnn>`` and the file's extension(s).
_PART = re.compile(r"^(?P<part>part)_\d+_\d+(?P<ext>(?:\.[A-Za-z0-9]+)+)$", re.IGNORECASE)


def _manifest(path: Path) -> tuple[dict, Path | None]:
    """Return the Cost Management export manifest beside ``path`` and its folder, or ``({}, None)``."""
    for folder in (path.parent, path.parent.parent):
        for name in MANIFEST_NAMES:
            candidate = folder / name
            if candidate.is_file():
                try:
                    data = json.loads(candidate.read_text(encoding="utf-8-sig"))
                except (OSError, ValueError):
                    return {}, None
                return (data, folder) if isinstance(data, dict) else ({}, None)
    return {}, None


def _listed(path: Path, manifest: dict, folder: Path | None) -> list[str]:
    """Return the file names of the run a manifest in ``path``'s own folder lists with it (empty if it does not)."""
    blobs = manifest.get("blobs")
    names = [PurePosixPath(str(b.get("blobName") or "")).name for b in blobs if isinstance(b, dict)] \
        if isinstance(blobs, list) else []
    return list(dict.fromkeys(names)) if folder == path.parent and path.name in names else []


def parts_of(path: Path, manifest: dict, folder: Path | None) -> tuple[str, ...]:
    """Return globs of the files of the export run ``path`` is one part of (empty when it is a whole delivery).

    A manifest in the file's own folder that lists it among its ``blobs`` names the run's files exactly;
    else a file named ``part_<n>_<nnnn><ext>`` is one of the ``part_*_*<ext>`` files of its folder.

    Examples
    --------
    >>> parts_of(Path("/e/20260501-20260531/r1/part_1_0001.csv"), {}, None)
    ('/e/20260501-20260531/r1/part_*_*.csv',)
    >>> blobs = {"blobs": [{"blobName": "e/r1/costs_a.csv"}, {"blobName": "e/r1/costs_b.csv"}]}
    >>> parts_of(Path("/e/r1/costs_b.csv"), blobs, Path("/e/r1")), parts_of(Path("/e/c.csv"), {}, None)
    (('/e/r1/costs_a.csv', '/e/r1/costs_b.csv'), ())
    """
    listed = _listed(path, manifest, folder)
    if listed:
        return listed_parts(path, listed)
    hit = _PART.match(path.name)
    return named_parts(path, f"{hit['part']}_*_*{hit['ext']}") if hit else ()


def dataset_of(view: str, path: Path, manifest: dict) -> str:
    """Return the cost dataset (``actual`` or ``amortized``) of a file whose rows say ``view``.

    Examples
    --------
    >>> dataset_of("undetermined", Path("exports/DailyAmortizedCost/part_0.csv"), {})
    'amortized'
    >>> dataset_of("undetermined", Path("x.csv"), {"exportConfig": {"type": "AmortizedCost"}})
    'amortized'
    >>> dataset_of("actual", Path("amortized.csv"), {}), dataset_of("undetermined", Path("x.csv"), {})
    ('actual', 'actual')
    """
    if view != "undetermined":
        return view
    stated = str((manifest.get("exportConfig") or {}).get("type", "")).lower()
    if stated in ("actualcost", "amortizedcost"):
        return stated.removesuffix("cost")
    words = " ".join(part.lower() for part in path.parts[-3:])
    if "amortiz" in words:
        return "amortized"
    return "actual"


def delivered_at(manifest: dict) -> datetime | None:
    """Return when Cost Management ran the export (``runInfo.submittedTime``; zone-less is UTC), or None."""
    text = (manifest.get("runInfo") or {}).get("submittedTime")
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


_FX = "(CASE WHEN pricing_currency IS NULL OR upper(pricing_currency) = currency_code THEN 1 ELSE n_fx END)"


def _priced(price: str, when: str) -> str:
    """Return SQL of PricingQuantity x a unit price (rows where ``when`` holds), before currency conversion.

    Computed only where needed: 38-digit decimal arithmetic is slow in the engine.
    """
    return f"CASE WHEN {when} THEN try(CAST(CAST(pq AS DECIMAL(38, 12)) * {price} AS DECIMAL(38, 18))) END"


def _converted(column: str) -> str:
    """Return SQL of a priced amount in the billing currency, rounded half-even (a lambda keeps it row-lazy)."""
    value = (f"CASE WHEN {_FX} = 1 THEN {column} "
             f"ELSE try(CAST(CAST({column} AS DECIMAL(38, 12)) * {_FX} AS DECIMAL(38, 18))) END")
    return f"CASE WHEN {column} IS NOT NULL THEN list_transform([{value}], lambda d: {money_sql('d')})[1] END"


def _costs_sql(view: str) -> str:
    """Return SQL of the FOCUS cost and unit price columns (see the module notes on actual vs amortized).

    ``p_list`` and ``p_contracted`` are the unit prices times PricingQuantity, already rounded.
    """
    usage = "(category = 'Usage' AND NOT unused)"
    amortized = view == "amortized"
    billed = "CASE WHEN committed AND category = 'Usage' OR unused THEN 0 ELSE n_cost END" if amortized else "n_cost"
    effective = "CASE WHEN committed AND category = 'Purchase' THEN 0 ELSE n_cost END" if amortized else "n_cost"
    return (f"{billed} AS BilledCost, {effective} AS EffectiveCost, "
            f"CASE WHEN {usage} THEN coalesce(n_payg_cost, p_list, n_cost) ELSE n_cost END AS ListCost, "
            f"CASE WHEN {usage} THEN coalesce(p_contracted, n_cost) ELSE n_cost END AS ContractedCost, "
            f"CASE WHEN {usage} AND {_FX} = 1 THEN n_payg_price END AS ListUnitPrice, "
            f"CASE WHEN {usage} AND {_FX} = 1 THEN n_unit_price END AS ContractedUnitPrice")


_EXTRA = (("BillingProfileId", "billing_profile_id"), ("BillingProfileName", "billing_profile_name"),
          ("InvoiceId", "invoice_id"), ("InvoiceSectionName", "invoice_section"),
          ("ResourceGroupName", "resource_group"), ("Location", "location"), ("MeterCategory", "meter_category"),
          ("MeterSubcategory", "meter_subcategory"), ("MeterId", "meter_id"), ("MeterRegion", "meter_region"),
          ("ProductName", "product_name"), ("PartNumber", "part_number"), ("ChargeType", "charge_type"),
          ("PricingModel", "pricing_model"), ("Frequency", "frequency"), ("ReservationId", "reservation_id"),
          ("EffectivePrice", "effective_price"), ("CostInUsd", "cost_usd"),
          ("ExchangeRatePricingToBilling", "exchange_rate"), ("PricingCurrency", "pricing_currency"),
          ("ConsumedService", "consumed_service"), ("CostCenter", "cost_center"))
_KEY = ("account", "subscription_id", "resource_id", "coalesce(meter_id, meter_name)", "CAST(t_date AS VARCHAR)",
        "lower(charge_type)", "lower(pricing_model)", "reservation_id", "unit", "product_id", "part_number",
        "additional_info", "tags_text")
_IS_AI = ("(lower(coalesce(consumed_service, '')) IN ({services}) OR {categories} OR m.model IS NOT NULL "
          "OR m.service_tier = 'provisioned')").format(
    services=", ".join(quote(s) for s in _AI_SERVICES),
    categories=" OR ".join(f"lower(coalesce(meter_category, '')) LIKE {quote(c)}" for c in _AI_CATEGORIES))
_TOKEN = "(token_type IS NOT NULL AND token_type <> 'non_token')"


def _joined_sql(parsed: str, lookups: tuple[str, str]) -> str:
    """Return SQL of the parsed rows with their meter and unit lookups, PricingQuantity and AI scope."""
    return f"""SELECT p.*, m.model, m.token_type, m.service_tier AS m_tier, m.context_tier,
      m.deployment AS m_deployment, m.modality, m.region AS m_region, m.parsed, m.publisher AS m_publisher,
      m.details, u.words,
      {per_block_sql('n_qty', 'u')} AS pq, {_IS_AI} AS is_ai, {_ML_SQL} AS is_ml
    FROM ({parsed}) p LEFT JOIN {lookups[0]} m ON m.k = p.meter_name LEFT JOIN {lookups[1]} u ON u.k = p.unit"""


def _select_sql(parsed: str, lookups: tuple[str, str], view: tuple[str, str], labels: dict[str, str],
                us: bool) -> str:
    """One SELECT from the parsed rows (of one file or more, ``__file``) to ``costs`` rows (rejects marked inline).

    ``view`` is (view, dataset).
    """
    view, dataset = view
    usage = "(category = 'Usage' AND NOT unused)"
    deployment = ("CASE WHEN deployment_type ILIKE 'global%' THEN 'global' WHEN deployment_type ILIKE 'datazone%' "
                  "THEN 'data_zone' WHEN deployment_type IS NOT NULL THEN 'regional' END")
    tier = ("CASE WHEN deployment_type ILIKE '%provisioned%' THEN 'provisioned' "
            "WHEN deployment_type ILIKE '%batch%' THEN 'batch' END")
    extra = extra_sql([(k, c) for k, c in _EXTRA] + [("x_CostView", quote(view))],
                      [("AdditionalInfo", "info_json")])
    unparsed = ("concat_ws(',', CASE WHEN is_ai AND category = 'Usage' AND NOT coalesce(parsed, false) "
                f"THEN 'meter_unparsed' END, CASE WHEN tags_literal THEN '{LITERAL_FLAG}' END, "
                f"CASE WHEN {PADDED} THEN '{PADDED_FLAG}' END)")  # sorted by name
    return f"""
SELECT {_costs_sql(view)},
  account AS BillingAccountId, coalesce(billing_account_name, billing_profile_name) AS BillingAccountName,
  currency_code AS BillingCurrency, coalesce(t_bp_start, date_trunc('month', t_date)) AS BillingPeriodStart,
  coalesce(t_bp_end, date_trunc('month', t_date) + INTERVAL 1 MONTH) AS BillingPeriodEnd,
  category AS ChargeCategory, CASE WHEN lower(charge_type) = 'refund' THEN 'Correction' END AS ChargeClass,
  {_case('frequency', FREQUENCIES, "CASE WHEN category = 'Usage' THEN 'Usage-Based' END")} AS ChargeFrequency,
  {_case('pricing_model', PRICING_MODELS, "CASE WHEN category = 'Usage' THEN 'Standard' END")} AS PricingCategory,
  coalesce(product_name, meter_name) AS ChargeDescription, t_date AS ChargePeriodStart,
  t_date + INTERVAL 1 DAY AS ChargePeriodEnd, coalesce(partner, 'Microsoft') AS InvoiceIssuerName,
  'Microsoft' AS ProviderName, coalesce(m_publisher, publisher, 'Microsoft') AS PublisherName,
  CASE WHEN concat_ws(' ', product_name, meter_category, meter_subcategory) ILIKE '%openai%'
    OR m_publisher = 'OpenAI' THEN 'Azure OpenAI' ELSE coalesce(meter_category, consumed_service, 'Azure') END
    AS ServiceName,
  CASE WHEN is_ai OR is_ml THEN {AI_SQL} ELSE 'Other' END AS ServiceCategory,
  CASE WHEN is_ai THEN {GENAI_SQL} WHEN is_ml THEN 'Machine Learning' END AS ServiceSubcategory,
  CASE WHEN {usage} THEN n_qty END AS ConsumedQuantity,
  CASE WHEN {usage} AND n_qty IS NOT NULL THEN CASE WHEN {_TOKEN} THEN 'Tokens'
    WHEN lower(words) IN ('hour', 'hours') THEN 'Hours' ELSE coalesce(nullif(words, ''), 'Units') END END
    AS ConsumedUnit,
  CASE WHEN {usage} THEN pq END AS PricingQuantity,
  CASE WHEN {usage} AND n_qty IS NOT NULL THEN CASE WHEN {_TOKEN} AND unit IS NULL THEN 'Tokens'
    WHEN {_TOKEN} AND NOT unit ILIKE '%token%' THEN unit || ' Tokens' ELSE unit END END AS PricingUnit,
  resource_id AS ResourceId, coalesce(resource_name, nullif(regexp_extract(resource_id, '[^/]+$'), ''))
    AS ResourceName, lower(coalesce(region, m_region)) AS RegionId,
  coalesce(product_id, meter_id) AS SkuId, meter_name AS SkuMeter, details AS SkuPriceDetails,
  subscription_id AS SubAccountId, subscription_name AS SubAccountName,
  tags_json AS Tags,
  model AS x_Model, CASE WHEN is_ai THEN meter_name END AS x_ModelRaw,
  coalesce(token_type, 'non_token') AS x_TokenType, modality AS x_Modality,
  CASE WHEN is_ai THEN coalesce(m_tier, {tier}) END AS x_ServiceTier, context_tier AS x_ContextTier,
  coalesce(m_deployment, CASE WHEN is_ai THEN {deployment} END) AS x_DeploymentType,
  'invoiced' AS x_CostBasis, {quote(dataset)} AS x_CostDataset, x_Team, x_Application, x_Feature, x_Environment,
  {extra} AS x_SourceExtra,
  '{FORMAT}' AS x_SourceFormat, __file AS x_SourceFile, src_row AS x_SourceRow,
  {hash_sql(FORMAT, _KEY)} AS x_RowHash, {flags_sql(_faults(us), labels, unparsed)} AS x_DataQualityFlags
FROM (SELECT * REPLACE ({_converted('p_list')} AS p_list, {_converted('p_contracted')} AS p_contracted)
      FROM (SELECT *, {_priced('n_payg_price', f'{usage} AND n_payg_cost IS NULL')} AS p_list,
              {_priced('n_unit_price', f'{usage} AND committed')} AS p_contracted
            FROM ({_joined_sql(parsed, lookups)})))
"""


def _read_many(paths: list[Path], con: BaseBackend) -> list[ReadResult]:
    """Read cost details exports: each file's text staged and classified apart, then one typed SELECT per run.

    The typed SELECT is long, and for a part of a few hundred rows planning it costs more than running it: files
    in a row whose columns, date form and cost view read alike share one, each file's rows then selected by
    ``x_SourceFile``. Returns one result per file, in order, each as :func:`read` would give it.
    """
    staged = []
    for path in paths:
        text = stage_text(con, path, _raw_select, required=_pad_required)
        rows = text.rows
        manifest, manifest_folder = _manifest(path)
        view = _view(con, rows)
        staged.append(_Staged(path, rows, (text.labels, _us_dates(con, rows), (view, dataset_of(view, path, manifest))),
                              text.csv_rejects, manifest, manifest_folder, text.lines, text.notes))
    results: dict[Path, ReadResult] = {}
    for run in runs_alike(staged, key=lambda item: item.alike):
        labels, us, view = run[0].alike
        rows = union_rows([f.rows for f in run])
        lookups = (meter_table(con, distinct_values(con, rows, "meter_name"), "azure"),
                   unit_table(con, distinct_values(con, rows, "unit")))
        final = stage(con, _select_sql(_parsed_sql(rows, us, labels), lookups, view, labels, us), run[0].path)
        for lookup in lookups:
            con.con.unregister(lookup)
        for f in run:
            mine = of_file(final, f.path, len(run))
            parts = parts_of(f.path, f.manifest, f.manifest_folder)
            windows = tuple(replace(w, scope=(*w.scope, ("x_CostDataset", view[1])), parts=parts)
                            for w in windows_from(con, mine))
            costs = conform(relation(con, f"SELECT * EXCLUDE (src_row) FROM {mine}"), "costs")
            results[f.path] = ReadResult(
                FORMAT, str(f.path), costs, None, None, f.lines, inline_rejects=True, csv_rejects=f.csv_rejects,
                windows=windows, delivered_at=delivered_at(f.manifest), lines_final=f.lines is not None,
                notes=(*f.notes, *missing_note(f.path, _listed(f.path, f.manifest, f.manifest_folder), "export run")))
    return [results[path] for path in paths]


@dataclass(frozen=True)
class _Staged:
    """One file's text rows staged, what its typed SELECT depends on (``alike``), and what its result needs."""

    path: Path
    rows: str
    alike: tuple
    csv_rejects: str | None
    manifest: dict
    manifest_folder: Path | None
    lines: int | None = None  # the data lines, when the rows carry their line numbers (read on Spark's workers)
    notes: tuple[str, ...] = ()


@register_source(FORMAT, table="costs", detect=_detect, many=_read_many,
                 description="Azure Cost Management cost details export, EA or MCA, actual or amortized "
                             "(CSV, CSV.gz or Parquet)")
def read(path: Path, con: BaseBackend) -> ReadResult:
    """Read an Azure cost details export into ``costs`` rows inside the engine.

    Reads cSV (optionally gzip) or Parquet cost details export (EA or MCA column names). A reader of
    :data:`finops_lib.sources.SOURCES`: ``read(path, con) -> ReadResult``.
    """
    return _read_many([Path(path)], con)[0]
