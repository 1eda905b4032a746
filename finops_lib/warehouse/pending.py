"""Rows of a load committed before they were settled: how a large file loads in two commits and stays atomic.

DuckDB writes a large insert straight to the database file while the transaction runs; changing those rows again
in the same transaction (numbering them by position, removing the rejected ones) makes the commit write them all a
second time, a third of a 10M-row load. So a file whose rows are numbered by position (a LiteLLM CSV or Parquet
dump: :attr:`ReadResult.numbered_from <finops_lib.sources.ReadResult>`) loads in two commits:

1. its rows are inserted **unnumbered** (``x_SourceRow`` null) and committed;
2. the earlier version of the file is forgotten, the rows are numbered, settled (rejects, duplicates,
   restatements, counts) and the file recorded, in a second transaction.

``x_SourceRow`` is required in every data table, so a row without it is never a settled row: it is a **pending**
row of a load that has not finished. A fault in step 2 rolls it back and deletes the file's pending rows; a process
killed between the two commits leaves pending rows that :func:`recover` deletes the next time the warehouse is
opened for an ingest or a command (``finops_lib.cli.common``). Either way the warehouse is as before that file: its
earlier version (forgotten only in step 2) and the ledger entry of that version are untouched.

Examples
--------
>>> import duckdb, ibis
>>> con = ibis.duckdb.connect()
>>> _ = con.con.execute("CREATE TABLE requests (x_SourceFile VARCHAR, x_SourceRow BIGINT)")
>>> _ = con.con.execute("INSERT INTO requests VALUES ('a.csv', 2), ('b.csv', NULL), ('b.csv', NULL)")
>>> interrupted(con), recover(con), interrupted(con)
(['b.csv'], 2, [])
"""

from __future__ import annotations

import contextlib

import duckdb
from ibis.backends import BaseBackend

__all__ = ["PENDING", "interrupted", "recover"]

#: SQL true for a pending row (see the module).
PENDING = "x_SourceRow IS NULL"
_TABLES = ("costs", "requests", "metrics")


def _present(con: BaseBackend) -> list[str]:
    rows = con.con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                           "AND schema_name = current_schema()").fetchall()
    have = {name for (name,) in rows}
    return [t for t in _TABLES if t in have]


def interrupted(con: BaseBackend) -> list[str]:
    """Return the files whose load was interrupted between its two commits (their rows are pending)."""
    tables = _present(con)
    if not tables:
        return []
    union = " UNION ".join(f'SELECT DISTINCT x_SourceFile FROM "{t}" WHERE {PENDING}' for t in tables)
    return sorted(file for (file,) in con.con.execute(union).fetchall())


def recover(con: BaseBackend, path: str | None = None) -> int:
    """Delete pending rows (of ``path``, or of every file); return how many.

    Run outside any transaction (each DELETE commits by itself). An engine that can no longer write (a fault that
    invalidated it) deletes nothing here: the rows stay pending, and the next open recovers them.
    """
    where, params = (f"{PENDING} AND x_SourceFile = ?", [path]) if path is not None else (PENDING, [])
    removed = 0
    with contextlib.suppress(duckdb.Error):
        for table in _present(con):
            row = con.con.execute(f'DELETE FROM "{table}" WHERE {where}', params).fetchone()
            removed += int(row[0]) if row else 0
    return removed
