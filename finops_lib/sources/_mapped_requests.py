"""The SELECT of a ``table: requests`` mapping: raw text columns -> ``requests`` rows (one streaming pass).

Token counts are whole non-negative numbers (``input_tokens`` split into its cache parts when it includes them),
latency in milliseconds, the reported cost exact as DECIMAL, the status from a column's values or a zero count.
A record whose time, count, cost or latency cannot be read stays in the result marked as an inline reject
(:data:`~finops_lib.sources.REJECT_MARK`), naming its source column, value and reason.
"""

from __future__ import annotations

from pathlib import Path

from finops_lib.models import provider_name, provider_sql
from finops_lib.sources import REJECT_MARK
from finops_lib.sources._mapped_sql import MappedSql, file_stem
from finops_lib.sources._mapping_yaml import COUNTS, Mapping
from finops_lib.sources._sql import quote

__all__ = ["requests_sql"]

PRIMARY_COUNTS = ("input_tokens", "x_InputUncachedTokens", "x_OutputTokens")
CACHE_COUNTS = ("x_InputCacheReadTokens", "x_InputCacheWrite5mTokens", "x_InputCacheWrite1hTokens")
FAILURE_VALUES = ("failure", "failed", "fail", "error", "false")
TIERS = {
    "default": "standard",
    "auto": "standard",
    "standard": "standard",
    "flex": "flex",
    "priority": "priority",
    "scale": "provisioned",
    "provisioned": "provisioned",
    "batch": "batch",
}


class _RequestSql(MappedSql):
    """The parts of a requests SELECT: token counts, numbers, status."""

    def count(self, target: str) -> str:
        """Return the SQL of a token count (0, or NULL for reasoning, when not mapped) and note its faults."""
        alias = self.col(target)
        if alias is None:
            return "NULL::BIGINT" if target == "x_OutputReasoningTokens" else "0::BIGINT"
        n = f"TRY_CAST(trim({alias}) AS DOUBLE)"
        if target in PRIMARY_COUNTS:
            self.fault(f"nullif(trim({alias}), '') IS NULL", target, "missing token count")
        self.fault(f"nullif(trim({alias}), '') IS NOT NULL AND {n} IS NULL", target, "not a number")
        self.fault(f"{n} < 0 OR {n} <> floor({n}) OR {n} >= 1e15", target, "not a non-negative integer")
        empty = "NULL" if target == "x_OutputReasoningTokens" else "0"
        return f"coalesce(TRY_CAST({n} AS BIGINT), {empty})"

    def number(self, target: str, cast: str) -> str:
        alias = self.col(target)
        if alias is None:
            return f"NULL::{cast}"
        value = f"TRY_CAST(trim({alias}) AS {cast})"
        if cast == "DECIMAL(38, 12)":  # INT64-backed decimals first: much faster, same value when they fit
            value = f"coalesce(TRY_CAST(trim({alias}) AS DECIMAL(18, 12)), {value})"
        self.fault(f"nullif(trim({alias}), '') IS NOT NULL AND {value} IS NULL", target, "not a number")
        if cast == "DOUBLE":
            self.fault(f"NOT isfinite({value})", target, "not a finite number")
        if target != "x_QualityScore":
            self.fault(f"{value} < 0", target, "negative value")
        return value

    def status(self) -> str:
        rule, tests = self.m.status, []
        if rule.get("column"):
            value = f"lower(trim({self.alias[rule['column']]}))"
            if rule.get("success_values"):
                listed = ", ".join(quote(v) for v in rule["success_values"])
                tests.append(f"(nullif({value}, '') IS NOT NULL AND NOT list_contains([{listed}], {value}))")
            else:
                listed = ", ".join(quote(v) for v in rule.get("failure_values") or FAILURE_VALUES)
                tests.append(f"list_contains([{listed}], {value})")
        if rule.get("failure_when_zero"):
            tests.append(f"TRY_CAST(trim({self.alias[rule['failure_when_zero']]}) AS DOUBLE) = 0")
        return f"CASE WHEN {' OR '.join(tests)} THEN 'failure' ELSE 'success' END" if tests else "'success'"


def _token_sql(q: _RequestSql) -> tuple[dict[str, str], list[str]]:
    """Return the token column expressions (over the ``n_*`` columns of the parsed CTE) and the extra flags."""
    cache = " + ".join(f"n_{c}" for c in CACHE_COUNTS)
    if q.col("input_tokens") is not None:
        uncached = f"n_input_tokens - ({cache})" if q.m.input_includes_cache else "n_input_tokens"
        q.fault(f"{uncached} < 0", "input_tokens", "smaller than its cache read and write parts")
    else:
        uncached = "n_x_InputUncachedTokens"
    columns = {
        "x_InputUncachedTokens": uncached,
        **{c: f"n_{c}" for c in CACHE_COUNTS},
        "x_OutputTokens": "n_x_OutputTokens",
        "x_OutputReasoningTokens": "least(n_x_OutputReasoningTokens, n_x_OutputTokens)",
    }
    has_input = q.col("input_tokens") or q.col("x_InputUncachedTokens")
    missing = has_input and not any(q.col(c) for c in CACHE_COUNTS)
    return columns, ["'token_subfields_missing'"] if missing else []


def requests_sql(m: Mapping, source: str, present: set[str], path: Path) -> str:
    """Return the streaming SELECT turning ``source`` (all-text columns) into ``requests`` rows.

    Rejected records stay in the result with an ``x_DataQualityFlags`` starting with
    :data:`~finops_lib.sources.REJECT_MARK` (moved to ``rejects`` by :func:`finops_lib.warehouse.loading.settle`).
    """
    q = _RequestSql(m, file_stem(path))
    selected = q.selected(present)
    start, end = q.time("ChargePeriodStart", "t_start"), q.time("ChargePeriodEnd", "t_end")
    counts = {c: q.count(c) for c in COUNTS}
    latency, cost = q.number("x_LatencyMs", "DOUBLE"), q.number("x_ReportedCost", "DECIMAL(38, 12)")
    quality = q.number("x_QualityScore", "DOUBLE")
    if end is not None:
        q.fault("t_end < t_start", "ChargePeriodEnd", "ends before it starts")
    tokens, extra_flags = _token_sql(q)
    raw_model, canon = q.model()
    currency = q.text("BillingCurrency") if q.col("BillingCurrency") else quote(m.currency or "USD")
    if q.col("BillingCurrency"):
        q.fault(
            f"NOT regexp_matches(coalesce({currency}, ''), '^[A-Za-z]{{3}}$')",
            "BillingCurrency",
            "not an ISO 4217 currency code",
        )
    if q.col("x_RequestId"):
        q.fault(f"{q.text('x_RequestId')} IS NULL", "x_RequestId", "missing request id")
    provider = (
        quote(provider_name(m.constants["ProviderName"]) or "Unknown")
        if "ProviderName" in m.constants and not q.col("ProviderName")
        else provider_sql(q.text("ProviderName"), "canon")
    )
    cost_flag = (
        "CASE WHEN x_ReportedCost IS NULL THEN 'reported_cost_missing' END" if q.col("x_ReportedCost") else "NULL"
    )
    flags = ", ".join(["CASE WHEN canon IS NULL THEN 'model_unknown' END", cost_flag, *extra_flags])
    texts = ", ".join(
        f"{q.text(t)} AS {t}"
        for t in (
            "x_RequestId",
            "x_Operation",
            "SubAccountId",
            "x_ApiKeyId",
            "x_UserId",
            "x_Team",
            "x_Application",
            "x_Feature",
            "x_Environment",
            "x_ExperimentId",
            "x_Variant",
            "x_SessionId",
        )
    )
    return f"""
WITH src AS (SELECT {selected} FROM {source}),
parsed AS (
  SELECT *, {start} AS t_start, {end or "NULL::TIMESTAMPTZ"} AS t_end,
    {", ".join(f"{sql} AS n_{name}" for name, sql in counts.items())},
    {latency} AS n_latency, {cost} AS x_ReportedCost, {quality} AS n_quality,
    {raw_model} AS x_ModelRaw, {canon} AS canon
  FROM src
), checked AS (
  SELECT *, {q.fault_case()} AS fault FROM parsed
)
SELECT
  {texts}, t_start AS ChargePeriodStart,
  coalesce(t_end, CASE WHEN n_latency < 1e11 THEN t_start + to_microseconds(TRY_CAST(n_latency * 1000 AS BIGINT))
                  END) AS ChargePeriodEnd,
  {provider} AS ProviderName, canon AS x_Model, x_ModelRaw,
  {_tier(q)} AS x_ServiceTier, {_context(q)} AS x_ContextTier,
  {", ".join(f"{sql} AS {name}" for name, sql in tokens.items())},
  coalesce(n_latency, epoch_ms(t_end) - epoch_ms(t_start)) AS x_LatencyMs, {q.status()} AS x_Status,
  x_ReportedCost, upper({currency}) AS BillingCurrency,
  CASE WHEN n_quality BETWEEN 0 AND 1 THEN n_quality END AS x_QualityScore, {q.tags(present)} AS Tags,
  {quote(m.format)} AS x_SourceFormat, {quote(str(path))} AS x_SourceFile, NULL::BIGINT AS x_SourceRow,
  md5({quote(m.format)} || chr(31) || coalesce({q.text("x_RequestId")}, '')) AS x_RowHash,
  CASE WHEN fault IS NOT NULL THEN '{REJECT_MARK}' || fault ELSE concat_ws(',', {flags}) END AS x_DataQualityFlags
FROM checked
"""


def _tier(q: MappedSql) -> str:
    raw = q.text("x_ServiceTier")
    cases = " ".join(f"WHEN {quote(k)} THEN {quote(v)}" for k, v in TIERS.items())
    return f"CASE lower({raw}) {cases} END"


def _context(q: MappedSql) -> str:
    raw = q.text("x_ContextTier")
    return f"CASE WHEN lower({raw}) IN ('standard', 'long') THEN lower({raw}) END"
