"""Rows kept for a session (a notebook exploring): an engine temporary table, or a cached Spark DataFrame.

DuckDB keeps them as a temporary table; ibis's Spark backend has no temporary tables, so Spark keeps them as a
cached DataFrame under a temporary view (``Table.cache``). Either way :func:`release` lets them go, quietly when
the connection is already closed.
"""

from __future__ import annotations

import contextlib
import uuid

import ibis.expr.types as ir
from ibis.backends import BaseBackend


def keep(expr: ir.Table) -> ir.Table:
    """Compute ``expr`` once into rows the engine keeps; return them as a table (see :func:`release`)."""
    backend = expr.get_backend()
    if backend.name == "pyspark":
        return expr.cache()
    return backend.create_table(f"finops_explored_{uuid.uuid4().hex}", expr, temp=True)


def release(backend: BaseBackend, table: ir.Table) -> None:
    """Let kept rows go; nothing to do when their connection is already closed (its temporary tables went too)."""
    with contextlib.suppress(Exception):  # closed connection, interpreter exit
        if backend.name == "pyspark":
            table.release()
        else:
            backend.raw_sql(f'DROP TABLE IF EXISTS "{table.get_name()}"')
