"""CSV reading inside the engine, shared by the CSV-based readers.

The header is read directly and the dialect fixed (comma, double quote, doubled-quote escape), so
one malformed line can neither confuse a sniffer nor abort the load: DuckDB stores it in a reject
table, which :func:`finops_lib.ingest.settle` turns into ``rejects`` rows with their line numbers.
Line numbers count records (header = 1); they equal physical lines unless a quoted field spans
lines.
"""

from __future__ import annotations

import csv
import gzip
import uuid
from pathlib import Path

from finops_lib.errors import SourceError


def quote(text: str) -> str:
    """Return ``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


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
    return names


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
