"""CSV reading inside the engine, shared by the CSV-based readers.

The header is read directly and the dialect fixed (comma, double quote, doubled-quote escape), so
one malformed line can neither confuse a sniffer nor abort the load: DuckDB stores it in a reject
table, which :func:`finops_lib.warehouse.loading.settle` turns into ``rejects`` rows with their line numbers.
Line numbers count records (header = 1); they equal physical lines unless a quoted field spans
lines.

Tolerances a reader opts into:

* Short lines (:func:`read_csv_sql` with ``required``): a line with fewer fields than the header (a
  trailing optional column missing, which pandas reads) is padded with nulls and marked (:data:`PADDED`,
  flag :data:`PADDED_FLAG`), unless it ends before a column the reader cannot do without (money,
  identity): :data:`MISSING` then names that column, for the reader to reject the row. Lines with too
  many fields stay with DuckDB's rejects.
* JSON cells written as Python literals (``[{'key': 'team', 'value': None}]``, a pandas dump of nested
  values): :func:`json_text_sql` reads them as JSON inside the engine, only when the text is not JSON
  already, and :func:`literal_used_sql` says when it did (flag :data:`LITERAL_FLAG`).
  In Python, :func:`parse_json_text` does the same for readers that build rows in memory.
* Null spellings: :func:`null_text_sql` reads ``NULL``, ``null``, ``None`` and empty cells as null.
"""

from __future__ import annotations

import ast
import csv
import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import ibis
from ibis.backends import BaseBackend

from finops_lib import engine
from finops_lib.errors import SourceError
from finops_lib.schema import conform
from finops_lib.sources._common import json_number
from finops_lib.sources._compressed import check_expansion, open_input
from finops_lib.sources._sql import ident, quote, relation

#: Column of a padded scan: true on a line that had fewer fields than the header.
PADDED = "__csv_padded"
#: Column of a padded scan: the first required column a short line ends before (NULL when none).
MISSING = "__csv_missing"
PADDED_FLAG = "row_padded"
LITERAL_FLAG = "python_literal"
#: Reason of the reject of a short line that lacks a required column.
SHORT_REASON = "missing columns: the line ends before this required column"
#: Cell texts read as null (besides the empty cell).
NULL_TEXTS = ("NULL", "null", "None")
#: A null string no cell holds: empty cells then read as '' and only the fields a line lacks as NULL.
_NO_NULL = "\u2400finops:no-null\u2400"
_PARALLEL, _SERIAL = "null_padding = true, parallel = true", "null_padding = true, parallel = false"
_SERIAL_HINT = "does not support null_padding in conjunction with quoted new lines"
#: Tokens of a Python literal: quoted strings, numbers, words (None, True, False), runs of other characters.
_LITERAL_TOKENS = (r"""(?s)'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?"""
                   r"""|[A-Za-z_][A-Za-z_0-9]*|[^'"A-Za-z_0-9]+|.""")
#: SQL of one token ``t`` in JSON: a single-quoted string double-quoted, None/True/False as null/true/false.
_TOKEN_JSON = (
    "CASE WHEN starts_with(t, '''') AND length(t) > 1 "
    "THEN '\"' || replace(replace(t[2:-2], '\\''', ''''), '\"', '\\\"') || '\"' "
    "WHEN starts_with(t, '\"') THEN replace(t, '\\''', '''') "
    "WHEN t = 'None' THEN 'null' WHEN t = 'True' THEN 'true' WHEN t = 'False' THEN 'false' "
    "WHEN regexp_full_match(t, '[A-Za-z_][A-Za-z_0-9]*') THEN '?' ELSE t END"  # nan, inf, names: not literals
)


def header(path: Path) -> list[str]:
    """Return the column names of a CSV (or ``.csv.gz``) file's header line.

    Raises
    ------
    SourceError
        When the header cannot be read, or repeats a name.
    """
    try:
        with open_input(path, "rt", encoding="utf-8-sig", newline="") as fh:
            names = next(csv.reader(fh))
    except (OSError, StopIteration, UnicodeDecodeError, csv.Error, EOFError) as exc:
        raise SourceError(path, f"cannot read the CSV header: {exc}", line=1) from exc
    if len(set(names)) != len(names):
        raise SourceError(path, "the CSV header repeats a column name", line=1)
    # An empty name (a trailing comma, pandas' unnamed index column) gets a placeholder: DuckDB cannot
    # read a column without a name, and no reader uses it.
    return [name if name.strip() else f"_unnamed_{i}" for i, name in enumerate(names, start=1)]


def read_csv_sql(path: Path, *, required: Callable[[str], bool] | None = None) -> tuple[str, list[str], str]:
    """Return (SQL reading every column as text, column names, reject table name).

    Parameters
    ----------
    path
        The CSV (or ``.csv.gz``) file.
    required
        Opts into padding short lines; says which of the file's columns a line may not lack. The SQL then
        also gives :data:`PADDED` and :data:`MISSING` per row, and is to be run through :func:`execute_scan`.
        Without it, a short line is one of DuckDB's rejects (``missing columns``).
    """
    check_expansion(path)  # the engine decompresses a .gz itself, beyond the limits of open_input
    names = header(path)
    token = uuid.uuid4().hex[:12]
    rejects, scan = f"_csv_rejects_{token}", f"_csv_scan_{token}"
    columns = ", ".join(f"{quote(n)}: 'VARCHAR'" for n in names)
    padding = f", {_PARALLEL}, nullstr = {quote(_NO_NULL)}" if required else ""
    sql = (f"read_csv({quote(str(path))}, columns = {{{columns}}}, header = true, auto_detect = false, "
           f"delim = ',', quote = '\"', escape = '\"', store_rejects = true, "
           f"rejects_table = {quote(rejects)}, rejects_scan = {quote(scan)}{padding})")
    if required is None:
        return sql, names, rejects
    # No cell reads as NULL ('' when empty), so a NULL is a field the line did not have.
    cells = ", ".join(f"nullif({ident(n)}, '') AS {ident(n)}" for n in names)
    whens = " ".join(f"WHEN {ident(n)} IS NULL THEN {quote(n)}" for n in names if required(n))
    missing = f"CASE {whens} END" if whens else "NULL::VARCHAR"
    padded = f"(SELECT {cells}, {ident(names[-1])} IS NULL AS {PADDED}, {missing} AS {MISSING} FROM {sql})"
    return padded, names, rejects


def execute_scan(con: BaseBackend, statement: str) -> None:
    """Execute a statement that reads a padded CSV scan (:func:`read_csv_sql` with ``required``).

    DuckDB's parallel CSV scanner cannot pad the lines of a file whose quoted fields span lines; it stops
    with an error, and the statement is run again on one thread. Lines it rejected before stopping are
    stored twice; the rejects are read by distinct line.
    """
    try:
        con.con.execute(statement)
    except duckdb.Error as exc:
        if _SERIAL_HINT not in str(exc):
            raise
        con.con.execute(statement.replace(_PARALLEL, _SERIAL))


def null_text_sql(text: str) -> str:
    """Return SQL of a trimmed text cell, NULL when empty or a null spelling (``NULL``, ``null``, ``None``)."""
    spellings = ", ".join(quote(t) for t in ("", *NULL_TEXTS))
    return f"CASE WHEN trim({text}) IN ({spellings}) THEN NULL ELSE trim({text}) END"


def literal_json_sql(text: str) -> str:
    r"""Return SQL reading a Python literal (``{'a': None, 'b': [True, -1.5]}``) as JSON text; NULL when not one.

    Single-quoted strings become JSON strings and ``None``/``True``/``False`` become ``null``/``true``/
    ``false``; numbers keep their digits. A text that is then no JSON (a tuple, a ``\x`` escape, a name,
    a call) gives NULL, so the cell is rejected as before. Nothing is evaluated.
    """
    converted = (f"array_to_string(list_transform(regexp_extract_all({text}, {quote(_LITERAL_TOKENS)}), "
                 f"t -> {_TOKEN_JSON}), '')")
    return f"list_transform([{converted}], j -> CASE WHEN try(json(j)) IS NOT NULL THEN j END)[1]"


def json_text_sql(text: str) -> str:
    """Return SQL of a JSON cell as JSON text: the text when it is JSON, else its Python-literal reading, else NULL."""
    return f"CASE WHEN try(json({text})) IS NOT NULL THEN {text} ELSE {literal_json_sql(text)} END"


def literal_used_sql(text: str) -> str:
    """Return SQL: whether :func:`json_text_sql` reads the cell as a Python literal (it is not JSON but one)."""
    # A CASE, not AND: only the cells that are not JSON go through the literal reading.
    return (f"CASE WHEN {text} IS NULL OR try(json({text})) IS NOT NULL THEN false "
            f"ELSE {literal_json_sql(text)} IS NOT NULL END")


def parse_json_text(text: str) -> tuple[Any, bool]:
    """Return (value, whether it was a Python literal) of a JSON cell: JSON first, else a Python literal.

    Numbers with a fraction or exponent are Decimal, read from their own digits (``-1.23`` is
    ``Decimal('-1.23')``, never a float), as :func:`json.loads` with ``parse_float=Decimal`` reads JSON. A
    Python literal may hold only dicts, lists, strings, numbers, ``None``, ``True`` and ``False``: it is
    parsed, never evaluated.

    Raises
    ------
    ValueError
        When the text is neither.

    Examples
    --------
    >>> parse_json_text("[{'name': 'Free tier', 'amount': -1.23, 'id': None}]")
    ([{'name': 'Free tier', 'amount': Decimal('-1.23'), 'id': None}], True)
    """
    try:
        return json.loads(text, parse_float=json_number), False
    except json.JSONDecodeError:
        pass
    source = text.strip()
    try:
        return _literal(ast.parse(source, mode="eval").body, source), True
    except (SyntaxError, RecursionError) as exc:
        raise ValueError(f"neither JSON nor a Python literal: {exc}") from None


def _literal(node: ast.AST, source: str) -> Any:
    """Return the value of a literal's syntax tree (numbers as Decimal of their text); ValueError otherwise."""
    if isinstance(node, ast.Dict) and all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys):
        return {k.value: _literal(v, source) for k, v in zip(node.keys, node.values, strict=True)}
    if isinstance(node, ast.List):
        return [_literal(v, source) for v in node.elts]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _literal(node.operand, source)
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Constant):
        if node.value is None or isinstance(node.value, str | bool):
            return node.value
        if isinstance(node.value, int):
            return node.value
        if isinstance(node.value, float):  # its own digits, not the float's
            return Decimal(ast.get_source_segment(source, node) or "")
    raise ValueError(f"not a JSON-like Python literal: {ast.dump(node)[:80]}")


def stage_numbered(con: BaseBackend, select_sql: str, table: str) -> ibis.Table:
    """Run a reader's SELECT once, in parallel, and return its rows numbered by record.

    Numbering rows inside the query (``row_number() OVER ()``) would make DuckDB run the whole
    pipeline on one thread. Instead the rows are written in file order (DuckDB keeps insertion
    order) to a temporary Parquet file, and read back with their position in it: record ``n``
    gets ``x_SourceRow = n + 1`` (line 1 is the header). The file is removed when the process ends.

    Parameters
    ----------
    con
        DuckDB-backed connection.
    select_sql
        The reader's SELECT producing rows of ``table`` (``x_SourceRow`` may be null).
    table
        Declared table name.
    """
    folder = engine.stage_folder()  # removed after the ingest, at exit, or by the next start if killed
    target = folder / "rows.parquet"
    con.con.execute("SET preserve_insertion_order = true")
    execute_scan(con, f"COPY ({select_sql}) TO {quote(str(target))} (FORMAT parquet, COMPRESSION zstd)")
    staged = relation(con, f"SELECT * REPLACE (file_row_number + 2 AS x_SourceRow) "
                     f"FROM read_parquet({quote(str(target))}, file_row_number = true)")
    return conform(staged.drop("file_row_number"), table)


def ordered_rows(con: BaseBackend, select_sql: str, table: str) -> ibis.Table:
    """Return a reader's SELECT as rows in file order, ``x_SourceRow`` null, for the loader to number by position.

    The one-pass alternative to :func:`stage_numbered` for a reader whose SELECT needs no record number itself
    (the reader's :class:`~finops_lib.sources.ReadResult` sets ``numbered_from``): DuckDB keeps insertion order
    (``preserve_insertion_order``), so the loader inserts the rows in parallel and numbers them by their position
    in the table afterwards (:func:`finops_lib.warehouse.loading.insert_rows`). Nothing is staged on disk.

    The scan must not be a padded one (:func:`read_csv_sql` with ``required``): its serial fallback
    (:func:`execute_scan`) needs a statement of its own.
    """
    if _PARALLEL in select_sql:
        raise ValueError("a padded CSV scan is staged (stage_numbered), not read in one pass")
    con.con.execute("SET preserve_insertion_order = true")
    return conform(relation(con, select_sql), table)


def worker_rejects(con: BaseBackend, rejects_glob: str) -> str:
    """Return a view of the lines a read in ranges on Spark's workers rejected, numbered in the whole file.

    The lines carry their numbers in the whole file (:func:`finops_lib.engines.workers.read_csv`): the reader's
    result says so (``lines_final``), and the loader takes the view as it takes DuckDB's own rejects table.
    """
    rejected = f"_csv_rejects_{uuid.uuid4().hex[:12]}"
    con.con.execute(f"CREATE OR REPLACE TEMP VIEW {rejected} AS SELECT * FROM read_parquet({quote(rejects_glob)})")
    return rejected
