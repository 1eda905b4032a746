"""SQL helpers shared by the cloud billing exports read inside the engine (AWS CUR, Azure cost details).

Both readers stage the raw columns as text (:func:`text_source`, :func:`stage`; a big plain CSV on Spark's workers:
:mod:`finops_lib.sources._worker_stage`), parse money exactly
as DECIMAL (:func:`number_sql`, :func:`money_sql`), look meter and unit strings up once per distinct
value (:func:`meter_table`, :func:`unit_table`), read tags once per distinct text
(:func:`tag_set_sql`), mark rejects inline (:func:`fault_sql`, :func:`flags_sql`), hash natural keys
(:func:`hash_sql`) and declare restated billing periods (:func:`windows_from`).
"""

from __future__ import annotations

import csv
import json
import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from ibis.backends import BaseBackend

from finops_lib import engine
from finops_lib.errors import SourceError
from finops_lib.meters import parse_meter
from finops_lib.schema import CONTEXT_TIERS, DEPLOYMENT_TYPES, SERVICE_TIERS, TOKEN_TYPES
from finops_lib.sources import REJECT_MARK, Window, parquet_columns
from finops_lib.sources._common import AI_CATEGORY, GENAI_SUBCATEGORY
from finops_lib.sources._csv import MISSING, PADDED, execute_scan, json_text_sql, literal_used_sql, read_csv_sql
from finops_lib.sources._sql import ident, quote

AI_SQL = quote(AI_CATEGORY)
GENAI_SQL = quote(GENAI_SUBCATEGORY)
#: Tag keys per dimension (matched case-insensitively after dropping a user:/user_/iamPrincipal/ prefix).
TAG_KEYS = {"x_Team": ("team",), "x_Application": ("app", "application"), "x_Feature": ("feature",),
            "x_Environment": ("env", "environment")}
#: Model-id prefixes -> the model's maker (FOCUS PublisherName).
PUBLISHERS: tuple[tuple[str, str], ...] = (
    ("claude", "Anthropic"), ("llama", "Meta"), ("nova", "Amazon"), ("titan", "Amazon"), ("mistral", "Mistral AI"),
    ("mixtral", "Mistral AI"), ("pixtral", "Mistral AI"), ("ministral", "Mistral AI"), ("codestral", "Mistral AI"),
    ("magistral", "Mistral AI"), ("command", "Cohere"), ("embed", "Cohere"), ("cohere", "Cohere"),
    ("jamba", "AI21 Labs"), ("deepseek", "DeepSeek"), ("qwen", "Alibaba"), ("gpt", "OpenAI"), ("o1", "OpenAI"),
    ("o3", "OpenAI"), ("o4", "OpenAI"), ("text-embedding", "OpenAI"), ("dall-e", "OpenAI"), ("whisper", "OpenAI"),
    ("tts", "OpenAI"), ("sora", "OpenAI"), ("codex", "OpenAI"), ("phi", "Microsoft"), ("grok", "xAI"),
    ("gemini", "Google"), ("gemma", "Google"), ("glm", "Z.ai"), ("kimi", "Moonshot AI"), ("minimax", "MiniMax"),
    ("palmyra", "Writer"), ("stable", "Stability AI"),
)  # fmt: skip
_BLOCK = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(thousand|million|billion|[kmb](?![a-z]))?\s*(.*?)\s*$", re.I)
_MULTIPLIERS = {"k": 10**3, "thousand": 10**3, "m": 10**6, "million": 10**6, "b": 10**9, "billion": 10**9}
_METER_SCHEMA = pa.schema([("k", pa.string()), ("model", pa.string()), ("token_type", pa.string()),
                           ("service_tier", pa.string()), ("context_tier", pa.string()), ("deployment", pa.string()),
                           ("modality", pa.string()), ("region", pa.string()), ("parsed", pa.bool_()),
                           ("publisher", pa.string()), ("details", pa.string())])
_UNIT_SCHEMA = pa.schema([("k", pa.string()), ("block", pa.float64()), ("inv", pa.string()), ("words", pa.string())])


def number_sql(text: str) -> str:
    """Return SQL reading a trimmed text column as DECIMAL(38, 12), rounded half-even; NULL when not a number.

    Exponent notation (``1.2E-5``) is accepted. DuckDB parses text into a 38-digit decimal (and computes
    on it) many times slower than into an 18-digit one, so a value with at most 12 decimals (after the
    exponent) takes an exact 18-digit path; only the rare longer or larger ones are parsed as 38 digits
    and rounded, inside a lambda so that the engine does not hoist that work onto every row.
    """
    mantissa = f"split_part(lower({text}), 'e', 1)"
    decimals = (f"(length({mantissa}) - coalesce(nullif(strpos({mantissa}, '.'), 0), length({mantissa})) "
                f"- coalesce(TRY_CAST(nullif(split_part(lower({text}), 'e', 2), '') AS INTEGER), 0))")
    tiers = " ".join(f"CASE WHEN {decimals} <= {scale} THEN CAST(TRY_CAST({text} AS DECIMAL(18, {scale})) "
                     f"AS DECIMAL(38, 12)) END," for scale in (12, 6, 0))
    return f"coalesce({tiers} list_transform([TRY_CAST({text} AS DECIMAL(38, 18))], lambda d: {money_sql('d')})[1])"


def money_sql(value: str) -> str:
    """Return SQL rounding a DECIMAL half-even to the schema's 12 places (DuckDB's cast rounds half up).

    ``value`` is evaluated several times: give it a column, or an expression that is cheap to repeat.
    """
    trunc = f"({value} - ({value} % 0.000000000001))"
    return (f"CASE WHEN abs({value} - {trunc}) = 0.0000000000005 AND {trunc} % 0.000000000002 = 0 "
            f"THEN CAST({trunc} AS DECIMAL(38, 12)) ELSE CAST({value} AS DECIMAL(38, 12)) END")


def per_block_sql(quantity: str, unit: str) -> str:
    """Return SQL dividing ``quantity`` by the block size of the joined unit row ``unit`` (exact for 10**k)."""
    exact = (f"try(CAST(CAST({quantity} AS DECIMAL(38, 12)) * TRY_CAST({unit}.inv AS DECIMAL(13, 12)) "
             "AS DECIMAL(38, 12)))")
    approx = f"try(CAST(CAST({quantity} AS DOUBLE) / {unit}.block AS DECIMAL(38, 12)))"
    return f"CASE WHEN coalesce({unit}.block, 1) = 1 THEN {quantity} ELSE coalesce({exact}, {approx}) END"


def fault_sql(faults: tuple[tuple[str, str, str], ...], labels: dict[str, str]) -> str:
    """Return SQL giving ``column<US>reason`` of the first (column, condition, reason) that holds, else NULL.

    ``labels`` maps the canonical column names of ``faults`` to the names the file uses (shown in rejects).
    """
    whens = " ".join(f"WHEN {cond} THEN {quote(labels.get(col, col))} || chr(31) || {quote(reason)}"
                     for col, cond, reason in faults)
    return f"CASE {whens} END"


def bad_value_sql(faults: tuple[tuple[str, str, str], ...], labels: dict[str, str]) -> str:
    """Return SQL giving the raw value of the column named in ``fault``, for the reject record."""
    columns = dict.fromkeys(c for c, _, _ in faults)
    whens = " ".join(f"WHEN {quote(labels.get(c, c))} THEN {ident(c)}" for c in columns)
    return f"CASE split_part(fault, chr(31), 1) {whens} END"


def flags_sql(faults: tuple[tuple[str, str, str], ...], labels: dict[str, str], clean: str) -> str:
    """Return SQL for ``x_DataQualityFlags``: the inline reject mark of a faulty row, else ``clean``."""
    return (f"CASE WHEN fault IS NOT NULL THEN '{REJECT_MARK}' || fault || chr(31) || "
            f"coalesce(left({bad_value_sql(faults, labels)}, 200), '') ELSE {clean} END")


def hash_sql(family: str, parts: tuple[str, ...]) -> str:
    """Return SQL computing the MD5 natural key of a row from the given expressions."""
    cols = ", ".join(f"coalesce(CAST({p} AS VARCHAR), '')" for p in parts)
    return f"md5(concat_ws(chr(31), {quote(family)}, {cols}))"


def json_object_text(pairs: list[tuple[str, str]]) -> str:
    """Return SQL building JSON object text from (key, expression) pairs, null values left out."""
    body = ", ".join(f"{quote(k)}, {e}" for k, e in pairs)
    return f"json_merge_patch('{{}}', json_object({body}))::VARCHAR"


def extra_sql(texts: list[tuple[str, str]], objects: list[tuple[str, str]]) -> str:
    """Return SQL for ``x_SourceExtra`` from text expressions and JSON-typed expressions (embedded), or NULL."""
    return f"nullif({json_object_text(texts + objects)}, '{{}}')"


def tag_entries_sql(text: str) -> str:
    """Return SQL giving the (key, value) entries of a JSON object text (NULL when it is not one)."""
    return f"map_entries(try(CAST(try(CAST({text} AS JSON)) AS MAP(VARCHAR, VARCHAR))))"


def dimensions_sql(entries: str) -> str:
    """Return SQL for ``x_Team, x_Application, x_Feature, x_Environment`` from tag entries (first key wins)."""
    norm = "lower(regexp_replace(e.key, '^(user:|user_|iamprincipal/)', '', 'i'))"
    return ", ".join(
        f"nullif(trim(list_filter({entries}, lambda e: {norm} IN ({', '.join(quote(k) for k in keys)}))[1].value), '') "
        f"AS {column}" for column, keys in TAG_KEYS.items())


def tag_set_sql(source: str, text: str, more: str | None = None, *, literals: bool = False) -> str:
    """Return SQL of one row per distinct tag text (``tk``, ``mk``): validity, normalized Tags and dimensions.

    Tag JSON is parsed once per distinct value, not once per row. ``more`` is a second tag object
    (AWS IAM principal tags) searched for dimensions after ``text``; join on ``tk`` and ``mk``. With
    ``literals``, a tag text written as a Python literal (``{'user:team': 'ml'}``) is read as JSON too,
    and ``tags_literal`` says where (see :func:`finops_lib.sources._csv.json_text_sql`).
    """
    second = f"coalesce({more}, '')" if more else "''"
    tj, mj = ("tj", "mj") if literals else ("tk", "mk")
    entries = f"list_concat({tag_entries_sql(tj)}, {tag_entries_sql(mj)})" if more else tag_entries_sql(tj)
    rows, flag = f"SELECT DISTINCT {text} AS tk, {second} AS mk FROM {source}", ""
    if literals:
        rows = f"SELECT tk, mk, {json_text_sql('tk')} AS tj, {json_text_sql('mk')} AS mj FROM ({rows})"
        used = f"{literal_used_sql('tk')} OR {literal_used_sql('mk')}" if more else literal_used_sql("tk")
        flag = f"{used} AS tags_literal, "
    return f"""SELECT tk, mk, coalesce(try(json_type({tj})) = 'OBJECT', false) AS tags_ok,
        CASE WHEN try(json_type({tj})) = 'OBJECT' THEN CAST(try(json({tj})) AS VARCHAR) END AS tags_json,
        {flag}{dimensions_sql(entries)}
      FROM ({rows})"""


def windows_from(con: BaseBackend, final: str) -> tuple[Window, ...]:
    """Return one window per billing period, billing account and sub-account among the loaded rows of ``final``."""
    mark = f"{quote(REJECT_MARK.rstrip(chr(31)))} || chr(31)"
    rows = con.con.execute(f"""SELECT DISTINCT BillingPeriodStart, BillingPeriodEnd, BillingAccountId, SubAccountId
        FROM {final} WHERE NOT starts_with(x_DataQualityFlags, {mark}) AND BillingPeriodStart IS NOT NULL
        AND BillingPeriodEnd IS NOT NULL AND BillingAccountId IS NOT NULL AND SubAccountId IS NOT NULL
        ORDER BY 1, 3, 4""").fetchall()
    return tuple(Window(start, end, scope=(("BillingAccountId", account), ("SubAccountId", sub)),
                        column="BillingPeriodStart") for start, end, account, sub in rows)


def publisher_name(model: str | None) -> str | None:
    """Return the maker of a canonical model id (None when unknown).

    Examples
    --------
    >>> publisher_name("claude-3-5-haiku"), publisher_name("gpt-4o-mini"), publisher_name("mystery")
    ('Anthropic', 'OpenAI', None)
    """
    if not model:
        return None
    return next((name for prefix, name in PUBLISHERS if model.startswith(prefix)), None)


def parse_block(unit: str | None) -> tuple[Decimal, str]:
    """Return (block size, unit words) of a pricing unit such as ``1M Tokens``, ``1K``, ``1 Hour`` or ``Tokens``.

    Examples
    --------
    >>> parse_block("1M Tokens"), parse_block("1 Hour"), parse_block("Tokens")
    ((Decimal('1000000'), 'Tokens'), (Decimal('1'), 'Hour'), (Decimal('1'), 'Tokens'))
    """
    if unit is None or not unit.strip():
        return Decimal(1), ""
    m = _BLOCK.match(unit)
    if m is None:
        return Decimal(1), unit.strip()
    size = Decimal(m.group(1)) * _MULTIPLIERS.get((m.group(2) or "").lower(), 1)
    return (size if size > 0 else Decimal(1)), m.group(3)


def _register(con: BaseBackend, table: pa.Table) -> str:
    name = f"_lookup_{uuid.uuid4().hex[:12]}"
    con.con.register(name, table)
    return name


def meter_table(con: BaseBackend, values: list[str], provider: str) -> str:
    """Parse each distinct meter string once and register the results as a lookup view; return its name.

    Values outside the schema's allowed sets count as unparsed, so a meter parser can never produce an invalid row.
    """
    rows = []
    for value in values:
        m = parse_meter(value, provider=provider)
        ok = (m.parsed and m.token_type in TOKEN_TYPES and m.service_tier in (None, *SERVICE_TIERS)
              and m.context_tier in (None, *CONTEXT_TIERS) and m.deployment in (None, *DEPLOYMENT_TYPES)
              and m.modality in (None, "text", "audio", "image", "video"))
        if not ok:
            rows.append({"k": value, "parsed": False})
            continue
        direction, action, _ = TOKEN_TYPES[m.token_type]
        details: dict[str, object] = {"TokenDirection": direction, "CacheAction": action} if direction else {}
        if m.thinking:
            details["x_Thinking"] = True
        rows.append({"k": value, "model": m.model, "token_type": m.token_type, "service_tier": m.service_tier,
                     "context_tier": m.context_tier, "deployment": m.deployment, "modality": m.modality,
                     "region": m.region, "parsed": True, "publisher": publisher_name(m.model),
                     "details": json.dumps(details) if details else None})
    return _register(con, pa.Table.from_pylist(rows, schema=_METER_SCHEMA))


def unit_table(con: BaseBackend, values: list[str]) -> str:
    """Register (unit, block size, exact reciprocal for powers of ten, unit words) for each distinct unit."""
    rows = []
    for value in values:
        size, words = parse_block(value)
        exponent = len(str(int(size))) - 1 if size == size.to_integral_value() else -1
        exact = 0 <= exponent <= 12 and size == 10**exponent
        rows.append({"k": value, "block": float(size), "inv": str(Decimal(1).scaleb(-exponent)) if exact else None,
                     "words": words})
    return _register(con, pa.Table.from_pylist(rows, schema=_UNIT_SCHEMA))


def text_source(
    con: BaseBackend, path: Path, *, required: Callable[[str], bool] | None = None
) -> tuple[str, dict[str, str], str | None]:
    """Return (SQL source, {column: text expression}, CSV reject table) for a CSV/CSV.gz or Parquet file.

    Parquet values are cast to text (maps, structs and lists to JSON text), so both variants share one reader.
    With ``required`` (see :func:`finops_lib.sources._csv.read_csv_sql`), short CSV lines are padded and the
    source also has the ``PADDED`` and ``MISSING`` columns (false and NULL for Parquet).

    Raises
    ------
    SourceError
        When the header or schema cannot be read or repeats a name.
    """
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise SourceError(path, f"cannot open the file: {exc}") from exc
    if magic != b"PAR1":
        source, names, rejects = read_csv_sql(path, required=required)
        return source, {n: ident(n) for n in names}, rejects
    try:
        names = pq.read_schema(path).names
        described = con.con.execute(f"DESCRIBE SELECT * FROM read_parquet({quote(str(path))})").fetchall()
    except Exception as exc:  # pyarrow and DuckDB raise several types for a damaged file
        raise SourceError(path, f"cannot read the Parquet schema: {exc}") from exc
    if len(set(names)) != len(names):
        raise SourceError(path, "the Parquet schema repeats a column name")
    nested = ("MAP", "STRUCT", "UNION")
    types = {name: (f"to_json({ident(name)})::VARCHAR" if str(kind).startswith(nested) or str(kind).endswith("]")
                    else f"CAST({ident(name)} AS VARCHAR)") for name, kind, *_ in described}
    source = f"read_parquet({quote(str(path))})"
    if required is not None:
        source = f"(SELECT *, false AS {PADDED}, NULL::VARCHAR AS {MISSING} FROM {source})"
    return source, types, None


def stage(con: BaseBackend, select_sql: str, path: Path) -> str:
    """Run a SELECT once into a temporary Parquet file (file order kept); return SQL reading it back.

    The rows come back with ``src_row`` = record number + 1 (line 1 is the header), so later joins may
    reorder them freely. Any engine error while reading the file becomes a :class:`SourceError`.
    """
    folder = engine.stage_folder()  # removed after the ingest, at exit, or by the next start if killed
    target = folder / "rows.parquet"
    try:
        con.con.execute("SET preserve_insertion_order = true")
        execute_scan(con, f"COPY ({select_sql}) TO {quote(str(target))} (FORMAT parquet, COMPRESSION zstd)")
    except duckdb.Error as exc:
        raise SourceError(path, f"cannot read the file: {str(exc).splitlines()[0]}") from exc
    return (f"(SELECT * EXCLUDE (file_row_number), file_row_number + 2 AS src_row "
            f"FROM read_parquet({quote(str(target))}, file_row_number = true))")


T = TypeVar("T")


def runs_alike(items: list[T], key: Callable[[T], object]) -> list[list[T]]:
    """Split ``items`` (in order) into runs of equal ``key``: files one typed SELECT can read together.

    Examples
    --------
    >>> runs_alike([1, 1, 2, 1], key=lambda n: n)
    [[1, 1], [2], [1]]
    """
    runs: list[list[T]] = []
    for item in items:
        if runs and key(runs[-1][0]) == key(item):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def union_rows(staged: list[str]) -> str:
    """Return SQL of the rows of several staged files (:func:`stage`), one after the other."""
    if len(staged) == 1:
        return staged[0]
    return "(" + " UNION ALL ".join(f"SELECT * FROM {rows}" for rows in staged) + ")"


def of_file(final: str, path: Path, files: int) -> str:
    """Return SQL of one file's rows of a staged SELECT over ``files`` files (all of them when it read one)."""
    return final if files == 1 else f"(SELECT * FROM {final} WHERE x_SourceFile = {quote(str(path))})"


def distinct_values(con: BaseBackend, staged: str, column: str) -> list[str]:
    """Return the distinct non-null values of a staged text column."""
    rows = con.con.execute(f"SELECT DISTINCT {ident(column)} FROM {staged} WHERE {ident(column)} IS NOT NULL")
    return sorted(r[0] for r in rows.fetchall())


def head_names(path: Path, head: str) -> list[str] | None:
    """Return the column names of a CSV head (first line) or a Parquet file's schema; None when unreadable."""
    if head.startswith("PAR1"):
        return parquet_columns(path)
    first = head.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    try:
        return next(csv.reader([first]))
    except (csv.Error, StopIteration):
        return None
