"""Staging a reader's rows for one INSERT: handed to the engine without compiling whenever that is possible.

:func:`stage_rows` is the only door between a reader's ``ReadResult`` tables and the warehouse's INSERTs
(:mod:`finops_lib.warehouse.loading`): rows built in memory go as Arrow, rows of a reader's engine view whose
columns already have the declared types are selected from the view by SQL written here, anything else is compiled
by ibis once. The staged rows are never described back: the declared schema says what they hold.
"""

from __future__ import annotations

import functools

import ibis
import ibis.expr.operations as ops
import pyarrow as pa
from ibis.backends import BaseBackend

from finops_lib.schema import TABLES, conform, declared_schema
from finops_lib.sources import window_mark, window_mark_sql

__all__ = ["declared_columns", "declared_view_sql", "drop_stage", "holds_nothing", "sql_type", "stage_all",
           "stage_rows"]


@functools.cache
def sql_type(dtype: object) -> str:
    """Return DuckDB's name of an ibis type (written once per type)."""
    from ibis.backends.sql.datatypes import DuckDBType

    return DuckDBType.to_string(dtype)


def stage_rows(con: BaseBackend, name: str, rows: ibis.Table, table: str) -> str | None:
    """Stage a reader's rows conformed to ``table`` for one INSERT; return SQL selecting them, or None for ``name``.

    The staged rows are never described back (the declared schema says what they hold), and nothing is compiled
    when it need not be:

    - rows a Python reader built in memory in the declared columns
      (:func:`finops_lib.sources._common.records_table`) are handed to the engine as they are (an Arrow table,
      registered as ``name``);
    - rows of a reader's view of the engine (:func:`finops_lib.sources._sql.relation`) whose columns already have
      the declared types are selected from that view by a SELECT written here (returned): no view over the view,
      no ibis compilation;
    - any other expression is compiled once into the temporary view ``name``.
    """
    return _stage(con, name, rows, table, _declared_arrow(rows, table))


def _stage(con: BaseBackend, name: str, rows: ibis.Table, table: str, arrow: pa.Table | None) -> str | None:
    """:func:`stage_rows`, the Arrow table under ``rows`` (or None) already looked for."""
    if arrow is not None:
        con.con.register(name, arrow)
        return None
    select = declared_view_sql(rows, table)
    if select is not None:
        return f"({select})"
    expr = conform(rows, table)
    con._run_pre_execute_hooks(expr)  # registers the in-memory tables the expression reads
    con.con.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS {con.compile(expr)}')
    return None


def stage_all(con: BaseBackend, names: list[str], parts: list[ibis.Table], table: str) -> str:
    """Stage the rows of several files of one format for one INSERT; return SQL selecting them all.

    ``names``: one per part. Parts built in memory in the same columns (:func:`stage_rows`: Arrow) are handed to the
    engine as one Arrow table, the first name's: a small file's costliest step was planning its INSERT, and a
    UNION of many parts' sixty columns each is planned part by part. Any other part is staged as :func:`stage_rows`
    does, and the parts are selected by ``UNION ALL BY NAME``.
    """
    staged = [(part, _declared_arrow(part, table)) for part in parts]
    sources = []
    together = [arrow for _, arrow in staged if arrow is not None]
    if len(together) > 1 and all(a.schema == together[0].schema for a in together):
        con.con.register(names[0], pa.concat_tables(together))
        sources.append(f'"{names[0]}"')
        staged = [(part, arrow) for part, arrow in staged if arrow is None]
        names = names[1:]
    sources += [_stage(con, name, part, table, arrow) or f'"{name}"'
                for name, (part, arrow) in zip(names, staged, strict=False)]
    if len(sources) == 1:
        return sources[0]
    return "(" + " UNION ALL BY NAME ".join(f"SELECT * FROM {source}" for source in sources) + ")"


def holds_nothing(rows: ibis.Table) -> bool:
    """Return whether ``rows`` are known to be empty without asking the engine.

    Known: an empty in-memory table (a Python reader that found nothing to reject, say) or a selection of one.
    """
    op = rows.op()
    while isinstance(op, ops.Project):
        op = op.parent
    return isinstance(op, ops.InMemoryTable) and len(op.data.obj) == 0


def drop_stage(con: BaseBackend, name: str) -> None:
    """Drop a view :func:`stage_rows` made (a registered Arrow table or a view)."""
    con.con.unregister(name)
    con.con.execute(f'DROP VIEW IF EXISTS "{name}"')


def _declared_arrow(rows: ibis.Table, table: str) -> pa.Table | None:
    """Return the Arrow table under ``rows`` when ``rows`` is only an in-memory table conformed to ``table``."""
    op = rows.op()
    spec = TABLES[table]
    if isinstance(op, ops.InMemoryTable) and op.schema == declared_schema(table):  # built in the declared schema
        return op.data.to_pyarrow(op.schema)
    if not isinstance(op, ops.Project) or not isinstance(op.parent, ops.InMemoryTable):
        return None
    if list(op.values) != spec.names:
        return None
    for column in spec.columns:
        value = op.values[column.name]
        if isinstance(value, ops.Cast) and value.to == column.ibis_type:
            value = value.arg
        if not (isinstance(value, ops.Field) and value.rel == op.parent and value.name == column.name):
            return None
    return op.parent.data.to_pyarrow(op.parent.schema)


def declared_view_sql(rows: ibis.Table, table: str) -> str | None:
    """Return a SELECT of ``rows`` from the engine table or view under them, when that needs no compiling.

    ``rows`` qualify when they are a table of this engine conformed to ``table`` (:func:`finops_lib.schema.conform`,
    once or more) whose every present column already has the declared type in the engine (a cast to the same type
    is no cast; JSON is cast to text), the missing ones typed nulls, and ``x_DataQualityFlags`` possibly marked by
    the date window (:func:`finops_lib.sources.window_mark`, written as :func:`~finops_lib.sources.window_mark_sql`).
    Anything else returns None and is compiled by ibis, so the SELECT written here never changes a value.
    """
    op = rows.op()
    spec = TABLES[table]
    if not isinstance(op, ops.Project) or list(op.values) != spec.names:
        return None
    bases: set[ops.DatabaseTable] = set()
    parts = []
    for column in spec.columns:
        sql = _column_sql(op.values[column.name], column.name, column.ibis_type.copy(nullable=True), bases)
        if sql is None:
            return None
        parts.append(sql if sql == f'"{column.name}"' else f'{sql} AS "{column.name}"')
    if len(bases) != 1:
        return None
    base = bases.pop()
    if base.namespace.catalog or base.namespace.database:
        return None
    name = base.name.replace('"', '""')
    return f'SELECT {", ".join(parts)} FROM "{name}"'


def _column_sql(value: ops.Value, name: str, declared: object, bases: set) -> str | None:
    """Return SQL of one column of :func:`declared_view_sql` (adding the engine table it reads to ``bases``)."""
    while True:
        if isinstance(value, ops.Cast) and value.to.copy(nullable=True) == declared:
            value = value.arg
        elif isinstance(value, ops.Field) and isinstance(value.rel, ops.Project):
            value = value.rel.values.get(value.name)
        else:
            break
    if isinstance(value, ops.Literal) and value.value is None:
        return f"NULL::{sql_type(declared)}"
    if isinstance(value, ops.IfElse) and name == "x_DataQualityFlags":
        return _window_sql(value, declared, bases)
    if not (isinstance(value, ops.Field) and isinstance(value.rel, ops.DatabaseTable) and value.name == name):
        return None
    bases.add(value.rel)
    if sql_type(value.dtype) == sql_type(declared):  # the same engine type (a timestamp's default scale)
        return f'"{name}"'
    if value.dtype.is_json() and declared.is_string():  # JSON is text: the cast keeps every character
        return f'CAST("{name}" AS VARCHAR)'
    return None


def _window_sql(value: ops.IfElse, declared: object, bases: set) -> str | None:
    """Return :func:`~finops_lib.sources.window_mark_sql` for ``value`` when it is that mark of its rows, else None."""
    rel = getattr(value.false_null_expr, "rel", None)
    if not isinstance(rel, ops.Project) or value != window_mark(rel.to_expr()).op():
        return None
    moment = rel.values["ChargePeriodStart"]
    if not moment.dtype.is_timestamp() or moment.dtype.timezone != "UTC":
        return None
    moment = _column_sql(moment, "ChargePeriodStart", moment.dtype.copy(nullable=True), bases)
    flags = _column_sql(rel.values["x_DataQualityFlags"], "x_DataQualityFlags", declared, bases)
    return None if moment is None or flags is None else window_mark_sql(moment, flags)


def declared_columns(table: str) -> list[tuple[str, bool]]:
    """Return the declared columns of ``table`` as (name, is text), in order."""
    return [(c.name, c.ibis_type.is_string()) for c in TABLES[table].columns]
