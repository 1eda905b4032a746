"""The SELECT of a ``table: costs`` mapping, and the windows such a file restates.

Raw text columns become ``costs`` rows: SaaS seat invoices, licence lists, usage reports.

Each record is one invoiced charge (``x_CostBasis`` ``invoiced``, ``x_TokenType`` ``non_token``):

* money exact: every amount parsed from its text as DECIMAL(38, 12), rounded half-even (``_sql.decimal_sql``);
  an empty BilledCost, a NaN or infinity, an amount out of range or any other text rejects the record naming its
  column, value and reason; EffectiveCost, ListCost and ContractedCost default to BilledCost;
* the charge period from ChargePeriodStart and ChargePeriodEnd, or the mapping's ``period`` (a day, a month, a
  year from the start, in UTC); the billing period is the calendar month (UTC) of the start;
* FOCUS fields with a closed set of values (ChargeCategory, ChargeFrequency, PricingCategory) read
  case-insensitively and written as the schema spells them (another value rejects the record); ChargeCategory
  defaults to ``Usage`` (``Credit`` for a negative amount), ServiceCategory to ``AI and Machine Learning`` (with
  ServiceSubcategory ``Generative AI``), ServiceName, PublisherName and InvoiceIssuerName to the provider,
  BillingAccountId to ``(not in source)``; each of ConsumedQuantity/PricingQuantity and ConsumedUnit/PricingUnit
  defaults to the other.

Keys: a costs mapping documents no line id, so the warehouse keys each row by its content (the reader's key, a
digest of every field, its occurrence in the file): the same rows in another file restate their twins. With
``restates: span`` (the default) the file also declares a window per billing account and sub-account over its
whole date span: a newer export of the same period replaces the older one's rows even where amounts changed.
"""

from __future__ import annotations

from pathlib import Path

import ibis

from finops_lib.models import PROVIDERS, provider_sql
from finops_lib.sources import REJECT_MARK, Window
from finops_lib.sources._common import ACCOUNT_UNKNOWN, AI_CATEGORY, GENAI_SUBCATEGORY
from finops_lib.sources._mapped_sql import MappedSql, file_stem
from finops_lib.sources._mapping_yaml import COST_CHOICES, COST_NUMBERS, Mapping
from finops_lib.sources._sql import decimal_sql, money_faults, quote

__all__ = ["costs_sql", "costs_windows"]

#: ``period:`` -> the interval a charge period lasts.
INTERVALS = {"day": "INTERVAL 1 DAY", "month": "INTERVAL 1 MONTH", "year": "INTERVAL 1 YEAR"}
#: Text fields copied as they are (column, lookup or constant).
PLAIN_TEXTS = (
    "BillingAccountName",
    "ChargeDescription",
    "SkuId",
    "SkuMeter",
    "RegionId",
    "ResourceId",
    "ResourceName",
    "SubAccountId",
    "SubAccountName",
    "x_UserId",
    "x_ApiKeyId",
    "x_Team",
    "x_Application",
    "x_Feature",
    "x_Environment",
)


class _CostSql(MappedSql):
    """The parts of a costs SELECT: exact amounts, closed sets of values, lookups."""

    def field(self, target: str) -> str:
        """Return SQL of a text field: through its lookup, else its column or constant (NULL when none)."""
        spec = self.m.lookups.get(target)
        if spec is None:
            return self.text(target)
        value = f"nullif(trim({self.alias[spec.column]}), '')"
        fallback = quote(spec.default) if spec.default is not None else value
        if not spec.values:
            return fallback
        cases = " ".join(f"WHEN {quote(k)} THEN {quote(v)}" for k, v in spec.values.items())
        return f"CASE lower({value}) {cases} ELSE {fallback} END"

    def amount(self, target: str) -> str:
        """Return the SQL of a decimal field (NULL when not mapped) and note its faults (over ``n_<target>``)."""
        alias = self.col(target)
        if alias is None:
            return "NULL::DECIMAL(38, 12)"
        text, parsed = f"nullif(trim({alias}), '')", f"n_{target}"
        if target == "BilledCost":
            self.fault(f"{text} IS NULL", target, "missing amount")
        for _, condition, reason in money_faults(target, alias, parsed):
            self.fault(condition, target, reason)
        self.fault(f"{text} IS NOT NULL AND {parsed} IS NULL", target, "not a number")
        return decimal_sql(text)

    def choice(self, target: str) -> str:
        """Return SQL of a field with a closed set of values, as the schema spells it; note the fault of another."""
        raw, allowed = self.field(target), COST_CHOICES[target]
        cases = " ".join(f"WHEN {quote(a.lower())} THEN {quote(a)}" for a in allowed)
        value = f"CASE lower({raw}) {cases} END"
        self.fault(f"{raw} IS NOT NULL AND {value} IS NULL", target, f"not a {target} ({', '.join(allowed)})")
        return value

    def tags(self, present: set[str]) -> str:
        """Return SQL of ``Tags``: the tag columns the file has, empty cells left out (NULL when none is left)."""
        entries = ", ".join(
            f"{{'k': {quote(self.m.tag_keys.get(t, t))}, 'v': nullif(trim({self.alias[t]}), '')}}"
            for t in dict.fromkeys(self.m.tags)
            if t in present
        )
        if not entries:
            return "NULL::VARCHAR"
        kept = f"list_filter([{entries}], e -> e.v IS NOT NULL)"
        return f"nullif(CAST(to_json(map_from_entries({kept})) AS VARCHAR), '{{}}')"

    def provider(self) -> str:
        """Return SQL of ProviderName: a constant as FOCUS spells the vendor, else the column's or lookup's value."""
        constant = self.m.constants.get("ProviderName")
        if constant is not None:
            return quote(PROVIDERS.get(constant.strip().lower(), constant.strip()))
        return provider_sql(self.field("ProviderName"), "canon")


def _period_sql(q: _CostSql, end: str | None) -> str:
    """Return SQL of ChargePeriodEnd: the end column where it has a value, else the start plus the period (UTC)."""
    computed = f"timezone('UTC', timezone('UTC', t_start) + {INTERVALS[q.m.period]})"
    if end is None:
        return computed
    q.fault("t_end <= t_start", "ChargePeriodEnd", "does not end after it starts")
    return f"coalesce(t_end, {computed})"


def costs_sql(m: Mapping, source: str, present: set[str], path: Path) -> str:
    """Return the streaming SELECT turning ``source`` (all-text columns) into ``costs`` rows.

    Rejected records stay in the result with an ``x_DataQualityFlags`` starting with
    :data:`~finops_lib.sources.REJECT_MARK` (moved to ``rejects`` by :func:`finops_lib.warehouse.loading.settle`).
    """
    q = _CostSql(m, file_stem(path))
    start, end = q.time("ChargePeriodStart", "t_start"), q.time("ChargePeriodEnd", "t_end")
    period_end = _period_sql(q, end)
    amounts = {name: q.amount(name) for name in COST_NUMBERS}
    raw_model, canon = q.model()
    currency = q.field("BillingCurrency")
    currency = f"upper(coalesce({currency}, {quote(m.currency)}))" if m.currency else f"upper({currency})"
    q.fault(
        f"NOT regexp_matches(coalesce({currency}, ''), '^[A-Z]{{3}}$')",
        "BillingCurrency",
        "missing or not an ISO 4217 currency code",
    )
    category, frequency, pricing = q.choice("ChargeCategory"), q.choice("ChargeFrequency"), q.choice("PricingCategory")
    texts = ", ".join(f"{q.field(t)} AS {t}" for t in PLAIN_TEXTS)
    billed = "n_BilledCost"
    key = ", ".join(
        f"coalesce(CAST({p} AS VARCHAR), '')"
        for p in (quote(m.format), "BillingAccountId", "SubAccountId", "t_start", "SkuId", "ResourceId", "x_UserId")
    )
    month = "date_trunc('month', timezone('UTC', t_start))"
    return f"""
WITH src AS (SELECT {q.selected(present)} FROM {source}),
parsed AS (
  SELECT *, {start} AS t_start, {end or "NULL::TIMESTAMPTZ"} AS t_end,
    {", ".join(f"{sql} AS n_{name}" for name, sql in amounts.items())},
    {raw_model} AS x_ModelRaw, {canon} AS canon
  FROM src
), checked AS (
  SELECT *, {q.fault_case()} AS fault, {q.provider()} AS provider, coalesce({q.field("ServiceCategory")},
    {quote(AI_CATEGORY)}) AS category
  FROM parsed
), named AS (
  SELECT *, coalesce({q.field("BillingAccountId")}, {quote(ACCOUNT_UNKNOWN)}) AS BillingAccountId, {texts}
  FROM checked
)
SELECT
  {billed} AS BilledCost, BillingAccountId, BillingAccountName, {currency} AS BillingCurrency,
  timezone('UTC', {month} + INTERVAL 1 MONTH) AS BillingPeriodEnd, timezone('UTC', {month}) AS BillingPeriodStart,
  coalesce({category}, CASE WHEN {billed} < 0 THEN 'Credit' ELSE 'Usage' END) AS ChargeCategory, ChargeDescription,
  {period_end} AS ChargePeriodEnd, t_start AS ChargePeriodStart,
  coalesce(n_ContractedCost, {billed}) AS ContractedCost, coalesce(n_EffectiveCost, {billed}) AS EffectiveCost,
  coalesce({q.field("InvoiceIssuerName")}, provider) AS InvoiceIssuerName, coalesce(n_ListCost, {billed}) AS ListCost,
  coalesce(n_PricingQuantity, n_ConsumedQuantity) AS PricingQuantity,
  coalesce({q.field("PricingUnit")}, {q.field("ConsumedUnit")}) AS PricingUnit, provider AS ProviderName,
  coalesce({q.field("PublisherName")}, provider) AS PublisherName, category AS ServiceCategory,
  coalesce({q.field("ServiceName")}, provider) AS ServiceName,
  coalesce(n_ConsumedQuantity, n_PricingQuantity) AS ConsumedQuantity,
  coalesce({q.field("ConsumedUnit")}, {q.field("PricingUnit")}) AS ConsumedUnit,
  coalesce({q.field("ServiceSubcategory")}, CASE WHEN category = {quote(AI_CATEGORY)} THEN
    {quote(GENAI_SUBCATEGORY)} END) AS ServiceSubcategory,
  {frequency} AS ChargeFrequency, {pricing} AS PricingCategory, n_ListUnitPrice AS ListUnitPrice,
  n_ContractedUnitPrice AS ContractedUnitPrice, ResourceId, ResourceName, RegionId, SkuId, SkuMeter, SubAccountId,
  SubAccountName, {q.tags(present)} AS Tags, canon AS x_Model, x_ModelRaw, 'non_token' AS x_TokenType,
  'invoiced' AS x_CostBasis, x_ApiKeyId, x_UserId, x_Team, x_Application, x_Feature, x_Environment,
  {quote(m.format)} AS x_SourceFormat, {quote(str(path))} AS x_SourceFile, NULL::BIGINT AS x_SourceRow,
  md5(concat_ws(chr(31), {key})) AS x_RowHash,
  CASE WHEN fault IS NOT NULL THEN '{REJECT_MARK}' || fault
       WHEN x_ModelRaw IS NOT NULL AND canon IS NULL THEN 'model_unknown' ELSE '' END AS x_DataQualityFlags
FROM named
"""


def costs_windows(m: Mapping, rows: ibis.Table) -> tuple[Window, ...]:
    """Return the windows a costs file restates: per billing account and sub-account, its whole date span.

    None with ``restates: rows``, and none for rows without a sub-account (they are replaced by content only).
    The span runs from the first charge's start to the last charge's end, over the records that loaded.
    """
    if m.restates != "span":
        return ()
    ok = rows.filter(~rows.x_DataQualityFlags.startswith(REJECT_MARK))
    span = ok.aggregate(start=ok.ChargePeriodStart.min(), end=ok.ChargePeriodEnd.max()).to_pyarrow().to_pylist()[0]
    if span["start"] is None:
        return ()
    scoped = ok.filter(ok.SubAccountId.notnull())
    scopes = scoped.select("BillingAccountId", "SubAccountId").distinct().order_by(["BillingAccountId", "SubAccountId"])
    return tuple(
        Window(
            span["start"],
            span["end"],
            scope=(("BillingAccountId", r["BillingAccountId"]), ("SubAccountId", r["SubAccountId"])),
        )
        for r in scopes.to_pyarrow().to_pylist()
    )
