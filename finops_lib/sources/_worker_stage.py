"""A cloud bill's raw text staged on Spark's workers, in ranges of lines, during an ingest on a local session.

The cloud bills' readers (FOCUS, AWS CUR, Azure cost details) work in two steps: the file's raw columns are staged
as text, each row with its line, then a typed SELECT runs over the staged rows (meters parsed once, a key's
occurrences numbered over the whole file). The first step is the one that reads the file, and it is per line: for
a big plain CSV it runs on the offered workers (:func:`finops_lib.engines.workers.read_csv`), each range parsed by
the reader's own ``read_csv`` and text SELECT and numbered as the ingest machine numbers the whole file; the
second step then runs on the ingest machine over those rows as over rows it staged itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow as pa
from ibis.backends import BaseBackend

from finops_lib.engines import workers
from finops_lib.errors import SourceError
from finops_lib.sources._cloud import stage, text_source
from finops_lib.sources._csv import MISSING, PADDED, read_csv_sql, worker_rejects
from finops_lib.sources._sql import ident, quote

__all__ = ["RawSelect", "TextRows", "on_workers", "parquet_on_workers", "stage_text", "staged_on_workers"]

T = TypeVar("T")

#: A reader's SELECT of a file's raw columns as text: ``(source, {column: text expression}, path) -> (SQL, labels)``.
RawSelect = Callable[[str, dict[str, str], Path], tuple[str, dict[str, str]]]


@dataclass(frozen=True)
class TextRows:
    """A file's raw columns staged as text (:func:`stage_text`): the rows (with ``src_row``), what the reader needs.

    ``lines`` is the number of data lines when the rows and the rejected lines already carry their line numbers in
    the whole file (read in ranges on Spark's workers: the result is ``lines_final``), else None.
    """

    rows: str
    labels: dict[str, str]
    csv_rejects: str | None
    lines: int | None = None
    notes: tuple[str, ...] = ()


def stage_text(con: BaseBackend, path: Path, raw_select: RawSelect, *,
               required: Callable[[str], bool] | None) -> TextRows:
    """Stage a cloud bill's raw columns as text with the reader's ``raw_select``; return the rows and their labels.

    On the ingest machine the SELECT runs once into a Parquet file (:func:`stage`). A big plain CSV, during an
    ingest on a local Spark session that offers its workers (:func:`finops_lib.engines.workers.for_file`), is read
    there instead, in ranges of whole lines, each parsed by the same ``read_csv`` and ``raw_select`` and numbered
    as the ingest machine numbers the whole file; what the workers cannot number is read here, saying why.
    """
    source, types, csv_rejects = text_source(con, path, required=required)
    raw_sql, labels = raw_select(source, types, path)
    staged, notes = on_workers(
        path, csv=csv_rejects is not None,
        in_ranges=lambda pool: _stage_on_workers(pool, con, path, raw_select, required, raw_sql, labels),
        by_spark=lambda pool: _parquet_on_workers(pool, con, path, raw_select, required, raw_sql, labels, types))
    return staged or TextRows(stage(con, raw_sql, path), labels, csv_rejects, notes=notes)


def on_workers(path: Path, *, csv: bool, in_ranges: Callable[[workers.Workers], T],
               by_spark: Callable[[workers.Workers], T]) -> tuple[T | None, tuple[str, ...]]:
    """Stage a big bill's text on the offered workers when they can read it; return (what they staged, notes).

    A plain CSV (``csv``) goes to ``in_ranges`` when it can be split into ranges of lines, a Parquet file to
    ``by_spark`` (Spark's Parquet reader). None, with the reason as a note when the workers were tried and failed
    (:class:`~finops_lib.engines.workers.WorkersFailed`): the caller stages the file on the ingest machine. No
    workers offered (or a small file): None, no note.
    """
    pool = workers.for_file(path)
    try:
        if pool is not None and csv and workers.splittable(path):
            return in_ranges(pool), ()
        if pool is not None and not csv:
            return by_spark(pool), ()
    except workers.WorkersFailed as exc:
        return None, (f"read on the ingest machine: {exc}",)
    return None, ()


def _parquet_on_workers(pool: workers.Workers, con: BaseBackend, path: Path, raw_select: RawSelect,
                        required: Callable[[str], bool] | None, raw_sql: str, labels: dict[str, str],
                        texts: dict[str, str]) -> TextRows:
    """Stage the raw text of a big Parquet bill with Spark's Parquet reader on the workers, each row's number kept.

    Each batch Spark hands a worker goes through the reader's own text SELECT (``texts``: the casts the ingest
    machine's DuckDB gives the file's columns, maps and structs to JSON), so only files whose every column Spark
    reads as the same DuckDB type are read there (:func:`finops_lib.engines.workers.read_parquet`); ``src_row`` is
    the record's position + 2, as :func:`finops_lib.sources._cloud.stage` numbers it.
    """
    schema = _schema(con, raw_sql).append(pa.field("src_row", pa.int64()))

    def select(batch: str) -> str:
        if required is not None:
            batch = f"(SELECT *, false AS {PADDED}, NULL::VARCHAR AS {MISSING} FROM {batch})"
        sql, _ = raw_select(batch, texts, path)
        return f"SELECT *, NULL::BIGINT AS src_row FROM ({sql})"

    return replace(parquet_on_workers(pool, con, path, select, schema, line_column="src_row"), labels=labels)


def parquet_on_workers(pool: workers.Workers, con: BaseBackend, path: Path, select: Callable[[str], str],
                       schema: pa.Schema, *, line_column: str) -> TextRows:
    """Stage a big Parquet bill's text with Spark's Parquet reader on the workers; return the staged rows.

    ``select`` gives, for a relation of a batch's columns in the types Spark read them as, the reader's text SELECT
    with ``line_column`` (filled here with the record's position + 2, as the ingest machine's staging numbers it);
    ``schema`` is that SELECT's Arrow schema. Spark must read every column as the ingest machine's DuckDB does
    (:func:`finops_lib.engines.workers.read_parquet`), so the reader's casts give the same text.

    Raises
    ------
    finops_lib.engines.workers.WorkersFailed
        When Spark reads a column otherwise, cannot read the file, or its job failed; the caller stages the file on
        the ingest machine.
    """
    described = dict(con.con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                                     f"read_parquet({quote(str(path))}))").fetchall())
    read = workers.read_parquet(pool, path, select, schema, first_row=2, types=described, line_column=line_column)
    return TextRows(f"(SELECT * FROM read_parquet({quote(read.rows)}))", {}, None,
                    notes=(f"read by Spark's Parquet reader in {read.tasks} task{'s' if read.tasks != 1 else ''}",))


def _schema(con: BaseBackend, raw_sql: str) -> pa.Schema:
    """Return the Arrow schema of the reader's text SELECT, planned here (WorkersFailed when it cannot be)."""
    try:
        return con.con.execute(f"SELECT * FROM ({raw_sql}) LIMIT 0").fetch_arrow_table().schema
    except duckdb.Error as exc:  # staged here instead, where the same statement says what is wrong with the file
        raise workers.WorkersFailed(f"the file's columns could not be read: {str(exc).splitlines()[0]}") from exc


def _stage_on_workers(pool: workers.Workers, con: BaseBackend, path: Path, raw_select: RawSelect,
                      required: Callable[[str], bool] | None, raw_sql: str, labels: dict[str, str]) -> TextRows:
    """Stage the raw text of a big plain CSV on the offered workers, the rows' line in ``src_row``."""
    schema = _schema(con, raw_sql)
    scan = partial(_piece_scan, raw_select=raw_select, required=required, labels=labels, shown=str(path))
    return staged_on_workers(pool, con, path, scan, schema.append(pa.field("src_row", pa.int64())),
                             line_column="src_row", labels=labels)


def staged_on_workers(pool: workers.Workers, con: BaseBackend, path: Path, scan: Callable[[Path], tuple[str, str]],
                      schema: pa.Schema, *, line_column: str, labels: dict[str, str] | None = None) -> TextRows:
    """Stage a big plain CSV's text on the offered workers with ``scan``; return the staged rows and rejects.

    ``scan`` gives, for a CSV holding the header and some lines, the reader's text SELECT (with ``line_column``,
    filled here with each row's line in the whole file) and DuckDB's table of its rejected lines; ``schema`` is
    that SELECT's Arrow schema.

    Raises
    ------
    finops_lib.engines.workers.WorkersFailed
        When the lines cannot be numbered on the workers; the caller stages the file on the ingest machine.
    """
    read = workers.read_csv(pool, path, scan, schema, line_column=line_column)
    rows = f"(SELECT * FROM read_parquet({quote(read.rows)}))"
    return TextRows(rows, labels or {}, worker_rejects(con, read.rejects), read.lines,
                    (f"read in {read.tasks} ranges of lines on Spark's workers",))


def _piece_scan(piece: Path, *, raw_select: RawSelect, required: Callable[[str], bool] | None,
                labels: dict[str, str], shown: str) -> tuple[str, str]:
    """Return the raw text SELECT of a CSV holding the header and some lines of ``shown`` (on a Spark worker)."""
    source, names, rejects = read_csv_sql(piece, required=required)
    sql, piece_labels = raw_select(source, {n: ident(n) for n in names}, Path(shown))
    if piece_labels != labels:  # the header is copied into every piece: a difference is a fault of the split
        raise SourceError(Path(shown), "a range of lines read on a worker did not have the file's columns")
    return f"SELECT *, NULL::BIGINT AS src_row FROM ({sql})", rejects


