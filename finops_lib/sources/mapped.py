"""Generic CSV or Parquet request logs described by a small YAML mapping (``mapped:<name>`` formats).

A mapping says which source column fills which ``requests`` field, how times are written, what
the input-token column means, and which header columns identify the file. Each mapping registers
a source format ``mapped:<name>``; the shipped ones (``finops_lib/sources/mappings/*.yaml``) are
registered at import, user mappings with :func:`register_mapping` or through the environment
variable ``FINOPS_MAPPINGS`` (files or folders, separated by ``os.pathsep``). Files are read
inside the engine (DuckDB SQL, one streaming pass), so a multi-million-row trace never goes
through pandas.

Mapping keys (``mappings/burstgpt.yaml`` is a commented example)::

    name: my_gateway                 # format name: mapped:my_gateway  (required)
    description: one line            # shown by `finops formats`
    table: requests                  # the only table mappings fill for now
    match: [ts, model, in_tok]       # header columns that identify the file (no match: never detected)
    columns:                         # source column -> requests field (required)
      ts: ChargePeriodStart          # required; also ChargePeriodEnd
      model: x_ModelRaw              # canonicalized into x_Model (see models:)
      in_tok: input_tokens           # all input tokens (see tokens:), or x_InputUncachedTokens
      out_tok: x_OutputTokens        # also x_InputCacheReadTokens, x_InputCacheWrite5mTokens/1hTokens,
                                     # x_OutputReasoningTokens, x_RequestId, x_LatencyMs (ms),
                                     # x_ReportedCost, BillingCurrency, ProviderName, x_Team, ...
    time: {format: iso, timezone: UTC}   # iso | unix_s | unix_ms | unix_us | unix_ns | a strftime
                                         # pattern; epoch: (for unix_*) the instant of value 0
    tokens: {input_includes_cache: true} # input_tokens counts cache reads and writes (default)
    constants: {ProviderName: OpenAI}    # fixed values ("{stem}" = the file's name without suffixes)
    models: {ChatGPT: gpt-3.5-turbo}     # source model value -> model id
    status: {column: outcome, failure_values: [error], failure_when_zero: out_tok}
    tags: [region]                       # columns copied into Tags (absent ones are skipped)
    currency: USD

Quirks handled here: every mapping problem is a :class:`~finops_lib.errors.SourceError` naming the
mapping file and the line of the offending key (YAML node marks). A record whose time, token count,
cost or latency cannot be read is rejected with its line, source column, value and reason. Rows
without a request id column get ``<file stem>:<line>`` (line = record number + 1, the header being
line 1), so re-ingesting the same file, from any folder, replaces its rows instead of adding them.
Input tokens without cache columns are flagged ``token_subfields_missing`` (the cache split is unknown).
"""

from __future__ import annotations

import csv
import os
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import ibis
from ibis.backends import BaseBackend

from finops_lib.errors import FinopsError, SourceError
from finops_lib.models import canonical_model_sql, provider_name, provider_sql
from finops_lib.registry import Registry
from finops_lib.sources import REJECT_MARK, SOURCES, Detector, Reader, ReadResult, parquet_columns, register_source
from finops_lib.sources._common import window_bounds, window_text
from finops_lib.sources._csv import read_csv_sql, stage_numbered
from finops_lib.sources._mapping_yaml import COUNTS, Mapping, load_mapping
from finops_lib.sources._sql import ident, quote

MAPPINGS_DIR = Path(__file__).parent / "mappings"
ENV_VAR = "FINOPS_MAPPINGS"
#: Unix time formats (:data:`~finops_lib.sources._mapping_yaml.UNIX_TIMES`) and the SQL giving their exact
#: microseconds from text: the number is read as a DECIMAL with the scale that makes its digits, dot removed,
#: the microseconds (fast INT64 decimals; wide DECIMAL(38) arithmetic is two orders of magnitude slower on
#: millions of rows).
TIME_FORMATS = {
    "unix_s": "TRY_CAST(replace(CAST(TRY_CAST({v} AS DECIMAL(18, 6)) AS VARCHAR), '.', '') AS BIGINT)",
    "unix_ms": "TRY_CAST(replace(CAST(TRY_CAST({v} AS DECIMAL(18, 3)) AS VARCHAR), '.', '') AS BIGINT)",
    "unix_us": "TRY_CAST(TRY_CAST({v} AS DECIMAL(18, 0)) AS BIGINT)",
    "unix_ns": "TRY_CAST({v} AS BIGINT) // 1000",
}
PRIMARY_COUNTS = ("input_tokens", "x_InputUncachedTokens", "x_OutputTokens")
CACHE_COUNTS = ("x_InputCacheReadTokens", "x_InputCacheWrite5mTokens", "x_InputCacheWrite1hTokens")
FAILURE_VALUES = ("failure", "failed", "fail", "error", "false")
TIERS = {"default": "standard", "auto": "standard", "standard": "standard", "flex": "flex", "priority": "priority",
         "scale": "provisioned", "provisioned": "provisioned", "batch": "batch"}
#: Microseconds either side of the epoch a Unix time may lie (about 317 years): farther is a bad value.
_MAX_MICROS = 10**16
_TIME_PART = r"[0-9]:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?\s*(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$"


# --- SQL: raw columns -> requests rows ----------------------------------------------------------


class _Sql:
    """Builds the one streaming SELECT of a mapping over a source whose columns are all text."""

    def __init__(self, m: Mapping, stem: str) -> None:
        self.m, self.stem = m, stem
        used = [*m.required_columns(), *m.tags]
        self.alias = {col: f"c{i}" for i, col in enumerate(dict.fromkeys(used))}
        self.faults: list[tuple[str, str, str, str]] = []  # (condition, source column, reason, value SQL)

    def col(self, target: str) -> str | None:
        source = self.m.source(target)
        return None if source is None else self.alias[source]

    def text(self, target: str) -> str:
        alias = self.col(target)
        if alias is not None:
            return f"nullif(trim({alias}), '')"
        value = self.m.constants.get(target)
        return "NULL::VARCHAR" if value is None else quote(value.replace("{stem}", self.stem))

    def time(self, target: str, column: str) -> str | None:
        """Return the SQL of a time field (faults refer to ``column``, its name in the parsed CTE)."""
        alias = self.col(target)
        if alias is None:
            return None
        v, fmt, tz = f"trim({alias})", self.m.time_format, quote(self.m.timezone)
        if fmt == "iso":
            sql = (f"CASE WHEN regexp_matches({v}, {quote(_TIME_PART)}) THEN TRY_CAST({v} AS TIMESTAMPTZ) "
                   f"ELSE timezone({tz}, TRY_CAST({v} AS TIMESTAMP)) END")
        elif fmt in TIME_FORMATS:
            micros = TIME_FORMATS[fmt].format(v=v)
            epoch = (self.m.epoch - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
            sql = (f"CASE WHEN abs({micros}) < {_MAX_MICROS} THEN timezone('UTC', make_timestamp({epoch} + {micros})) "
                   "END")
        elif "%z" in fmt or "%Z" in fmt:
            sql = f"try_strptime({v}, {quote(fmt)})::TIMESTAMPTZ"
        else:
            sql = f"timezone({tz}, try_strptime({v}, {quote(fmt)}))"
        what = "an ISO-8601 time" if fmt == "iso" else f"a {fmt} time" if fmt in TIME_FORMATS else f"a {fmt!r} time"
        if target == "ChargePeriodStart":
            self.fault(f"nullif({v}, '') IS NULL", target, "missing time")
        if fmt in TIME_FORMATS:  # a number too far from the epoch to be a time: outside the window
            self.fault(f"{column} IS NULL AND isfinite(TRY_CAST({v} AS DOUBLE))", target, window_text())
        self.fault(f"{column} IS NULL AND nullif({v}, '') IS NOT NULL", target, f"not {what}")
        start, end = window_bounds()
        self.fault(f"NOT ({column} >= '{start:%Y-%m-%d} 00:00:00+00' AND {column} < '{end:%Y-%m-%d} 00:00:00+00')",
                   target, window_text())
        return sql

    def fault(self, condition: str, target: str, reason: str) -> None:
        source = self.m.source(target)
        self.faults.append((condition, source or target, reason, self.alias.get(source, "NULL") if source else "NULL"))

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

    def model(self) -> tuple[str, str]:
        raw = self.text("x_ModelRaw") if (self.col("x_ModelRaw") or "x_ModelRaw" in self.m.constants) \
            else self.text("x_Model")
        if self.m.models:
            cases = " ".join(f"WHEN {quote(k)} THEN {quote(v)}" for k, v in self.m.models.items())
            return raw, canonical_model_sql(f"CASE {raw} {cases} ELSE {raw} END")
        return raw, canonical_model_sql(raw)

    def tags(self, present: set[str]) -> str:
        pairs = [f"{quote(t)}, {self.alias[t]}" for t in self.m.tags if t in present]
        return f"json_object({', '.join(pairs)})" if pairs else "NULL::VARCHAR"


def _token_sql(q: _Sql) -> tuple[dict[str, str], list[str]]:
    """Return the token column expressions (over the ``n_*`` columns of the parsed CTE) and the extra flags."""
    cache = " + ".join(f"n_{c}" for c in CACHE_COUNTS)
    if q.col("input_tokens") is not None:
        uncached = f"n_input_tokens - ({cache})" if q.m.input_includes_cache else "n_input_tokens"
        q.fault(f"{uncached} < 0", "input_tokens", "smaller than its cache read and write parts")
    else:
        uncached = "n_x_InputUncachedTokens"
    columns = {"x_InputUncachedTokens": uncached, **{c: f"n_{c}" for c in CACHE_COUNTS},
               "x_OutputTokens": "n_x_OutputTokens",
               "x_OutputReasoningTokens": "least(n_x_OutputReasoningTokens, n_x_OutputTokens)"}
    has_input = q.col("input_tokens") or q.col("x_InputUncachedTokens")
    missing = has_input and not any(q.col(c) for c in CACHE_COUNTS)
    return columns, ["'token_subfields_missing'"] if missing else []


def select_sql(m: Mapping, source: str, present: set[str], path: Path) -> str:
    """Return the streaming SELECT turning ``source`` (all-text columns) into ``requests`` rows.

    Rejected records stay in the result with an ``x_DataQualityFlags`` starting with
    :data:`~finops_lib.sources.REJECT_MARK` (moved to ``rejects`` by :func:`finops_lib.warehouse.loading.settle`).
    """
    q = _Sql(m, _stem(path))
    selected = ", ".join(f"{ident(src)} AS {a}" if src in present else f"NULL::VARCHAR AS {a}"
                         for src, a in q.alias.items())
    start, end = q.time("ChargePeriodStart", "t_start"), q.time("ChargePeriodEnd", "t_end")
    counts = {c: q.count(c) for c in COUNTS}
    latency, cost = q.number("x_LatencyMs", "DOUBLE"), q.number("x_ReportedCost", "DECIMAL(38, 12)")
    quality = q.number("x_QualityScore", "DOUBLE")
    if end is not None:
        q.fault("t_end < t_start", "ChargePeriodEnd", "ends before it starts")
    tokens, extra_flags = _token_sql(q)
    raw_model, canon = q.model()
    currency = q.text("BillingCurrency") if q.col("BillingCurrency") else quote(m.currency)
    if q.col("BillingCurrency"):
        q.fault(f"NOT regexp_matches(coalesce({currency}, ''), '^[A-Za-z]{{3}}$')", "BillingCurrency",
                "not an ISO 4217 currency code")
    if q.col("x_RequestId"):
        q.fault(f"{q.text('x_RequestId')} IS NULL", "x_RequestId", "missing request id")
    provider = (quote(provider_name(m.constants["ProviderName"]) or "Unknown") if "ProviderName" in m.constants
                and not q.col("ProviderName") else provider_sql(q.text("ProviderName"), "canon"))
    fault = " ".join(f"WHEN {cond} THEN {quote(src)} || chr(31) || {quote(reason)} || chr(31) || "
                     f"coalesce(left({value}, 200), '')" for cond, src, reason, value in q.faults)
    cost_flag = "CASE WHEN x_ReportedCost IS NULL THEN 'reported_cost_missing' END" if q.col("x_ReportedCost") \
        else "NULL"
    flags = ", ".join(["CASE WHEN canon IS NULL THEN 'model_unknown' END", cost_flag, *extra_flags])
    texts = ", ".join(f"{q.text(t)} AS {t}" for t in ("x_RequestId", "x_Operation", "SubAccountId", "x_ApiKeyId",
                      "x_UserId", "x_Team", "x_Application", "x_Feature", "x_Environment", "x_ExperimentId",
                      "x_Variant", "x_SessionId"))
    return f"""
WITH src AS (SELECT {selected} FROM {source}),
parsed AS (
  SELECT *, {start} AS t_start, {end or 'NULL::TIMESTAMPTZ'} AS t_end,
    {', '.join(f'{sql} AS n_{name}' for name, sql in counts.items())},
    {latency} AS n_latency, {cost} AS x_ReportedCost, {quality} AS n_quality,
    {raw_model} AS x_ModelRaw, {canon} AS canon
  FROM src
), checked AS (
  SELECT *, CASE {fault} END AS fault FROM parsed
)
SELECT
  {texts}, t_start AS ChargePeriodStart,
  coalesce(t_end, CASE WHEN n_latency < 1e11 THEN t_start + to_microseconds(TRY_CAST(n_latency * 1000 AS BIGINT))
                  END) AS ChargePeriodEnd,
  {provider} AS ProviderName, canon AS x_Model, x_ModelRaw,
  {_tier(q)} AS x_ServiceTier, {_context(q)} AS x_ContextTier,
  {', '.join(f'{sql} AS {name}' for name, sql in tokens.items())},
  coalesce(n_latency, epoch_ms(t_end) - epoch_ms(t_start)) AS x_LatencyMs, {q.status()} AS x_Status,
  x_ReportedCost, upper({currency}) AS BillingCurrency,
  CASE WHEN n_quality BETWEEN 0 AND 1 THEN n_quality END AS x_QualityScore, {q.tags(present)} AS Tags,
  {quote(m.format)} AS x_SourceFormat, {quote(str(path))} AS x_SourceFile, NULL::BIGINT AS x_SourceRow,
  md5({quote(m.format)} || chr(31) || coalesce({q.text('x_RequestId')}, '')) AS x_RowHash,
  CASE WHEN fault IS NOT NULL THEN '{REJECT_MARK}' || fault ELSE concat_ws(',', {flags}) END AS x_DataQualityFlags
FROM checked
"""


def _tier(q: _Sql) -> str:
    raw = q.text("x_ServiceTier")
    cases = " ".join(f"WHEN {quote(k)} THEN {quote(v)}" for k, v in TIERS.items())
    return f"CASE lower({raw}) {cases} END"


def _context(q: _Sql) -> str:
    raw = q.text("x_ContextTier")
    return f"CASE WHEN lower({raw}) IN ('standard', 'long') THEN lower({raw}) END"


def _stem(path: Path) -> str:
    name = path.name.removesuffix(".gz")
    return name.rsplit(".", 1)[0] if "." in name else name


# --- registration -------------------------------------------------------------------------------

#: Registered mappings by format name.
MAPPINGS: Registry[Mapping] = Registry("column mapping")


def _header_names(path: Path, head: str) -> set[str]:
    if head.startswith("PAR1"):
        return set(parquet_columns(path) or ())
    try:
        return {n.strip() for n in next(csv.reader([head.split("\n", 1)[0].lstrip("\ufeff").rstrip("\r")]))}
    except (csv.Error, StopIteration):
        return set()


def _detector(m: Mapping) -> Detector:
    def detect(path: Path, head: str) -> bool:
        return bool(m.match) and set(m.match) <= _header_names(path, head)

    return detect


def _open_source(path: Path) -> tuple[str, set[str], str | None]:
    """Return (table-function SQL with every column as text, column names, CSV reject table)."""
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq

            names = set(pq.read_schema(path).names)
        except Exception as exc:  # pyarrow raises several types for unreadable files
            raise SourceError(path, f"not a readable Parquet file: {exc}") from exc
        return f"(SELECT COLUMNS(*)::VARCHAR FROM read_parquet({quote(str(path))}))", names, None
    sql, names, rejects = read_csv_sql(path)
    return sql, set(names), rejects


def _reader(m: Mapping) -> Reader:
    def read(path: Path, con: BaseBackend) -> ReadResult:
        path = Path(path)
        source, present, csv_rejects = _open_source(path)
        missing = [c for c in m.required_columns() if c not in present]
        if missing:
            raise SourceError(path, f"column(s) of mapping {m.name!r} missing: {', '.join(missing)}",
                              column=missing[0])
        try:
            rows = stage_numbered(con, select_sql(m, source, present, path), "requests")
        except duckdb.Error as exc:
            raise SourceError(path, f"cannot read the file with mapping {m.name!r}: {exc}") from exc
        if m.source("x_RequestId") is None:  # file-stable id: stem and line
            request_id = ibis.literal(_stem(path) + ":") + rows.x_SourceRow.cast("string")
            rows = rows.mutate(x_RequestId=request_id,
                               x_RowHash=(ibis.literal(m.format + "\x1f") + request_id).hexdigest("md5"))
        return ReadResult(m.format, str(path), None, rows, None, None, inline_rejects=True, csv_rejects=csv_rejects)

    read.__doc__ = f"Read a file with the {m.name!r} mapping ({m.path})."
    return read


def register_mapping(path: str | Path) -> str:
    """Validate a YAML mapping and register its source format.

    Parameters
    ----------
    path
        The mapping file (see the module docstring for its keys).

    Returns
    -------
    str
        The registered format name, ``mapped:<name>``.

    Raises
    ------
    SourceError
        When the mapping is invalid (naming its line), or its name is taken by another file.

    Examples
    --------
    >>> register_mapping(MAPPINGS_DIR / "burstgpt.yaml")
    'mapped:burstgpt'
    """
    m = load_mapping(path)
    known = MAPPINGS.get(m.format)
    if (known is not None and known.path.resolve() != m.path.resolve()) or (known is None and m.format in SOURCES):
        raise SourceError(m.path, f"format {m.format!r} is already registered"
                          + (f" from {known.path}" if known else ""), column="name")
    # The request id column, or the file stem and line where the mapping has none, identifies a record: a line id.
    line_id = "request id" if m.source("x_RequestId") is not None else "file stem and line"
    register_source(m.format, table="requests", description=m.description, detect=_detector(m),
                    line_id=line_id)(_reader(m))  # fmt: skip
    MAPPINGS[m.format] = m
    return m.format


def _mapping_files(entry: str) -> list[Path]:
    place = Path(entry).expanduser()
    if place.is_dir():
        return sorted(p for p in place.iterdir() if p.suffix in (".yaml", ".yml"))
    return [place]


def _register_defaults() -> None:
    """Register the shipped mappings, then those named by ``$FINOPS_MAPPINGS`` (a bad one only warns)."""
    for path in _mapping_files(str(MAPPINGS_DIR)):
        register_mapping(path)
    for entry in filter(None, os.environ.get(ENV_VAR, "").split(os.pathsep)):
        for path in _mapping_files(entry):
            try:
                register_mapping(path)
            except FinopsError as exc:
                warnings.warn(f"{ENV_VAR}: mapping not registered: {exc}", stacklevel=2)


_register_defaults()
