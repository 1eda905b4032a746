"""SQL text building blocks shared by the readers that work inside the engine (DuckDB SQL).

Literals and identifiers are quoted here, and the parsing expressions that more than one reader
needs in exactly the same form live here, so that a value reads the same whichever format holds it.
"""

from __future__ import annotations

import functools
import uuid

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
from ibis.backends import BaseBackend
from ibis.backends.sql.datatypes import DuckDBType


def quote(text: str) -> str:
    """Return ``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def relation(con: BaseBackend, sql: str) -> ibis.Table:
    """Return a reader's SELECT as an ibis table, through a temporary view of the engine.

    ``con.sql(text)`` would have ibis parse the text back (sqlglot) every time the rows are compiled, which for
    a reader's long SELECT costs more than reading a small file; the view is bound by the engine once and ibis
    sees only its name and columns (described as ``con.table`` would, each type name parsed once per process).
    """
    view = f"_reader_{uuid.uuid4().hex[:12]}"
    con.con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {sql}")
    described = con.con.execute(f"DESCRIBE {view}").fetchall()  # name, type, null, ...
    schema = ibis.schema({name: _dtype(kind, null == "YES") for name, kind, null, *_ in described})
    return ops.DatabaseTable(view, schema=schema, source=con, namespace=ops.Namespace()).to_expr()


@functools.cache
def _dtype(kind: str, nullable: bool) -> dt.DataType:
    """Return the ibis type of a DuckDB type name (as ``con.table`` reads it; parsed once per name)."""
    return DuckDBType.from_string(kind, nullable=nullable)


def ident(name: str) -> str:
    """Return ``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def decimal_sql(text: str) -> str:
    r"""Return SQL parsing ``text`` as DECIMAL(38, 12), rounded half-even (NULL when not a number).

    DuckDB's cast rounds half away from zero; an exact tie (``\d{12}5`` then zeros) whose twelfth
    digit is even is truncated instead.

    Examples
    --------
    >>> import duckdb
    >>> duckdb.sql(f"SELECT {decimal_sql(quote('0.0000000000025'))}").fetchone()[0]
    Decimal('2E-12')
    """
    tie = (f"regexp_matches({text}, '^\\s*[+-]?\\d*\\.\\d{{12}}50*\\s*$') "
           f"AND regexp_extract({text}, '\\.\\d{{11}}([02468])', 1) <> ''")
    truncated = f"TRY_CAST(regexp_extract({text}, '^\\s*([+-]?\\d*\\.\\d{{12}})', 1) AS DECIMAL(38, 12))"
    return f"CASE WHEN {tie} THEN {truncated} ELSE TRY_CAST({text} AS DECIMAL(38, 12)) END"


def timestamp_sql(text: str) -> str:
    """Return SQL parsing ISO-8601 ``text`` as a UTC timestamp (no zone written: UTC), NULL when invalid."""
    zoned = f"regexp_matches({text}, ':\\d{{2}}(\\.\\d+)?\\s*([zZ]|UTC|[+-]\\d{{2}}(:?\\d{{2}})?)$')"
    return (f"CASE WHEN {zoned} THEN TRY_CAST({text} AS TIMESTAMPTZ) "
            f"ELSE timezone('UTC', TRY_CAST({text} AS TIMESTAMP)) END")


#: Reasons of an amount that is a number but not one a money column can hold.
NOT_FINITE = "not a finite number (NaN or infinity)"
OUT_OF_RANGE = "out of range (too large in magnitude for an amount)"
#: SQL true when a text spells NaN or infinity (``1e999`` is infinite as a double too, but out of range).
NAMES_NOT_FINITE = "regexp_matches({}, '(?i)nan|inf')"


def money_faults(column: str, text: str, parsed: str) -> tuple[tuple[str, str, str], ...]:
    """Return the (column, condition, reason) faults of an amount the file wrote as a number it cannot hold.

    ``text`` is the raw text column, ``parsed`` the :func:`number_sql` of it (NULL when unreadable). Placed
    before a generic "not a number" fault, they say what is wrong with ``NaN``, ``Infinity`` or ``1e30``
    (all NULL once parsed as a decimal, so never cast): the row is rejected with this reason. A number
    too large even for a double (``1e999``) is out of range, not "not finite".

    Examples
    --------
    >>> [reason for _, _, reason in money_faults("cost", "cost", "n_cost")]
    ['not a finite number (NaN or infinity)', 'out of range (too large in magnitude for an amount)']
    """
    number = f"{parsed} IS NULL AND TRY_CAST(trim({text}) AS DOUBLE) IS NOT NULL"
    return ((column, f"{number} AND {NAMES_NOT_FINITE.format(text)}", NOT_FINITE), (column, number, OUT_OF_RANGE))
