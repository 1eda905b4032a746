"""CSV reading inside the engine, shared by the CSV-based readers.

The header is read directly and the dialect fixed (comma, double quote, doubled-quote escape), so
one malformed line can neither confuse a sniffer nor abort the load: DuckDB stores it in a reject
table, which :func:`finops_lib.warehouse.ingestion.settle` turns into ``rejects`` rows with their line numbers.
Line numbers count records (header = 1); they equal physical lines unless a quoted field spans
lines.
"""

from __future__ import annotations

import atexit
import csv
import gzip
import shutil
import tempfile
import uuid
from pathlib import Path

import ibis
from ibis.backends import BaseBackend

from finops_lib.errors import SourceError
from finops_lib.schema import conform
from finops_lib.sources._sql import quote


def header(path: Path) -> list[str]:
    """Return the column names of a CSV (or ``.csv.gz``) file's header line.

    Raises
    ------
    SourceError
        When the header cannot be read, or repeats a name.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
            names = next(csv.reader(fh))
    except (OSError, StopIteration, UnicodeDecodeError, csv.Error, EOFError) as exc:
        raise SourceError(path, f"cannot read the CSV header: {exc}", line=1) from exc
    if len(set(names)) != len(names):
        raise SourceError(path, "the CSV header repeats a column name", line=1)
    # An empty name (a trailing comma, pandas' unnamed index column) gets a placeholder: DuckDB cannot
    # read a column without a name, and no reader uses it.
    return [name if name.strip() else f"_unnamed_{i}" for i, name in enumerate(names, start=1)]


def read_csv_sql(path: Path) -> tuple[str, list[str], str]:
    """Return (table-function SQL reading every column as text, column names, reject table name)."""
    names = header(path)
    token = uuid.uuid4().hex[:12]
    rejects, scan = f"_csv_rejects_{token}", f"_csv_scan_{token}"
    columns = ", ".join(f"{quote(n)}: 'VARCHAR'" for n in names)
    sql = (f"read_csv({quote(str(path))}, columns = {{{columns}}}, header = true, auto_detect = false, "
           f"delim = ',', quote = '\"', escape = '\"', store_rejects = true, "
           f"rejects_table = {quote(rejects)}, rejects_scan = {quote(scan)})")
    return sql, names, rejects


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
    folder = Path(tempfile.mkdtemp(prefix="finops_stage_"))
    atexit.register(shutil.rmtree, folder, True)
    target = folder / "rows.parquet"
    con.con.execute("SET preserve_insertion_order = true")
    con.con.execute(f"COPY ({select_sql}) TO {quote(str(target))} (FORMAT parquet, COMPRESSION zstd)")
    staged = con.sql(f"SELECT * REPLACE (file_row_number + 2 AS x_SourceRow) "
                     f"FROM read_parquet({quote(str(target))}, file_row_number = true)")
    return conform(staged.drop("file_row_number"), table)
