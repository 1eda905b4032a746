"""AWS Cost and Usage Reports: CUR 2.0 (Data Exports) and the legacy CUR, gzip CSV or Parquet.

Read inside the engine (DuckDB SQL) in two staged passes: the raw columns as text, numbered in file
order, then one SELECT to ``costs`` rows (rejects marked inline). The usage-type and pricing-unit
strings are parsed once per distinct value in Python (:func:`finops_lib.meters.parse_meter`), and tag
JSON once per distinct value in SQL, then joined back, so a CUR of millions of lines is never walked
row by row in Python (about 500,000 lines in 15 s of CPU).

The first section of this module holds SQL helpers shared with :mod:`finops_lib.sources.azure_costs`
(text sources, staging, exact decimals, lookups, tags, windows); it belongs in a private module of
its own, which is why this module is longer than the usual 400 lines.

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
  A delivery split in parts (``<name>-00001.csv.gz``, ``-00002``...) would make each part erase the
  others, so when sibling parts exist no window is declared (rows are replaced by natural key).
* ``identity_line_item_id`` is not stable across deliveries: the natural key is payer, billing
  period, account, line item type, usage period, product, usage type, operation, resource,
  principal, pricing term and description (the same for the CUR 2.0 and legacy names).
"""

from __future__ import annotations

import atexit
import csv
import json
import re
import shutil
import tempfile
import uuid
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from ibis.backends import BaseBackend

from finops_lib.errors import SourceError
from finops_lib.meters import parse_meter
from finops_lib.schema import CONTEXT_TIERS, DEPLOYMENT_TYPES, SERVICE_TIERS, TOKEN_TYPES, conform
from finops_lib.sources import REJECT_MARK, ReadResult, Window, register_source
from finops_lib.sources._common import AI_CATEGORY, GENAI_SUBCATEGORY
from finops_lib.sources._csv import quote, read_csv_sql

# --- SQL helpers shared with azure_costs (cloud billing exports read inside the engine) ---------------------------

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


def ident(name: str) -> str:
    """Return ``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


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


def tag_set_sql(source: str, text: str, more: str | None = None) -> str:
    """Return SQL of one row per distinct tag text (``tk``, ``mk``): validity, normalized Tags and dimensions.

    Tag JSON is parsed once per distinct value, not once per row. ``more`` is a second tag object
    (AWS IAM principal tags) searched for dimensions after ``text``; join on ``tk`` and ``mk``.
    """
    second = f"coalesce({more}, '')" if more else "''"
    entries = f"list_concat({tag_entries_sql('tk')}, {tag_entries_sql('mk')})" if more else tag_entries_sql("tk")
    return f"""SELECT tk, mk, coalesce(try(json_type(tk)) = 'OBJECT', false) AS tags_ok,
        CASE WHEN try(json_type(tk)) = 'OBJECT' THEN CAST(try(json(tk)) AS VARCHAR) END AS tags_json,
        {dimensions_sql(entries)}
      FROM (SELECT DISTINCT {text} AS tk, {second} AS mk FROM {source})"""


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


def text_source(con: BaseBackend, path: Path) -> tuple[str, dict[str, str], str | None]:
    """Return (SQL source, {column: text expression}, CSV reject table) for a CSV/CSV.gz or Parquet file.

    Parquet values are cast to text (maps, structs and lists to JSON text), so both variants share one reader.

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
        source, names, rejects = read_csv_sql(path)
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
    return f"read_parquet({quote(str(path))})", types, None


def stage(con: BaseBackend, select_sql: str, path: Path) -> str:
    """Run a SELECT once into a temporary Parquet file (file order kept); return SQL reading it back.

    The rows come back with ``src_row`` = record number + 1 (line 1 is the header), so later joins may
    reorder them freely. Any engine error while reading the file becomes a :class:`SourceError`.
    """
    folder = Path(tempfile.mkdtemp(prefix="finops_stage_"))
    atexit.register(shutil.rmtree, folder, True)
    target = folder / "rows.parquet"
    try:
        con.con.execute("SET preserve_insertion_order = true")
        con.con.execute(f"COPY ({select_sql}) TO {quote(str(target))} (FORMAT parquet, COMPRESSION zstd)")
    except duckdb.Error as exc:
        raise SourceError(path, f"cannot read the file: {str(exc).splitlines()[0]}") from exc
    return (f"(SELECT * EXCLUDE (file_row_number), file_row_number + 2 AS src_row "
            f"FROM read_parquet({quote(str(target))}, file_row_number = true))")


def distinct_values(con: BaseBackend, staged: str, column: str) -> list[str]:
    """Return the distinct non-null values of a staged text column."""
    rows = con.con.execute(f"SELECT DISTINCT {ident(column)} FROM {staged} WHERE {ident(column)} IS NOT NULL")
    return sorted(r[0] for r in rows.fetchall())


# --- AWS CUR ---------------------------------------------------------------------------------------------------------

CUR2 = "aws_cur2"
LEGACY = "aws_cur_legacy"
FAMILY = "aws_cur"
REQUIRED = ("line_item_usage_start_date", "line_item_usage_end_date", "line_item_unblended_cost",
            "line_item_usage_type", "line_item_currency_code", "bill_payer_account_id",
            "bill_billing_period_start_date")
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
    "cost_category", "tags",
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


def snake(name: str) -> str:
    """Return the CUR 2.0 name of a column (legacy ``lineItem/UsageType`` -> ``line_item_usage_type``).

    Examples
    --------
    >>> snake("pricing/publicOnDemandCost"), snake("line_item_usage_type")
    ('pricing_public_on_demand_cost', 'line_item_usage_type')
    """
    parts = name.strip().split("/")
    return "_".join(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", p).lower() for p in parts)


def _head_names(path: Path, head: str) -> list[str] | None:
    if head.startswith("PAR1"):
        try:
            return list(pq.read_schema(path).names)
        except Exception:  # not a readable Parquet file: not ours
            return None
    first = head.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    try:
        return next(csv.reader([first]))
    except (csv.Error, StopIteration):
        return None


def _kind(names: list[str]) -> str | None:
    """Return which CUR flavour a header is (None when it is not a CUR)."""
    if not {snake(n) for n in names} >= _SIGNATURE:
        return None
    return LEGACY if any("/" in n or n.startswith("resource_tags_") for n in names) else CUR2


def _detect_cur2(path: Path, head: str) -> bool:
    names = _head_names(path, head)
    return names is not None and _kind(names) == CUR2


def _detect_legacy(path: Path, head: str) -> bool:
    names = _head_names(path, head)
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
    return f"SELECT {', '.join(cols)} FROM {source}", labels


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
_JSON_EXTRA = ("tags", "cost_category")
_TAGS = "coalesce(src.resource_tags, '{}')"
#: Only usage rows are meters; Tax or Credit lines without a usage type are not "unparsed".
_UNPARSED = ("CASE WHEN is_bedrock AND category = 'Usage' AND line_item_usage_type IS NOT NULL "
             "AND NOT coalesce(m.parsed, false) THEN 'meter_unparsed' ELSE '' END")


def _parsed_sql(staged: str, labels: dict[str, str]) -> str:
    """Return SQL of the staged text rows with typed values (timestamps, decimals) and each row's fault."""
    nulls = ", ".join(f"nullif(trim({ident(c)}), '') AS {ident(c)}" for c in COLUMNS)
    return f"""
WITH src AS (SELECT src_row, {nulls} FROM {staged}),
tagset AS ({tag_set_sql('src', _TAGS, "tags")}),
products AS (SELECT pr, json_extract_string(try(CAST(nullif(pr, '') AS JSON)), '$.product_name') AS product_json
  FROM (SELECT DISTINCT coalesce(product, '') AS pr FROM src)),
typed AS (
  SELECT src.*, tagset.* EXCLUDE (tk, mk), coalesce(product_product_name, product_json) AS product_name,
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
SELECT *, {fault_sql(_FAULTS, labels)} AS fault FROM typed"""


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


def _select_sql(staged: str, labels: dict[str, str], lookups: tuple[str, str], path: str, fmt: str) -> str:
    """One SELECT from the staged rows to ``costs`` rows (rejects marked inline)."""
    is_ai = "(is_bedrock OR m.model IS NOT NULL)"
    service = ("coalesce(product_name, "
               "CASE WHEN is_bedrock THEN 'Amazon Bedrock' END, product_servicecode, line_item_product_code, 'AWS')")
    extra = extra_sql([(c, c) for c in _EXTRA], [(c, f"CASE WHEN {c} <> '{{}}' THEN try(json({c})) END")
                                                  for c in _JSON_EXTRA])
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
  line_item_resource_id AS ResourceId, coalesce(product_region_code, product_region, m.region) AS RegionId,
  product_sku AS SkuId, line_item_usage_type AS SkuMeter, m.details AS SkuPriceDetails,
  line_item_usage_account_id AS SubAccountId, line_item_usage_account_name AS SubAccountName,
  tags_json AS Tags,
  m.model AS x_Model, CASE WHEN {is_ai} THEN line_item_usage_type END AS x_ModelRaw,
  coalesce(m.token_type, 'non_token') AS x_TokenType, m.modality AS x_Modality,
  CASE WHEN {is_ai} THEN m.service_tier END AS x_ServiceTier, m.context_tier AS x_ContextTier,
  m.deployment AS x_DeploymentType, 'invoiced' AS x_CostBasis, line_item_iam_principal AS x_UserId,
  x_Team, x_Application, x_Feature, x_Environment, {extra} AS x_SourceExtra,
  '{fmt}' AS x_SourceFormat, {quote(path)} AS x_SourceFile, src_row AS x_SourceRow,
  {hash_sql(FAMILY, _KEY)} AS x_RowHash,
  {flags_sql(_FAULTS, labels, _UNPARSED)} AS x_DataQualityFlags
FROM p LEFT JOIN {lookups[0]} m ON m.k = p.line_item_usage_type LEFT JOIN {lookups[1]} u ON u.k = p.pricing_unit
"""


def _sibling_parts(path: Path) -> bool:
    """Whether the file is one part of a delivery split in several (``name-00001.csv.gz``, ``name-00002``...)."""
    part = re.compile(r"^(?P<stem>.+)-\d+(?P<ext>(?:\.[A-Za-z0-9]+)+)$")
    mine = part.match(path.name)
    if mine is None:
        return False
    try:
        others = [part.match(p.name) for p in path.parent.iterdir() if p != path]
    except OSError:
        return False
    return any(o is not None and o["stem"] == mine["stem"] and o["ext"] == mine["ext"] for o in others)


def _read(path: Path, con: BaseBackend, fmt: str) -> ReadResult:
    path = Path(path)
    source, types, csv_rejects = text_source(con, path)
    raw_sql, labels = _raw_select(source, types, path)
    staged = stage(con, raw_sql, path)
    lookups = (meter_table(con, distinct_values(con, staged, "line_item_usage_type"), "aws"),
               unit_table(con, distinct_values(con, staged, "pricing_unit")))
    final = stage(con, _select_sql(staged, labels, lookups, str(path), fmt), path)
    for view in lookups:
        con.con.unregister(view)
    # One window per billing period, payer and usage account (two linked-account CURs of one payer never erase
    # each other); none when the file is one part of a multi-part delivery.
    windows = () if _sibling_parts(path) else windows_from(con, final)
    costs = conform(con.sql(f"SELECT * EXCLUDE (src_row) FROM {final}"), "costs")
    return ReadResult(fmt, str(path), costs, None, None, None, inline_rejects=True, csv_rejects=csv_rejects,
                      windows=windows)


@register_source(CUR2, table="costs", detect=_detect_cur2,
                 description="AWS CUR 2.0 / Data Exports COST_AND_USAGE_REPORT (CSV, CSV.gz or Parquet), Bedrock "
                             "token line items")
def read_cur2(path: Path, con: BaseBackend) -> ReadResult:
    """Read an AWS CUR 2.0 file (snake_case columns) into ``costs`` rows inside the engine.

    Parameters
    ----------
    path
        CSV (optionally gzip) or Parquet part of a CUR 2.0 export.
    con
        A DuckDB-backed ibis connection.

    Returns
    -------
    ReadResult
        ``costs`` with rejected records marked inline, the CSV reader's reject table, and one
        :class:`~finops_lib.sources.Window` per billing period and payer.

    Raises
    ------
    SourceError
        When the file is not readable as a table or lacks a required column.
    """
    return _read(path, con, CUR2)


@register_source(LEGACY, table="costs", detect=_detect_legacy,
                 description="AWS legacy Cost and Usage Report (lineItem/UsageType naming; CSV, CSV.gz or Parquet)")
def read_legacy(path: Path, con: BaseBackend) -> ReadResult:
    """Read a legacy AWS CUR file (``lineItem/UsageType`` naming) into ``costs`` rows; see :func:`read_cur2`."""
    return _read(path, con, LEGACY)
