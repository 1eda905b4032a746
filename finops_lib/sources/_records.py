"""Record readers for exported tables: JSON lines or a JSON array, CSV, and Parquet (optionally gzip).

Each yields ``(line or ordinal, locator, record)``; a line that cannot be a record (not JSON, not
UTF-8, a wrong field count) comes as a :class:`~finops_lib.sources._common.Fault` in place of the
record, for the reader to reject. Only a file that cannot be read as a whole raises
:class:`~finops_lib.errors.SourceError`. Used by the GCP billing export reader.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from finops_lib.errors import SourceError
from finops_lib.sources import read_head
from finops_lib.sources._common import Fault, json_number, reject
from finops_lib.sources._compressed import open_input

#: (line or ordinal, locator, record or Fault).
Record = tuple[int, str | None, Any]
#: ``require(path, column names, header line)``: raises SourceError when a required column is missing.
Require = Callable[[Path, list[str], int | None], None]


def _binary(path: Path) -> Any:
    return open_input(path)


def json_records(path: Path, head: str) -> Iterator[Record]:
    """Yield (line, locator, record) of a JSON-lines file, or of a JSON array (ordinal, ``[i]``)."""
    if head.lstrip("\ufeff \t\r\n").startswith("["):
        with _binary(path) as fh:
            try:
                doc = json.loads(fh.read().decode("utf-8-sig"), parse_float=json_number)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise SourceError(path, f"not a valid JSON array: {exc}") from exc
        for i, rec in enumerate(doc if isinstance(doc, list) else [doc]):
            yield i + 1, f"[{i}]", rec
        return
    with _binary(path) as fh:
        for line, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8-sig" if line == 1 else "utf-8").strip()
            except UnicodeDecodeError:
                yield line, None, Fault("record", raw.decode("latin-1")[:200], "line is not valid UTF-8")
                continue
            if not text:
                continue
            try:
                yield line, None, json.loads(text, parse_float=json_number)
            except json.JSONDecodeError as exc:
                yield line, None, Fault("record", text, f"not valid JSON: {exc.msg} (char {exc.colno})")


def csv_records(path: Path, require: Require) -> Iterator[Record]:
    """Yield (line, None, record) of a CSV file (header = line 1), after ``require`` checked its header."""
    with open_input(path, "rt", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        reader = csv.reader(fh)
        names = next(reader, None)
        if not names or any(bad_text(n) for n in names) or len(set(names)) != len(names):
            raise SourceError(path, "missing, undecodable or repeated CSV header names", line=1)
        require(path, names, 1)
        last = 1
        for fields in reader:
            line, last = last + 1, reader.line_num
            if not fields:
                continue
            text = ",".join(fields)
            if len(fields) != len(names):
                yield line, None, Fault("record", text, f"expected {len(names)} fields, found {len(fields)}")
            elif bad_text(text):
                yield line, None, Fault("record", text, "line is not valid UTF-8")
            else:
                yield line, None, {n: (v if v != "" else None) for n, v in zip(names, fields, strict=True)}


def bad_text(text: str) -> bool:
    """Whether ``text`` holds characters that are not valid UTF-8 (lone surrogates of undecodable bytes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parquet_records(path: Path, require: Require) -> Iterator[Record]:
    """Yield (row ordinal, None, record) of a Parquet file (nested structs as dicts), after ``require``."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        require(path, parquet.schema_arrow.names, None)
        batches = parquet.iter_batches(batch_size=8192)
        ordinal = 0
        for batch in batches:
            for rec in batch.to_pylist():
                ordinal += 1
                yield ordinal, None, rec
    except SourceError:
        raise
    except Exception as exc:  # pyarrow raises many types for a corrupt file
        raise SourceError(path, f"cannot read the Parquet file: {exc}") from exc


def records(path: Path, require: Require) -> Iterator[Record]:
    """Yield (line or ordinal, locator, record or :class:`Fault`) of a JSON-lines/JSON-array, CSV or Parquet file.

    ``require(path, column names, header line)`` raises :class:`~finops_lib.errors.SourceError` when a
    tabular file lacks a column the reader needs.
    """
    head = read_head(path, 4096)
    if head.startswith("PAR1"):
        return parquet_records(path, require)
    if head.lstrip("\ufeff \t\r\n").startswith(("{", "[")):
        return json_records(path, head)
    return csv_records(path, require)


def build_rows(found: Iterable[Record], build: Callable[[Any, int, str | None], dict[str, Any]], *, fmt: str,
               path: str, table: str = "requests") -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Build a row from each record; a :class:`Fault` (yielded or raised by ``build``) becomes a reject.

    ``build(record, line or ordinal, locator)`` returns the row. Returns (rows, rejects, records read).
    """
    rows, rejects, count = [], [], 0
    for ordinal, locator, rec in found:
        count += 1
        try:
            if isinstance(rec, Fault):
                raise rec
            rows.append(build(rec, ordinal, locator))
        except Fault as fault:
            rejects.append(reject(fmt, path, ordinal, fault.column, fault.value, fault.reason, table, locator))
    return rows, rejects, count


def export_records(path: Path, *, required: tuple[str, ...], what: str,
                   json_records: Callable[[Path], Iterable[Record]]) -> tuple[Iterable[Record], bool]:
    """Return the records of an export written as CSV or JSON (told by its first byte), and whether it is CSV.

    A CSV must name every ``required`` column (else :class:`SourceError` naming the first missing one and "the
    required ``what`` column"); JSON goes to ``json_records``.
    """
    def require(path: Path, names: list[str], line: int | None) -> None:
        for column in required:
            if column not in names:
                raise SourceError(path, f"required {what} column is missing", line=line, column=column)

    is_csv = not read_head(path, 64).lstrip("\ufeff \t\r\n").startswith(("{", "["))
    return (csv_records(path, require) if is_csv else json_records(path)), is_csv
