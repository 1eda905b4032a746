"""LiteLLM proxy ``LiteLLM_SpendLogs``: one row per request (CSV dump, plain or gzip, or Parquet).

Read entirely inside the engine (DuckDB SQL), so ten million rows stream without pandas.

Quirks handled here (``reference/formats.md`` section 7):

* Cache and reasoning tokens are not columns: they are inside the ``metadata`` JSON
  (``usage_object.cache_read_input_tokens`` or ``prompt_tokens_details.cached_tokens``,
  ``cache_creation_input_tokens`` with the optional ``cache_creation_token_details`` 5m/1h split,
  ``completion_tokens_details.reasoning_tokens``).
* ``prompt_tokens`` includes cache reads and writes in current LiteLLM versions; when it comes out
  smaller than its cache parts, the row was logged by a version that excluded them, so
  ``prompt_tokens`` is taken as the uncached bucket and the row is flagged
  ``cache_semantics_inferred``.
* ``request_tags`` is a JSON array of strings stored as text; ``key:value`` tags fill the
  team/app/feature/environment/experiment/variant dimensions. ``metadata.spend_logs_metadata``
  carries custom fields (experiment, variant, quality score).
* ``spend`` is a float in USD (rounded to 12 decimal places once, at load).
* Counts may be written as floats (``59200.0``); a fractional or negative count is rejected.
"""

from __future__ import annotations

import csv
import gzip
import re
import uuid
from pathlib import Path

from ibis.backends import BaseBackend

from finops_lib.errors import SourceError
from finops_lib.models import PROVIDERS, canonical_model
from finops_lib.schema import conform
from finops_lib.sources import ReadResult, register_source

FORMAT = "litellm_spend_logs"
REQUIRED = ("request_id", "startTime", "model", "spend", "prompt_tokens", "completion_tokens")
OPTIONAL = ("call_type", "api_key", "total_tokens", "endTime", "request_duration_ms", "model_group",
            "custom_llm_provider", "user", "metadata", "cache_hit", "request_tags", "team_id", "end_user",
            "session_id", "status")
#: metadata paths, in the order of the ``m`` list below.
META_PATHS = (
    "$.usage_object.cache_read_input_tokens",
    "$.usage_object.prompt_tokens_details.cached_tokens",
    "$.usage_object.cache_creation_input_tokens",
    "$.usage_object.cache_creation_token_details.ephemeral_5m_input_tokens",
    "$.usage_object.cache_creation_token_details.ephemeral_1h_input_tokens",
    "$.usage_object.completion_tokens_details.reasoning_tokens",
    "$.user_api_key_alias",
    "$.user_api_key_team_alias",
    "$.spend_logs_metadata",
    "$.user_api_key_user_id",
    "$.service_tier",
)
#: Keys looked for in ``spend_logs_metadata`` and in ``key:value`` request tags, per dimension.
DIMENSION_KEYS = {
    "team": ("team",),
    "app": ("app", "application"),
    "feature": ("feature",),
    "env": ("env", "environment"),
    "experiment": ("experiment_id", "experiment"),
    "variant": ("variant", "experiment_variant"),
}
#: LiteLLM's async call types are the sync names with an ``a`` prefix (``acompletion``).
ASYNC_CALLS = ", ".join(f"'{c}'" for c in ("completion", "embedding", "text_completion", "image_generation",
                                           "transcription", "speech", "moderation", "rerank", "responses"))
_HEADER = re.compile(r"^\ufeff?.*\brequest_id\b.*\bstartTime\b.*$", re.M)


def _detect(path: Path, head: str) -> bool:
    if head.startswith("PAR1"):
        try:
            import pyarrow.parquet as pq

            names = set(pq.read_schema(path).names)
        except Exception:  # not a readable Parquet file: not ours
            return False
        return set(REQUIRED) <= names
    first = head.split("\n", 1)[0]
    return bool(_HEADER.match(first)) and "spend" in first and "prompt_tokens" in first


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _header(path: Path) -> list[str]:
    """Column names from the CSV header line (read directly, so one bad row cannot confuse a sniffer)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
            return next(csv.reader(fh))
    except (OSError, StopIteration, UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(path, f"cannot read the CSV header: {exc}", line=1) from exc


def _source_sql(path: Path, rejects_table: str, scan_table: str) -> tuple[str, set[str]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return f"(SELECT COLUMNS(*)::VARCHAR FROM read_parquet({_quote(str(path))}))", set(pq.read_schema(path).names)
    names = _header(path)
    if len(set(names)) != len(names):
        raise SourceError(path, "the CSV header repeats a column name", line=1)
    columns = ", ".join(f"{_quote(n)}: 'VARCHAR'" for n in names)
    sql = (f"read_csv({_quote(str(path))}, columns = {{{columns}}}, header = true, auto_detect = false, "
           f"delim = ',', quote = '\"', escape = '\"', store_rejects = true, "
           f"rejects_table = {_quote(rejects_table)}, rejects_scan = {_quote(scan_table)})")
    return sql, set(names)


def _tag(key_names: tuple[str, ...]) -> str:
    """SQL for the first ``key:value`` request tag or spend_logs_metadata key among ``key_names``."""
    tag_exprs = [f"list_filter(tags, lambda t: lower(t) LIKE '{k}:%')[1]" for k in key_names]
    tag_value = f"regexp_extract(coalesce({', '.join(tag_exprs)}), ':(.*)$', 1)"
    meta_exprs = [f"json_extract_string(m[9], '$.{k}')" for k in key_names]
    return f"nullif(coalesce({', '.join(meta_exprs)}, nullif({tag_value}, '')), '')"


def _stage_sql(stage: str, source: str, present: set[str]) -> str:
    def col(name: str) -> str:
        return f'"{name}"' if name in present else "NULL::VARCHAR"

    paths = ", ".join(_quote(p) for p in META_PATHS)
    reason = " ".join([
        "CASE",
        "WHEN nullif(trim(request_id), '') IS NULL THEN 'request_id|missing request id'",
        "WHEN t_start IS NULL THEN 'startTime|not an ISO-8601 timestamp'",
        "WHEN nullif(trim(model), '') IS NULL THEN 'model|missing model'",
        "WHEN spend_raw IS NOT NULL AND n_spend IS NULL THEN 'spend|not a number'",
        "WHEN n_spend < 0 THEN 'spend|negative spend'",
        "WHEN n_prompt IS NULL THEN 'prompt_tokens|not a number'",
        "WHEN n_prompt < 0 OR n_prompt <> floor(n_prompt) THEN 'prompt_tokens|not a non-negative integer'",
        "WHEN n_completion IS NULL THEN 'completion_tokens|not a number'",
        "WHEN n_completion < 0 OR n_completion <> floor(n_completion) "
        "THEN 'completion_tokens|not a non-negative integer'",
        "END",
    ])
    return f"""
CREATE TEMP TABLE {stage} AS
WITH src AS (
  SELECT {col('request_id')} AS request_id, {col('startTime')} AS start_raw, {col('endTime')} AS end_raw,
         {col('model')} AS model, {col('spend')} AS spend_raw, {col('prompt_tokens')} AS prompt_raw,
         {col('completion_tokens')} AS completion_raw, {col('request_duration_ms')} AS duration_raw,
         {col('call_type')} AS call_type, {col('api_key')} AS api_key,
         {col('model_group')} AS model_group, {col('custom_llm_provider')} AS provider_raw,
         {col('user')} AS user_raw, {col('end_user')} AS end_user, {col('metadata')} AS metadata,
         {col('request_tags')} AS request_tags, {col('team_id')} AS team_id,
         {col('session_id')} AS session_id, {col('status')} AS status_raw,
         row_number() OVER () AS _ordinal
  FROM {source}
), parsed AS (
  SELECT *,
    TRY_CAST(start_raw AS TIMESTAMPTZ) AS t_start,
    TRY_CAST(end_raw AS TIMESTAMPTZ) AS t_end,
    TRY_CAST(spend_raw AS DOUBLE) AS n_spend,
    TRY_CAST(prompt_raw AS DOUBLE) AS n_prompt,
    TRY_CAST(completion_raw AS DOUBLE) AS n_completion,
    TRY_CAST(duration_raw AS DOUBLE) AS n_duration,
    metadata IS NOT NULL AND NOT coalesce(json_valid(metadata), false) AS meta_bad,
    CASE WHEN json_valid(metadata) THEN json_extract_string(metadata, [{paths}]) END AS m,
    CASE WHEN json_valid(request_tags) THEN json_extract_string(request_tags, '$[*]') END AS tags
  FROM src
), checked AS (
  SELECT *, {reason} AS fault FROM parsed
), buckets AS (
  SELECT *,
    coalesce(TRY_CAST(m[1] AS BIGINT), TRY_CAST(m[2] AS BIGINT), 0) AS b_read,
    m[4] IS NOT NULL OR m[5] IS NOT NULL AS has_ttl,
    CASE WHEN m[4] IS NOT NULL OR m[5] IS NOT NULL
         THEN coalesce(TRY_CAST(m[4] AS BIGINT), 0)
         ELSE coalesce(TRY_CAST(m[3] AS BIGINT), 0) END AS b_w5m,
    coalesce(TRY_CAST(m[5] AS BIGINT), 0) AS b_w1h,
    TRY_CAST(m[6] AS BIGINT) AS b_reasoning
  FROM checked
)
SELECT
  _ordinal, fault, request_id, start_raw, spend_raw, prompt_raw, completion_raw, model,
  t_start, t_end, model_group, provider_raw, call_type,
  CAST(n_prompt AS BIGINT) - b_read - b_w5m - b_w1h < 0 AS semantics_old,
  CASE WHEN CAST(n_prompt AS BIGINT) - b_read - b_w5m - b_w1h < 0 THEN CAST(n_prompt AS BIGINT)
       ELSE CAST(n_prompt AS BIGINT) - b_read - b_w5m - b_w1h END AS b_uncached,
  b_read, b_w5m, b_w1h, CAST(n_completion AS BIGINT) AS b_output,
  least(b_reasoning, CAST(n_completion AS BIGINT)) AS b_reasoning,
  coalesce(n_duration, epoch_ms(t_end) - epoch_ms(t_start)) AS latency_ms,
  CASE WHEN lower(status_raw) IN ('failure', 'failed', 'error') THEN 'failure' ELSE 'success' END AS status,
  n_spend, meta_bad, NOT has_ttl AND b_w5m > 0 AS ttl_assumed,
  nullif(api_key, '') AS api_key,
  coalesce(nullif(end_user, ''), nullif(user_raw, ''), nullif(m[10], '')) AS user_id,
  coalesce({_tag(DIMENSION_KEYS['team'])}, nullif(m[8], ''), nullif(team_id, '')) AS team,
  {_tag(DIMENSION_KEYS['app'])} AS app,
  {_tag(DIMENSION_KEYS['feature'])} AS feature,
  {_tag(DIMENSION_KEYS['env'])} AS env,
  {_tag(DIMENSION_KEYS['experiment'])} AS experiment,
  {_tag(DIMENSION_KEYS['variant'])} AS variant,
  TRY_CAST(json_extract_string(m[9], '$.quality_score') AS DOUBLE) AS quality,
  nullif(session_id, '') AS session_id,
  lower(m[11]) AS tier_raw,
  json_object('request_tags', tags, 'key_alias', m[7], 'team_alias', m[8], 'team_id', nullif(team_id, ''),
              'model_group', model_group, 'spend_logs_metadata', json(m[9])) AS tags_json,
  sha1(concat_ws(chr(31), '{FORMAT}', request_id)) AS row_hash,
  false AS duplicated
FROM buckets
"""


def _model_map_sql(con: BaseBackend, stage: str) -> str:
    pairs = con.con.execute(f"SELECT DISTINCT model, provider_raw FROM {stage} WHERE fault IS NULL").fetchall()
    rows = []
    for model, provider in pairs:
        canon = canonical_model(model)
        prov = PROVIDERS.get((provider or "").lower()) or _provider_from_model(canon) or (provider or "Unknown")
        rows.append(f"({_quote(model)}, {_quote(provider or '')}, {_quote(canon or '')}, {_quote(prov)})")
    if not rows:
        rows.append("(NULL, NULL, NULL, NULL)")
    return f"(VALUES {', '.join(rows)}) AS mm(model, provider_raw, canon, provider)"


def _provider_from_model(model: str | None) -> str | None:
    if model is None:
        return None
    for prefix, name in (("gpt", "OpenAI"), ("o1", "OpenAI"), ("o3", "OpenAI"), ("o4", "OpenAI"),
                         ("text-embedding", "OpenAI"), ("claude", "Anthropic"), ("gemini", "Google")):
        if model.startswith(prefix):
            return name
    return None


def _requests_sql(stage: str, model_map: str, line: str, path: str) -> str:
    flags = ("concat_ws(',', CASE WHEN s.semantics_old THEN 'cache_semantics_inferred' END, "
             "CASE WHEN s.ttl_assumed THEN 'cache_ttl_assumed' END, "
             "CASE WHEN s.n_spend IS NULL THEN 'reported_cost_missing' END, "
             "CASE WHEN s.meta_bad THEN 'token_subfields_missing' END)")
    return f"""
SELECT s.request_id AS x_RequestId, s.t_start AS ChargePeriodStart, s.t_end AS ChargePeriodEnd,
  mm.provider AS ProviderName, nullif(mm.canon, '') AS x_Model, s.model AS x_ModelRaw,
  CASE WHEN substr(lower(s.call_type), 2) IN ({ASYNC_CALLS}) THEN substr(lower(s.call_type), 2)
       ELSE lower(s.call_type) END AS x_Operation,
  CASE WHEN s.tier_raw IN ('batch', 'priority', 'flex') THEN s.tier_raw
       WHEN s.tier_raw = 'scale' THEN 'provisioned' ELSE 'standard' END AS x_ServiceTier,
  s.b_uncached AS x_InputUncachedTokens, s.b_read AS x_InputCacheReadTokens,
  s.b_w5m AS x_InputCacheWrite5mTokens, s.b_w1h AS x_InputCacheWrite1hTokens,
  s.b_output AS x_OutputTokens, s.b_reasoning AS x_OutputReasoningTokens,
  s.latency_ms AS x_LatencyMs, s.status AS x_Status,
  CAST(round(s.n_spend, 12) AS DECIMAL(38, 12)) AS x_ReportedCost, 'USD' AS BillingCurrency,
  s.api_key AS x_ApiKeyId, s.user_id AS x_UserId, s.team AS x_Team, s.app AS x_Application,
  s.feature AS x_Feature, s.env AS x_Environment, s.experiment AS x_ExperimentId, s.variant AS x_Variant,
  s.quality AS x_QualityScore, s.session_id AS x_SessionId, s.tags_json AS Tags,
  '{FORMAT}' AS x_SourceFormat, {_quote(path)} AS x_SourceFile, {line} AS x_SourceRow,
  s.row_hash AS x_RowHash, {flags} AS x_DataQualityFlags
FROM {stage} s LEFT JOIN {model_map} ON s.model IS NOT DISTINCT FROM mm.model
  AND coalesce(s.provider_raw, '') = mm.provider_raw
WHERE s.fault IS NULL AND NOT s.duplicated
"""


def _rejects_sql(stage: str, line: str, path: str, csv_rejects: str | None) -> str:
    value = ("CASE split_part(s.fault, '|', 1) WHEN 'request_id' THEN s.request_id WHEN 'startTime' "
             "THEN s.start_raw WHEN 'model' THEN s.model WHEN 'spend' THEN s.spend_raw WHEN 'prompt_tokens' "
             "THEN s.prompt_raw WHEN 'completion_tokens' THEN s.completion_raw END")
    sql = f"""
SELECT '{FORMAT}' AS x_SourceFormat, {_quote(path)} AS x_SourceFile, {line} AS x_SourceRow,
  NULL AS x_SourceLocator,
  CASE WHEN s.duplicated THEN 'request_id' ELSE split_part(s.fault, '|', 1) END AS x_Column,
  left(CASE WHEN s.duplicated THEN s.request_id ELSE {value} END, 200) AS x_Value,
  CASE WHEN s.duplicated THEN 'duplicate request_id within the file (first occurrence kept)'
       ELSE split_part(s.fault, '|', 2) END AS x_Reason,
  'requests' AS x_TargetTable
FROM {stage} s WHERE s.fault IS NOT NULL OR s.duplicated
"""
    if csv_rejects:
        sql += f"""
UNION ALL
SELECT '{FORMAT}', {_quote(path)}, CAST(line AS BIGINT), NULL,
  CASE WHEN error_type IN ('MISSING COLUMNS', 'TOO MANY COLUMNS') THEN 'record' ELSE coalesce(column_name, 'record') END,
  left(csv_line, 200), lower(error_type) || ': ' || error_message, 'requests'
FROM {csv_rejects}
"""
    return sql


@register_source(FORMAT, table="requests", detect=_detect,
                 description="LiteLLM proxy LiteLLM_SpendLogs dump (CSV, CSV.gz or Parquet): one row per request")
def read(path: Path, con: BaseBackend) -> ReadResult:
    """Read a LiteLLM SpendLogs file into ``requests`` rows and rejects, inside the engine.

    Parameters
    ----------
    path
        CSV (optionally gzip) or Parquet dump of ``LiteLLM_SpendLogs``.
    con
        A DuckDB-backed ibis connection; the file is staged in a temporary table there.

    Returns
    -------
    ReadResult
        Expressions over the staged table; ``rows_read`` counts parsed and malformed records.

    Raises
    ------
    SourceError
        When the file is not readable as a table or lacks a required column.
    """
    path = Path(path)
    token = uuid.uuid4().hex[:12]
    stage, rej, scan = f"_litellm_stage_{token}", f"_litellm_rej_{token}", f"_litellm_scan_{token}"
    source, present = _source_sql(path, rej, scan)
    missing = [c for c in REQUIRED if c not in present]
    if missing:
        raise SourceError(path, f"required LiteLLM column(s) missing: {', '.join(missing)}", column=missing[0])
    con.con.execute(_stage_sql(stage, source, present))
    csv_rejects = None
    if path.suffix != ".parquet":
        csv_rejects = f"_litellm_csvrej_{token}"
        con.con.execute(f"CREATE TEMP TABLE {csv_rejects} AS SELECT line, min(column_name) AS column_name, "
                        f"first(csv_line) AS csv_line, first(error_type) AS error_type, "
                        f"first(error_message) || CASE WHEN count(*) > 1 THEN ' (' || count(*) || ' faults on "
                        f"this line)' ELSE '' END AS error_message FROM {rej} GROUP BY line")
        con.con.execute(f"DROP TABLE IF EXISTS {rej}; DROP TABLE IF EXISTS {scan}")
    _mark_duplicates(con, stage)
    line = _line_sql(con, csv_rejects)
    shown = str(path)
    requests = conform(con.sql(_requests_sql(stage, _model_map_sql(con, stage), line, shown)), "requests")
    rejects = conform(con.sql(_rejects_sql(stage, line, shown, csv_rejects)), "rejects")
    parsed = con.con.execute(f"SELECT count(*) FROM {stage}").fetchone()[0]
    malformed = con.con.execute(f"SELECT count(*) FROM {csv_rejects}").fetchone()[0] if csv_rejects else 0
    return ReadResult(FORMAT, shown, None, requests, rejects, int(parsed + malformed))


def _mark_duplicates(con: BaseBackend, stage: str) -> None:
    """Mark every later occurrence of a request id as a duplicate (the first one is kept)."""
    extra = con.con.execute(
        f"SELECT count(*) - count(DISTINCT request_id) FROM {stage} WHERE fault IS NULL").fetchone()[0]
    if extra:
        con.con.execute(f"""UPDATE {stage} SET duplicated = true FROM (
            SELECT _ordinal, row_number() OVER (PARTITION BY request_id ORDER BY _ordinal) AS n
            FROM {stage} WHERE fault IS NULL) r WHERE {stage}._ordinal = r._ordinal AND r.n > 1""")


def _line_sql(con: BaseBackend, csv_rejects: str | None) -> str:
    """SQL giving a parsed record's line (1 = header), skipping lines the CSV reader rejected."""
    if not csv_rejects or not con.con.execute(f"SELECT count(*) FROM {csv_rejects}").fetchone()[0]:
        return "(s._ordinal + 1)"
    thresholds = con.con.execute(
        f"SELECT line - row_number() OVER (ORDER BY line) FROM (SELECT DISTINCT line FROM {csv_rejects})"
    ).fetchall()
    terms = " + ".join(f"(s._ordinal >= {int(t[0])})::INT" for t in thresholds)
    return f"(s._ordinal + 1 + {terms})"
