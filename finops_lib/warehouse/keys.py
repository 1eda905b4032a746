"""Natural keys: which records of a file are distinct charges, and which are one record delivered twice.

A reader gives every row a key (``x_RowHash``). What the key means depends on the format:

* **A documented unique line id** (``register_source(..., line_id=...)``: a LiteLLM ``request_id``, a span
  id, an API report's bucket and group-by values): the key *is* that id. Two records of one file with the
  same id and the same amounts (:data:`MEASURES`) are one record delivered twice: the later one is rejected
  (``duplicate: same <id> and amounts as line N (kept)``). Records with the same id but other amounts are
  both kept and flagged ``line_id_repeated``: a key never merges rows that differ in money. Across files the
  id identifies the record: a newer delivery of it restates the older one.
* **No documented line id** (cost exports: Azure, GCP, FOCUS, CUR, traces): records identical in every field
  are separate charges (two identical usage lines are two charges). The key becomes the reader's key, plus a
  digest of every normalized field of the row (:func:`content_sql`; not ``x_SourceExtra``, the raw columns
  the schema has no place for, which differ between containers of the same rows: a GCP export as JSON lines
  or as CSV), plus the occurrence of that content in the file (1, 2, ...). So nothing distinct ever shares a
  key, and the same rows delivered again in another file give the same keys (each restates its twin instead
  of doubling it).

Examples
--------
>>> '"BilledCost"' in MEASURES["costs"] and '"x_ReportedCost"' in MEASURES["requests"]
True
"""

from __future__ import annotations

from ibis.backends import BaseBackend

from finops_lib.schema import TABLES
from finops_lib.sources import REJECT_MARK

__all__ = ["MEASURES", "PROVENANCE", "content_sql", "keyed_select_sql", "reject_duplicates", "table_kind"]

#: Columns that say where a row came from, not what it charges: never part of its content.
PROVENANCE = ("x_SourceFile", "x_SourceRow", "x_SourceLocator", "x_RowHash", "x_DataQualityFlags")
#: The amounts of a row, per table (SQL expressions): two records with one line id and these values equal are one
#: record delivered twice. A request's amounts are its money and its total tokens: a second copy of a request that
#: lost its cache breakdown (a gateway re-logging it without metadata) is still the same request.
MEASURES: dict[str, tuple[str, ...]] = {
    "costs": ('"BilledCost"', '"EffectiveCost"', '"ListCost"', '"ContractedCost"', '"BillingCurrency"',
              '"ConsumedQuantity"', '"PricingQuantity"', '"x_RequestCount"', '"x_TokenType"', '"ChargePeriodStart"',
              '"ChargePeriodEnd"'),
    "requests": ('"x_ReportedCost"', '"BillingCurrency"', '"ChargePeriodStart"',
                 '(coalesce("x_InputUncachedTokens", 0) + coalesce("x_InputCacheReadTokens", 0) + '
                 'coalesce("x_InputCacheWrite5mTokens", 0) + coalesce("x_InputCacheWrite1hTokens", 0) + '
                 'coalesce("x_OutputTokens", 0))'),
    "metrics": ('"x_Value"', '"x_Unit"', '"ChargePeriodStart"', '"ChargePeriodEnd"'),
}
_US = "chr(31)"


def table_kind(table: str) -> str:
    """Return the declared data table that a (possibly temporary) table of that name holds.

    Examples
    --------
    >>> table_kind("requests"), table_kind("_stage_metrics_7"), table_kind("costs_batch")
    ('requests', 'metrics', 'costs')
    """
    return next((kind for kind in ("requests", "metrics") if kind in table), "costs")


def content_sql(expressions: tuple[str, ...] | list[str]) -> str:
    """Return SQL of an MD5 digest of SQL ``expressions`` (null and empty text told apart).

    Examples
    --------
    >>> content_sql(['"a"', '"b"'])
    'md5(concat_ws(chr(31), coalesce(CAST("a" AS VARCHAR), chr(0)), coalesce(CAST("b" AS VARCHAR), chr(0))))'
    """
    parts = ", ".join(f"coalesce(CAST({e} AS VARCHAR), chr(0))" for e in expressions)
    return f"md5(concat_ws({_US}, {parts}))"


def keyed_select_sql(source: str, table: str) -> str:
    """Return SQL selecting ``source``'s rows with content keys (formats without a documented line id).

    ``x_RowHash`` becomes md5(reader key, content digest, occurrence of that content in the file); rows the
    reader marked as rejects keep counting apart from loaded rows. ``source`` may hold the rows of several files:
    each file's occurrences are counted apart, so its keys are what they would be alone.
    """
    kind = table_kind(table)
    content = [f'"{c.name}"' for c in TABLES[kind].columns if c.name not in (*PROVENANCE, "x_SourceExtra")]
    rejected = f"starts_with(coalesce(x_DataQualityFlags, ''), '{REJECT_MARK}')"
    return f"""SELECT * EXCLUDE (__content) REPLACE (
  md5(concat_ws({_US}, coalesce(x_RowHash, ''), __content, row_number() OVER (
    PARTITION BY x_SourceFile, x_RowHash, __content, {rejected} ORDER BY x_SourceRow)::VARCHAR)) AS x_RowHash)
FROM (SELECT *, {content_sql(content)} AS __content FROM {source})"""


def reject_duplicates(con: BaseBackend, table: str, path: str, rejects: str, *, kind: str, line_id: str) -> None:
    """Reject later records of ``path`` repeating an earlier record's line id and amounts; flag the rest.

    Only rows whose key repeats are looked at, so a file without repeats costs one count.
    """
    where = "x_SourceFile = ?"
    extra = con.con.execute(f'SELECT count(*) - count(DISTINCT x_RowHash) FROM "{table}" WHERE {where}',
                            [path]).fetchone()[0]
    if not extra:
        return
    content = content_sql(MEASURES[kind])
    con.con.execute(f"""CREATE OR REPLACE TEMP TABLE _repeats AS
        SELECT x_SourceRow AS row, x_RowHash AS key, {content} AS content FROM "{table}"
        WHERE {where} AND x_RowHash IN (SELECT x_RowHash FROM "{table}" WHERE {where}
                                        GROUP BY x_RowHash HAVING count(*) > 1)""", [path, path])
    con.con.execute("""CREATE OR REPLACE TEMP TABLE _dups AS
        SELECT row, min(first_row) AS first_row FROM (
          SELECT row, min(row) OVER (PARTITION BY key, content) AS first_row FROM _repeats)
        WHERE row > first_row GROUP BY row""")
    con.con.execute(f"""INSERT INTO "{rejects}" SELECT DISTINCT t.x_SourceFormat, t.x_SourceFile, t.x_SourceRow,
        t.x_SourceLocator, 'record', NULL,
        'duplicate: same ' || ? || ' and amounts as line ' || d.first_row || ' (kept)', ?
        FROM "{table}" t JOIN _dups d ON t.x_SourceRow = d.row WHERE t.x_SourceFile = ?
        AND NOT EXISTS (SELECT 1 FROM "{rejects}" r WHERE r.x_SourceFile = t.x_SourceFile
                        AND r.x_SourceRow = t.x_SourceRow)""", [line_id, kind, path])  # one reject per record
    con.con.execute(f'DELETE FROM "{table}" WHERE {where} AND x_SourceRow IN (SELECT row FROM _dups)', [path])
    # What is left with a repeated key differs in its amounts: kept, and said so.
    con.con.execute(f"""UPDATE "{table}" SET x_DataQualityFlags = array_to_string(list_sort(list_distinct(
          list_filter(string_split(coalesce(x_DataQualityFlags, ''), ',') || ['line_id_repeated'], f -> f <> ''))),
          ',')
        WHERE {where} AND x_RowHash IN (SELECT x_RowHash FROM "{table}" WHERE {where}
                                        GROUP BY x_RowHash HAVING count(*) > 1)""", [path, path])
    con.con.execute("DROP TABLE _repeats")
    con.con.execute("DROP TABLE _dups")
