r"""Spreadsheet-safe CSV: text cells that a spreadsheet would run as a formula are written as text.

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets (CSV injection, OWASP). Such text is written with a leading apostrophe, which the
spreadsheet shows as the text itself. Numbers are left alone: a money or count column, a Decimal or a text that is
a plain number (``-12.50``, ``+3``, ``1e-9``) is not a formula.

Examples
--------
>>> neutralise('=HYPERLINK("http://evil","x")')
'\'=HYPERLINK("http://evil","x")'
>>> neutralise("-12.50"), neutralise("@ops"), neutralise("sales")
('-12.50', "'@ops", 'sales')
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pandas as pd

from finops_lib.share.files import atomic_open

__all__ = ["FORMULA_STARTS", "neutralise", "neutralise_sql", "write_csv"]

#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise(value: object) -> object:
    """Return a text cell a spreadsheet shows as text (a leading apostrophe when it would be a formula).

    Anything that is not a string is returned as it is; so is a string that is a plain number.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS) or _NUMBER.fullmatch(value):
        return value
    return "'" + value


def neutralise_sql(column: str) -> str:
    """Return the SQL (DuckDB) of :func:`neutralise` applied to a text column (for files the engine writes).

    Examples
    --------
    >>> import duckdb
    >>> sql = neutralise_sql("t")
    >>> duckdb.sql(f"SELECT {sql} FROM (VALUES ('=1+1'), ('-12.50'), ('ops'), (NULL)) v(t)").fetchall()
    [("'=1+1",), ('-12.50',), ('ops',), (None,)]
    """
    starts = ", ".join(f"chr({ord(c)})" for c in FORMULA_STARTS)
    apostrophe = "''''"  # the SQL literal of one apostrophe
    return (f"CASE WHEN left({column}, 1) IN ({starts}) AND NOT regexp_full_match({column}, '{_NUMBER.pattern}') "
            f"THEN {apostrophe} || {column} ELSE {column} END")


def _cell(value: object, *, date_format: str | None, guard: bool) -> object:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if date_format and isinstance(value, dt.date | pd.Timestamp):
        return value.strftime(date_format)
    return neutralise(value) if guard else value


def write_csv(frame: pd.DataFrame, path: str | Path, *, neutralise_text: bool = True,
              date_format: str | None = None) -> Path:  # fmt: skip
    """Write ``frame`` as CSV (no index, Decimals as plain text, missing values empty) and return the path.

    Parameters
    ----------
    frame
        The table; its column names are data too and are guarded the same way.
    path
        Target file (folders are created).
    neutralise_text
        Guard text cells against formula injection (default). Turn it off only for a program that reads the file.
    date_format
        ``strftime`` format of date and timestamp cells (default: their text form).

    Examples
    --------
    >>> import tempfile
    >>> out = write_csv(pd.DataFrame({"team": ["=1+1", "ops"], "cost": [Decimal("-1.50"), Decimal("2")]}),
    ...                 Path(tempfile.mkdtemp()) / "x.csv")
    >>> out.read_bytes().decode().splitlines()
    ['team,cost', "'=1+1,-1.50", 'ops,2']
    """
    target = Path(path).expanduser()
    with atomic_open(target, "w", encoding="utf-8", newline="") as handle:  # the old file stays whole on failure
        # CRLF rows (RFC 4180, as spreadsheets write them): a cell holding a carriage return is quoted too
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow([neutralise(str(c)) if neutralise_text else str(c) for c in frame.columns])
        for row in frame.itertuples(index=False, name=None):
            writer.writerow([_cell(v, date_format=date_format, guard=neutralise_text) for v in row])
    return target
