"""LiteLLM proxy ``LiteLLM_SpendLogs``: one row per request, from a dump or from LiteLLM's JSON outputs.

Containers read (detected by content): a CSV dump, plain or gzip, or Parquet, read entirely inside the
engine (DuckDB SQL), so ten million rows stream without pandas; and the same rows as JSON: the proxy's
``GET /spend/logs`` array, the ``/spend/logs/v2`` (and ``/ui``) page ``{"data", "total", "page",
"page_size", "total_pages"}``, JSON lines, and a single object (the GCS/S3 bucket and Pub/Sub loggers, which
may write LiteLLM's ``StandardLoggingPayload`` instead: mapped to the row's names, see
:mod:`finops_lib.sources._litellm_json`), plain or gzip. JSON records are staged as the CSV path's text columns
(objects and arrays as their JSON text) and go through the same SQL, so the same records give the same rows.
``x_SourceRow`` is the CSV line (header = 1), the JSON-lines line, or the ordinal of an array or page element,
and ``x_SourceLocator`` says where a JSON record is (``data[3]``, ``[3]``, ``line 7``, ``$``). A JSON record
lacking a required field (``request_id``, ``startTime``, ``model``, ``spend``, ``prompt_tokens``,
``completion_tokens``; null is not lacking), an element that is not an object and a line that is not JSON
are rejected; a file whose records all lack one fails, naming the first record and the field.

Quirks handled here (``reference/formats.md`` section 7):

* Cache and reasoning tokens are not columns: they are inside the ``metadata`` JSON
  (``usage_object.cache_read_input_tokens`` or ``prompt_tokens_details.cached_tokens``,
  ``cache_creation_input_tokens`` with the optional ``cache_creation_token_details`` 5m/1h split,
  ``completion_tokens_details.reasoning_tokens``).
* ``prompt_tokens`` includes cache reads and writes in current LiteLLM versions; when it comes out
  smaller than its cache parts, the row was logged by a version that excluded them, so
  ``prompt_tokens`` is taken as the uncached bucket and the row is flagged
  ``cache_semantics_inferred``.
* In JSON, ``metadata`` and ``request_tags`` may be real objects and arrays or JSON text, ``startTime``
  ISO-8601 with or without a zone (none: UTC) or Unix seconds (``StandardLoggingPayload``), counts and
  spend integers or floats, and optional fields absent.
* ``request_tags`` is a JSON array of strings stored as text; ``key:value`` tags fill the
  team/app/feature/environment/experiment/variant dimensions. ``metadata.spend_logs_metadata``
  carries custom fields (experiment, variant, quality score).
* ``spend`` is a float in USD (rounded to 12 decimal places once, at load).
* Counts may be written as floats (``59200.0``); a fractional or negative count is rejected.
* ``completion_tokens_details.reasoning_tokens`` absent: the reasoning subset is unknown (null), not all output.
"""

from __future__ import annotations

import json
import re
from functools import partial
from pathlib import Path

import ibis
from ibis.backends import BaseBackend

from finops_lib.engines import workers
from finops_lib.errors import SourceError
from finops_lib.models import canonical_model_sql, provider_sql
from finops_lib.schema import conform, declared_schema
from finops_lib.sources import REJECT_MARK, ReadResult, parquet_columns, read_head, register_source
from finops_lib.sources._common import MAX_COUNT, Fault, records_arrow, records_table
from finops_lib.sources._csv import ordered_rows, read_csv_sql, worker_rejects
from finops_lib.sources._genai import newline_delimited_head
from finops_lib.sources._litellm_json import (
    COLUMNS,
    LOCATOR,
    ROW,
    check_required,
    is_json,
    lines_records,
    stage,
    staged_arrow,
    staged_rows,
)
from finops_lib.sources._sql import NAMES_NOT_FINITE, NOT_FINITE, OUT_OF_RANGE, ident, quote, relation

FORMAT = "litellm_spend_logs"
REQUIRED = ("request_id", "startTime", "model", "spend", "prompt_tokens", "completion_tokens")
#: What is read from ``metadata`` (one JSON parse per row, into a typed struct).
META_SPEC = json.dumps(
    {
        "usage_object": {
            "cache_read_input_tokens": "BIGINT",
            "prompt_tokens_details": {"cached_tokens": "BIGINT"},
            "cache_creation_input_tokens": "BIGINT",
            "cache_creation_token_details": {
                "ephemeral_5m_input_tokens": "BIGINT",
                "ephemeral_1h_input_tokens": "BIGINT",
            },
            "completion_tokens_details": {"reasoning_tokens": "BIGINT"},
        },
        "user_api_key_alias": "VARCHAR",
        "user_api_key_team_alias": "VARCHAR",
        "user_api_key_user_id": "VARCHAR",
        "service_tier": "VARCHAR",
        "spend_logs_metadata": "JSON",
    }
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
CUSTOM_KEYS = [k for keys in DIMENSION_KEYS.values() for k in keys] + ["quality_score"]
#: LiteLLM's async call types are the sync names with an ``a`` prefix (``acompletion``). Tested with
#: ``list_contains``, not ``IN``: DuckDB plans a long ``IN`` list as a join, which may reorder rows.
ASYNC_CALLS = ", ".join(
    f"'{c}'"
    for c in (
        "completion",
        "embedding",
        "text_completion",
        "image_generation",
        "transcription",
        "speech",
        "moderation",
        "rerank",
        "responses",
    )
)
_HEADER = re.compile(r"^\ufeff?.*\brequest_id\b.*\bstartTime\b.*$", re.M)
_JSON_KEY = re.compile(r'"([A-Za-z_]+)"\s*:')


def _detect(path: Path, head: str) -> bool:
    if head.startswith("PAR1"):
        return set(REQUIRED) <= set(parquet_columns(path) or ())
    if is_json(head):
        keys = set(_JSON_KEY.findall(head))
        row = {"request_id", "startTime", "spend", "prompt_tokens"} <= keys and "request_created_at" not in keys
        payload = {"id", "response_cost", "startTime", "prompt_tokens", "model_map_information"} <= keys
        return row or payload
    first = head.split("\n", 1)[0]
    return bool(_HEADER.match(first)) and "spend" in first and "prompt_tokens" in first


def _tag(keys: tuple[str, ...], custom: str) -> str:
    """Return SQL for the first ``spend_logs_metadata`` key, else ``key:value`` request tag, among ``keys``.

    A tag's key is matched whole and without case (``Team:x`` is a team tag; ``experimentXid:x`` is no
    ``experiment_id`` tag), on the tags lower-cased once per row (``tags_lower``) for all six dimensions.
    """
    meta = [f"{custom}[{CUSTOM_KEYS.index(k) + 1}]" for k in keys]
    test = " OR ".join(f"starts_with(t, {quote(k + ':')})" for k in keys)
    first = f"tags[list_position(list_transform(tags_lower, lambda t: {test}), true)]"
    tag = f"nullif(regexp_extract({first}, ':(.*)$', 1), '')"
    return f"nullif(coalesce({', '.join(meta)}, {tag}), '')"


def _count(column: str) -> str:
    """Return a count column as SQL, null where it cannot be cast (the row is rejected; the cast must not fail)."""
    return f"CASE WHEN isfinite({column}) AND {column} BETWEEN 0 AND {MAX_COUNT} THEN {column} END"


def _select_sql(source: str, present: set[str], path: str, *, numbered: bool = False) -> str:
    """One streaming SELECT from the raw text columns to ``requests`` rows (rejects marked inline).

    ``numbered``: the source carries each record's number and locator (staged JSON); otherwise the rows
    are numbered by their position afterwards (CSV, Parquet).
    """

    def col(name: str) -> str:
        return ident(name) if name in present else "NULL::VARCHAR"

    fault = " ".join(
        [
            "CASE",
            "WHEN nullif(trim(request_id), '') IS NULL THEN 'request_id' || chr(31) || 'missing request id'",
            "WHEN t_start IS NULL THEN 'startTime' || chr(31) || 'not an ISO-8601 timestamp'",
            "WHEN nullif(trim(model), '') IS NULL THEN 'model' || chr(31) || 'missing model'",
            "WHEN spend_raw IS NOT NULL AND n_spend IS NULL THEN 'spend' || chr(31) || 'not a number'",
            f"WHEN NOT isfinite(n_spend) AND {NAMES_NOT_FINITE.format('spend_raw')} "
            f"THEN 'spend' || chr(31) || '{NOT_FINITE}'",
            "WHEN n_spend < 0 THEN 'spend' || chr(31) || 'negative spend'",
            f"WHEN NOT isfinite(n_spend) OR n_spend >= 1e26 THEN 'spend' || chr(31) || '{OUT_OF_RANGE}'",
            "WHEN n_prompt IS NULL THEN 'prompt_tokens' || chr(31) || 'not a number'",
            "WHEN n_prompt < 0 OR n_prompt <> floor(n_prompt) "
            "THEN 'prompt_tokens' || chr(31) || 'not a non-negative integer'",
            f"WHEN NOT isfinite(n_prompt) OR n_prompt > {MAX_COUNT} "
            "THEN 'prompt_tokens' || chr(31) || 'implausibly large (not a finite count up to 1e+15)'",
            "WHEN n_completion IS NULL THEN 'completion_tokens' || chr(31) || 'not a number'",
            "WHEN n_completion < 0 OR n_completion <> floor(n_completion) "
            "THEN 'completion_tokens' || chr(31) || 'not a non-negative integer'",
            f"WHEN NOT isfinite(n_completion) OR n_completion > {MAX_COUNT} "
            "THEN 'completion_tokens' || chr(31) || 'implausibly large (not a finite count up to 1e+15)'",
            "END",
        ]
    )
    bad_value = (
        "CASE split_part(fault, chr(31), 1) WHEN 'request_id' THEN request_id WHEN 'startTime' "
        "THEN start_raw WHEN 'model' THEN model WHEN 'spend' THEN spend_raw WHEN 'prompt_tokens' "
        "THEN prompt_raw WHEN 'completion_tokens' THEN completion_raw END"
    )
    flags = (
        "concat_ws(',', CASE WHEN semantics_old THEN 'cache_semantics_inferred' END, "
        "CASE WHEN ttl_assumed THEN 'cache_ttl_assumed' END, "
        "CASE WHEN n_spend IS NULL THEN 'reported_cost_missing' END, "
        "CASE WHEN meta_bad THEN 'token_subfields_missing' END)"
    )
    custom_paths = "[" + ", ".join(quote(f"$.{k}") for k in CUSTOM_KEYS) + "]"
    passed = f", {ROW}, {LOCATOR}" if numbered else ""
    number = f"{ROW} AS x_SourceRow, {LOCATOR} AS x_SourceLocator" if numbered else "NULL::BIGINT AS x_SourceRow"
    return f"""
WITH src AS (
  SELECT {col("request_id")} AS request_id, {col("startTime")} AS start_raw, {col("endTime")} AS end_raw,
         {col("model")} AS model, {col("spend")} AS spend_raw, {col("prompt_tokens")} AS prompt_raw,
         {col("completion_tokens")} AS completion_raw, {col("request_duration_ms")} AS duration_raw,
         {col("call_type")} AS call_type, nullif({col("api_key")}, '') AS api_key,
         {col("model_group")} AS model_group, {col("custom_llm_provider")} AS provider_raw,
         {col("user")} AS user_raw, {col("end_user")} AS end_user, {col("metadata")} AS metadata,
         {col("request_tags")} AS request_tags, nullif({col("team_id")}, '') AS team_id,
         nullif({col("session_id")}, '') AS session_id, {col("status")} AS status_raw{passed}
  FROM {source}
), parsed AS (
  SELECT *,
    TRY_CAST(start_raw AS TIMESTAMPTZ) AS t_start, TRY_CAST(end_raw AS TIMESTAMPTZ) AS t_end,
    TRY_CAST(spend_raw AS DOUBLE) AS n_spend, TRY_CAST(prompt_raw AS DOUBLE) AS n_prompt,
    TRY_CAST(completion_raw AS DOUBLE) AS n_completion, TRY_CAST(duration_raw AS DOUBLE) AS n_duration,
    try(json_transform(metadata, {quote(META_SPEC)})) AS s,
    try(json_extract_string(request_tags, '$[*]')) AS tags
  FROM src
), faults AS (
  SELECT *, {fault} AS fault, metadata IS NOT NULL AND s IS NULL AS meta_bad,
    coalesce(s.usage_object.cache_read_input_tokens, s.usage_object.prompt_tokens_details.cached_tokens, 0)
      AS b_read,
    s.usage_object.cache_creation_token_details IS NOT NULL AS has_ttl,
    coalesce(s.usage_object.cache_creation_token_details.ephemeral_5m_input_tokens,
             CASE WHEN s.usage_object.cache_creation_token_details IS NULL
                  THEN s.usage_object.cache_creation_input_tokens END, 0) AS b_w5m,
    coalesce(s.usage_object.cache_creation_token_details.ephemeral_1h_input_tokens, 0) AS b_w1h,
    CAST({_count("n_prompt")} AS BIGINT) AS prompt, CAST({_count("n_completion")} AS BIGINT) AS completion,
    try(json_extract_string(s.spend_logs_metadata, {custom_paths})) AS custom,
    list_transform(tags, lambda t: lower(t)) AS tags_lower
  FROM parsed
), buckets AS (
  SELECT *, prompt - b_read - b_w5m - b_w1h < 0 AS semantics_old, NOT has_ttl AND b_w5m > 0 AS ttl_assumed,
    {canonical_model_sql("model")} AS canon
  FROM faults
)
SELECT
  request_id AS x_RequestId, t_start AS ChargePeriodStart, t_end AS ChargePeriodEnd,
  {provider_sql("provider_raw", "canon")} AS ProviderName, canon AS x_Model, model AS x_ModelRaw,
  CASE WHEN list_contains([{ASYNC_CALLS}], substr(lower(call_type), 2)) THEN substr(lower(call_type), 2)
       ELSE lower(call_type) END AS x_Operation,
  CASE WHEN lower(s.service_tier) IN ('batch', 'priority', 'flex') THEN lower(s.service_tier)
       WHEN lower(s.service_tier) = 'scale' THEN 'provisioned' ELSE 'standard' END AS x_ServiceTier,
  CASE WHEN semantics_old THEN prompt ELSE prompt - b_read - b_w5m - b_w1h END AS x_InputUncachedTokens,
  b_read AS x_InputCacheReadTokens, b_w5m AS x_InputCacheWrite5mTokens, b_w1h AS x_InputCacheWrite1hTokens,
  completion AS x_OutputTokens,
  CASE WHEN s.usage_object.completion_tokens_details.reasoning_tokens IS NOT NULL
       THEN least(s.usage_object.completion_tokens_details.reasoning_tokens, completion) END AS x_OutputReasoningTokens,
  coalesce(n_duration, epoch_ms(t_end) - epoch_ms(t_start)) AS x_LatencyMs,
  CASE WHEN lower(status_raw) IN ('failure', 'failed', 'error') THEN 'failure' ELSE 'success' END AS x_Status,
  CAST(round(CASE WHEN isfinite(n_spend) AND abs(n_spend) < 1e26 THEN n_spend END, 12) AS DECIMAL(38, 12))
    AS x_ReportedCost, 'USD' AS BillingCurrency,
  api_key AS x_ApiKeyId,
  coalesce(nullif(end_user, ''), nullif(user_raw, ''), nullif(s.user_api_key_user_id, '')) AS x_UserId,
  coalesce({_tag(DIMENSION_KEYS["team"], "custom")}, nullif(s.user_api_key_team_alias, ''), team_id) AS x_Team,
  {_tag(DIMENSION_KEYS["app"], "custom")} AS x_Application,
  {_tag(DIMENSION_KEYS["feature"], "custom")} AS x_Feature,
  {_tag(DIMENSION_KEYS["env"], "custom")} AS x_Environment,
  {_tag(DIMENSION_KEYS["experiment"], "custom")} AS x_ExperimentId,
  {_tag(DIMENSION_KEYS["variant"], "custom")} AS x_Variant,
  TRY_CAST(custom[{len(CUSTOM_KEYS)}] AS DOUBLE) AS x_QualityScore,
  session_id AS x_SessionId,
  json_object('request_tags', tags, 'key_alias', s.user_api_key_alias, 'team_alias', s.user_api_key_team_alias,
              'team_id', team_id, 'model_group', model_group, 'spend_logs_metadata', s.spend_logs_metadata) AS Tags,
  '{FORMAT}' AS x_SourceFormat, {quote(path)} AS x_SourceFile, {number},
  md5('{FORMAT}' || chr(31) || request_id) AS x_RowHash,
  CASE WHEN fault IS NOT NULL THEN '{REJECT_MARK}' || fault || chr(31) || coalesce(left({bad_value}, 200), '')
       ELSE {flags} END AS x_DataQualityFlags
FROM buckets
"""


@register_source(
    FORMAT,
    table="requests",
    detect=_detect,
    line_id="request_id",
    description="LiteLLM proxy LiteLLM_SpendLogs rows: a dump (CSV, CSV.gz or Parquet), the /spend/logs "
    "API (JSON array or v2 page), JSON lines or one JSON object (bucket and Pub/Sub "
    "loggers, StandardLoggingPayload too): one row per request",
)
def read(path: Path, con: BaseBackend) -> ReadResult:
    """Read a LiteLLM spend-log file into ``requests`` rows inside the engine.

    Reads a CSV (optionally gzip) or Parquet dump of ``LiteLLM_SpendLogs`` in one streaming pass, or the
    same rows as JSON (see :mod:`finops_lib.sources._litellm_json`). A reader of
    :data:`finops_lib.sources.SOURCES`: ``read(path, con) -> ReadResult``.
    """
    path = Path(path)
    if path.suffix != ".parquet" and _json_file(path):
        return _read_json(path, con)
    parquet, csv_rejects = path.suffix == ".parquet", None
    if parquet:
        columns = parquet_columns(path)
        if columns is None:
            raise SourceError(path, "not a readable Parquet file")
        source = f"(SELECT COLUMNS(*)::VARCHAR FROM read_parquet({quote(str(path))}))"
    else:
        source, columns, csv_rejects = read_csv_sql(path)
    present = set(columns)
    missing = [c for c in REQUIRED if c not in present]
    if missing:
        raise SourceError(path, f"required LiteLLM column(s) missing: {', '.join(missing)}", column=missing[0])
    notes: tuple[str, ...] = ()
    pool = workers.for_file(path)
    if pool is not None and (parquet or workers.splittable(path)):
        try:
            return (_read_on_workers if parquet else _read_csv_on_workers)(pool, path, con, present)
        except workers.WorkersFailed as exc:
            notes = (f"read on the ingest machine: {exc}",)
    requests = ordered_rows(con, _select_sql(source, present, str(path)), "requests")
    return ReadResult(FORMAT, str(path), None, requests, None, None, inline_rejects=True, csv_rejects=csv_rejects,
                      numbered_from=2, notes=notes)


def _staged_requests(con: BaseBackend, read: workers.RangesRead) -> ibis.Table:
    """Return the rows the workers staged as the reader's ``requests`` (a view of their Parquet files)."""
    return conform(relation(con, f"SELECT * FROM read_parquet({quote(read.rows)})"), "requests")


def _read_on_workers(pool: workers.Workers, path: Path, con: BaseBackend, present: set[str]) -> ReadResult:
    """Read a big Parquet dump with Spark's reader on the offered workers (:mod:`finops_lib.engines.workers`).

    The same SELECT as on the ingest machine, over numbered rows (a record's number is its position + 2, as the
    position-numbered read gives it), so the rows and rejects are the same whichever machine read them. Only the
    columns the SELECT reads are read (not the prompts and responses a dump may hold).

    Raises
    ------
    finops_lib.engines.workers.WorkersFailed
        When Spark cannot read the file; the caller reads it on the ingest machine.
    """
    read = workers.read_parquet(pool, path,
                                lambda source: _select_sql(source, present, str(path), numbered=True),
                                declared_schema("requests").to_pyarrow(), first_row=2, columns=COLUMNS)
    requests = _staged_requests(con, read)
    # The records the file holds (its footer), not what the workers wrote: the load's count check then proves that
    # every record came through Spark's tasks.
    import pyarrow.parquet as pq

    records = pq.ParquetFile(path).metadata.num_rows
    return ReadResult(FORMAT, str(path), None, requests, None, records, inline_rejects=True,
                      notes=(f"read by Spark's Parquet reader on its workers ({read.tasks} tasks)",))


def _csv_scan(piece: Path, *, present: set[str], shown: str) -> tuple[str, str]:
    """Return the reader's scan of a CSV file holding the header and some lines of ``shown`` (on a Spark worker)."""
    source, _names, rejects = read_csv_sql(piece)
    return _select_sql(source, present, shown), rejects


def _read_csv_on_workers(pool: workers.Workers, path: Path, con: BaseBackend, present: set[str]) -> ReadResult:
    """Read a big plain CSV dump in ranges of lines on the offered workers (:func:`workers.read_csv`).

    Each range is parsed by the same ``read_csv`` and SELECT as the whole file on the ingest machine, and its rows
    and rejected lines numbered as there: the rows, rejects and line numbers are the same whichever machine read it.

    Raises
    ------
    finops_lib.engines.workers.WorkersFailed
        When the lines cannot be numbered on the workers; the caller reads the file on the ingest machine.
    """
    read = workers.read_csv(pool, path, partial(_csv_scan, present=present, shown=str(path)),
                            declared_schema("requests").to_pyarrow())
    rejected = worker_rejects(con, read.rejects)
    requests = _staged_requests(con, read)
    return ReadResult(FORMAT, str(path), None, requests, None, read.lines, inline_rejects=True,
                      csv_rejects=rejected, lines_final=True,
                      notes=(f"read in {read.tasks} ranges of lines on Spark's workers",))


def _json_file(path: Path) -> bool:
    """Whether the file holds JSON (by content; an unreadable file is left to the CSV reader's error)."""
    try:
        return is_json(read_head(path, 4096))
    except (OSError, EOFError):
        return False


def _read_json(path: Path, con: BaseBackend) -> ReadResult:
    """Stage the JSON records as the CSV path's text columns, then run the same SELECT on them."""
    notes: tuple[str, ...] = ()
    pool = workers.for_file(path)
    if pool is not None and workers.splittable(path) and newline_delimited_head(path):
        try:
            return _read_lines_on_workers(pool, path, con)
        except workers.WorkersFailed as exc:
            notes = (f"read on the ingest machine: {exc}",)
    table, count, rejects = stage(con, path, REQUIRED, FORMAT)
    requests = conform(relation(con, _select_sql(table, set(COLUMNS), str(path), numbered=True)), "requests")
    return ReadResult(
        FORMAT,
        str(path),
        None,
        requests,
        records_table(rejects, "rejects") if rejects else None,
        count,
        inline_rejects=True,
        notes=notes,
    )


def _lines_staged(numbered: list[tuple[int, bytes]], *, shown: str) -> tuple[object, object, dict]:
    """Stage some numbered lines of a JSON-lines dump as :func:`_read_json` stages the whole file (on a Spark worker).

    Returns the staged rows (Arrow, for the reader's SELECT), the rejects (Arrow, declared ``rejects``) and what the
    whole-file rules need to know (see :func:`_read_lines_on_workers`).
    """
    found, one_each = lines_records(numbered)
    rows, rejects, seen = staged_rows(found, REQUIRED, FORMAT, shown)
    info = {"records": len(found), "one_each": one_each, "seen": sorted(seen),
            "any_record": any(not isinstance(v, Fault) for _, _, v in found),
            "first": list(found[0][:2]) if found else None}
    return staged_arrow(rows), records_arrow(rejects, "rejects"), info


def _read_lines_on_workers(pool: workers.Workers, path: Path, con: BaseBackend) -> ReadResult:
    """Read a big JSON-lines dump in ranges of lines on the offered workers (:func:`workers.read_lines`).

    Each range's lines are parsed and staged as :func:`_read_json` stages the whole file, and run through the same
    SELECT; the whole-file rules are then applied to what the ranges report: a line holding several records (the
    file is then numbered by ordinal: read on the ingest machine), a required field absent from every record (the
    file fails, naming its first record, as on the ingest machine).

    Raises
    ------
    finops_lib.engines.workers.WorkersFailed
        When the file is to be read on the ingest machine instead.
    SourceError
        When no record has a required field.
    """
    read = workers.read_lines(pool, path, partial(_lines_staged, shown=str(path)),
                              _select_sql(workers.BATCH, set(COLUMNS), str(path), numbered=True),
                              declared_schema("requests").to_pyarrow())
    records = sum(i["records"] for i in read.infos)
    if not records:
        raise workers.WorkersFailed("no record found on the workers")
    if not all(i["one_each"] for i in read.infos):
        raise workers.WorkersFailed("a line holds several records, so the file is numbered by record, not by line")
    first = next(tuple(i["first"]) for i in read.infos if i["first"])
    seen = set().union(*(i["seen"] for i in read.infos))
    check_required(path, REQUIRED, seen, any(i["any_record"] for i in read.infos), first)
    rejects = conform(relation(con, f"SELECT * FROM read_parquet({quote(read.rejects)})"), "rejects")
    return ReadResult(FORMAT, str(path), None, _staged_requests(con, read), rejects, records, inline_rejects=True,
                      notes=(f"read in {read.tasks} ranges of lines on Spark's workers",))
