"""Read a big dump on Spark's workers; each batch or range of lines becomes rows by the reader's own SQL.

Three shapes: a Parquet file read by Spark's own reader (:func:`read_parquet`, below), a plain CSV file cut into
ranges of whole lines (:func:`read_csv`) and a plain JSON-lines file cut likewise (:func:`read_lines`).

Ingest on a local Spark engine (:func:`finops_lib.warehouse.ingestion.ingest`) *offers* the session's workers for
the duration of a run (:func:`offered`). A reader that can use them (the LiteLLM dumps,
:mod:`finops_lib.sources.litellm`) asks :func:`for_file` whether a file is worth a Spark job (at least
:data:`MIN_BYTES`, ``$FINOPS_SPARK_READ_MIN_BYTES``) and then calls one of the three reads. For Parquet:

* Spark's Parquet reader splits the file by row groups over the tasks; each row carries its exact position in
  the file (``_metadata.row_index``, pyspark 4.0), so every row keeps its ``x_SourceRow`` and a reject names it
  whichever task read it;
* on the worker, each Arrow batch Spark hands over goes through the *same* SELECT the reader runs on the ingest
  machine (vendor quirks, token buckets, reject marks), run by an in-memory DuckDB in the worker's Python process:
  one definition of the reader, so the rows cannot drift between engines. The worker writes its rows as one
  Parquet file in the declared schema (written under a temporary name, renamed into place: a retried task
  replaces its own file) and returns only its counts;
* the reader hands the ingest those files as its rows, and everything after (masking, duplicate ids, restatements,
  the count check, the ledger, the publish to the catalog) is the ingest's, unchanged.

The staging folder is the catalog folder's ``_worker-staging``; it is emptied when a run starts (what a killed run left)
and removed when the run ends. A Spark Connect engine is not offered: its workers cannot be assumed to share a
folder with the machine running the ingest. Workers need ``duckdb``, ``pyarrow`` and this package importable
(true of a local session; on a cluster, installed on every node).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from finops_lib.engines.line_ranges import BlockScan, WorkersFailed, plan_ranges, scan_block

__all__ = ["BLOCK_BYTES", "RangesRead", "Workers", "WorkersFailed", "for_file", "offered",
           "read_csv", "read_lines", "read_parquet", "spark_unreadable", "splittable"]

#: Files smaller than this are read on the ingest machine (a Spark job's start costs more than it saves).
MIN_BYTES = 64 * 2**20
#: The column carrying each row's position in its file (Spark's ``_metadata.row_index``, from 0).
POSITION = "__finops_position"
#: The staging folder's name in the catalog folder (not an identifier: never registered as a table).
STAGING = "_worker-staging"
#: Rows a worker's DuckDB converts at a time (Spark's batches gathered; about 60 MB of LiteLLM rows).
CHUNK_ROWS = 100_000
#: Name the worker's DuckDB gives Spark's batch.
BATCH = "__finops_batch"


@dataclass(frozen=True)
class Workers:
    """A Spark session's workers, offered to readers for one ingest run; ``staging`` is shared with them."""

    session: object
    staging: Path
    min_bytes: int
    block_bytes: int = 0  # 0: BLOCK_BYTES


_OFFERED: ContextVar[Workers | None] = ContextVar("finops_workers", default=None)


def min_bytes() -> int:
    """Return the size from which a file is read on the workers (``$FINOPS_SPARK_READ_MIN_BYTES``, else 64 MiB)."""
    raw = os.environ.get("FINOPS_SPARK_READ_MIN_BYTES", "").strip()
    return int(raw) if raw else MIN_BYTES


@contextmanager
def offered(session: object, staging: Path) -> Iterator[Workers]:
    """Offer ``session``'s workers to the readers inside the block, staging their rows under ``staging``."""
    shutil.rmtree(staging, ignore_errors=True)  # what a killed run left
    staging.mkdir(parents=True)
    block = os.environ.get("FINOPS_SPARK_READ_BLOCK_BYTES", "").strip()
    token = _OFFERED.set(Workers(session, staging, min_bytes(), int(block) if block else 0))
    try:
        yield _OFFERED.get()
    finally:
        _OFFERED.reset(token)
        shutil.rmtree(staging, ignore_errors=True)


def for_file(path: Path) -> Workers | None:
    """Return the offered workers when ``path`` is big enough to read on them, else None."""
    workers = _OFFERED.get()
    if workers is None:
        return None
    try:
        return workers if path.stat().st_size >= workers.min_bytes else None
    except OSError:
        return None


def spark_unreadable(path: Path) -> str | None:
    """Return why Spark's Parquet reader cannot read ``path`` as the ingest machine does, or None when it can.

    Nanosecond timestamps (what pandas writes by default) are refused by Spark 4 unless read as plain integers,
    which would change what the reader sees; Spark converts the whole footer's schema, so such a column refuses the
    file even when it is not selected.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    for field in pq.read_schema(path):
        if pa.types.is_timestamp(field.type) and field.type.unit == "ns":
            return f"column {field.name!r} holds nanosecond timestamps, which Spark's Parquet reader refuses"
    return None


@dataclass(frozen=True)
class RangesRead:
    """What a read on the workers staged: each task's rows (and rejects, for a read in ranges of lines).

    ``lines``: the data lines the first job counted (:func:`read_csv`); ``infos``: what the reader's function said of
    each range, in the ranges' order (:func:`read_lines`).
    """

    folder: Path
    tasks: int
    lines: int = 0
    infos: tuple[dict, ...] = ()

    @property
    def rows(self) -> str:
        """The glob of the staged rows, for ``read_parquet``."""
        return str(self.folder / "rows-*.parquet")

    @property
    def rejects(self) -> str:
        """The glob of the staged rejects, for ``read_parquet``.

        DuckDB's CSV rejected lines (:data:`REJECT_COLUMNS`) for :func:`read_csv`, the declared ``rejects`` columns
        for :func:`read_lines`.
        """
        return str(self.folder / "rejects-*.parquet")


def read_parquet(workers: Workers, path: Path, select_sql: Callable[[str], str], schema, *,
                 first_row: int, columns: Iterable[str] | None = None, types: dict[str, str] | None = None,
                 line_column: str | None = None) -> RangesRead:
    """Read ``path`` with Spark's Parquet reader and turn each batch into ``table`` rows on the workers.

    Parameters
    ----------
    workers
        The offered workers (:func:`for_file`).
    path
        The Parquet file.
    select_sql
        The reader's SELECT, given its source: a relation with the file's columns as text (DuckDB's
        ``::VARCHAR`` of what Spark read), ``__row`` (the record's number: its position plus ``first_row``) and
        ``__locator`` (null), as the reader's numbered sources have.
    schema
        The Arrow schema of the declared table the SELECT fills: the rows are written in it.
    first_row
        The number of the file's first record (what the same reader numbers it on the ingest machine).
    columns
        The columns the SELECT reads (None: all). Spark reads only these, so a dump's bulky columns the reader
        never looks at (prompts and responses) are not read at all.
    types
        The DuckDB types the ingest machine reads the file's columns as (``DESCRIBE``). Given, the source keeps the
        columns in the types Spark read them as (the reader casts them itself), and they must be the same types:
        a column Spark reads otherwise (``WorkersFailed``) would give other text.
    line_column
        A column of the SELECT's rows filled here with each row's number (its position plus ``first_row``): the
        SELECT must give one row per record, in the batch's order (a projection).

    Returns
    -------
    RangesRead
        The staged rows (one file a task), for the reader to hand to the ingest.

    Raises
    ------
    WorkersFailed
        When Spark cannot read the file (:func:`spark_unreadable`) or its job failed; nothing is staged, and the
        reader reads the file on the ingest machine instead.
    """
    from pyspark.sql import functions as F

    wanted = None if columns is None else set(columns)
    if why := spark_unreadable(path):
        raise WorkersFailed(why)
    with _staged(workers) as folder:
        frame = workers.session.read.parquet(str(path))
        names = [c for c in frame.columns if c != POSITION and (wanted is None or c in wanted)]
        frame = frame.select(*[F.col("`" + c.replace("`", "``") + "`") for c in names],
                             F.col("_metadata.row_index").alias(POSITION))
        if types is None:
            text = ", ".join(f'"{c}"::VARCHAR AS "{c}"' for c in (c.replace('"', '""') for c in names))
        else:
            _same_types(frame, types)
            text = f"* EXCLUDE ({POSITION})"
        source = f"(SELECT {text}, {POSITION} + {int(first_row)} AS __row, NULL::VARCHAR AS __locator FROM {BATCH})"
        convert = partial(_convert, sql=select_sql(source), schema=schema, folder=str(folder),
                          numbered=None if line_column is None else (line_column, int(first_row)))
        counts = frame.mapInArrow(convert, "task INT, rows BIGINT").collect()
    if not counts:  # a file without rows: no task ran, and the ingest reads an empty file of the declared columns
        import pyarrow.parquet as pq

        pq.write_table(schema.empty_table(), folder / "rows-00000.parquet")
    return RangesRead(folder, len(counts))


def _same_types(frame, types: dict[str, str]) -> None:
    """Raise :class:`WorkersFailed` unless Spark reads every column of ``types`` as the ingest machine's DuckDB does.

    Compared as DuckDB types of the Arrow batches Spark hands the workers (a timestamp's unit aside: its text is
    the same), so that the reader's casts give the same text on both machines.
    """
    import duckdb
    from pyspark.sql.pandas.types import to_arrow_schema

    try:
        arrow = to_arrow_schema(frame.schema, timezone="UTC", prefers_large_types=False)
    except TypeError:  # an older pyspark's signature
        arrow = to_arrow_schema(frame.schema)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("__finops_schema", arrow.empty_table())
        spark_types = {name: kind for name, kind, *_ in con.execute("DESCRIBE __finops_schema").fetchall()}
    finally:
        con.close()

    def plain(kind: str) -> str:
        return "TIMESTAMP" if kind in ("TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS") else kind

    for name, kind in types.items():
        if name in spark_types and plain(spark_types[name]) != plain(kind):
            raise WorkersFailed(f"column {name!r} reads as {spark_types[name]} on Spark but {kind} here")


def _convert(batches, *, sql: str, schema, folder: str, numbered: tuple[str, int] | None = None):
    """On a worker: run the reader's SELECT over Spark's batches, write one Parquet file, yield the counts.

    ``numbered``: (column, first row): that column of the SELECT's rows is filled with each row's number.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from pyspark import TaskContext

    task = TaskContext.get()
    part = task.partitionId() if task else 0
    con = _worker_duckdb()
    final = Path(folder) / f"rows-{part:05d}.parquet"
    temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex}")
    rows = 0
    with pq.ParquetWriter(temporary, schema) as writer:
        for chunk in _chunks(batches, CHUNK_ROWS):
            con.register(BATCH, chunk)
            out = con.execute(sql).fetch_arrow_table()
            con.unregister(BATCH)
            if numbered is not None:
                column, first = numbered
                if out.num_rows != chunk.num_rows:
                    raise WorkersFailed(f"the reader's SELECT gave {out.num_rows} rows of {chunk.num_rows} records")
                lines = pc.add(chunk[POSITION].cast(pa.int64()), first)
                out = out.set_column(out.schema.get_field_index(column), column, lines)
            writer.write_table(_declared(out, schema))
            rows += out.num_rows
    os.replace(temporary, final)
    con.close()
    yield pa.RecordBatch.from_pydict({"task": [part], "rows": [rows]},
                                     schema=pa.schema([("task", pa.int32()), ("rows", pa.int64())]))


def _worker_duckdb():
    """Return the in-memory DuckDB a task runs the reader's SQL in.

    UTC as on the ingest machine; one thread (Spark runs a task per core), which keeps the rows in file order.
    """
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # as the ingest machine's DuckDB (finops_lib.engine.connect)
    con.execute("SET threads = 1")
    con.execute("SET preserve_insertion_order = true")
    return con


def _chunks(batches, rows: int):
    """Yield Spark's Arrow batches (10,000 rows each by default) gathered into tables of about ``rows`` rows.

    The reader's SELECT is long: planned once per chunk rather than once per small batch.
    """
    import pyarrow as pa

    held, count = [], 0
    for batch in batches:
        held.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(held)
            held, count = [], 0
    if held:
        yield pa.Table.from_batches(held)


def _declared(out, schema):
    """Return the SELECT's Arrow rows in the declared schema: its columns cast, the ones it lacks null."""
    import pyarrow as pa

    have = set(out.column_names)
    arrays = [out[f.name].cast(f.type) if f.name in have else pa.nulls(out.num_rows, f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


# --- CSV dumps: the file split into byte ranges of whole lines, each parsed by the reader's own DuckDB scan --------

#: Bytes a task scans for line boundaries, and about what each parsing task reads.
BLOCK_BYTES = 64 * 2**20
#: Magic bytes of compressed files (not splittable into ranges of lines).
_COMPRESSED = (b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"BZh", b"\xfd7zXZ", b"PK\x03\x04")


#: The columns of DuckDB's CSV rejects that the ingest reads (:func:`finops_lib.warehouse.loading.settle`).
REJECT_COLUMNS = ("line", "column_name", "csv_line", "error_type", "error_message")


def splittable(path: Path) -> bool:
    """Whether ``path`` is a plain (uncompressed) file, which can be read in ranges of bytes."""
    with path.open("rb") as fh:
        head = fh.read(6)
    return not head.startswith(_COMPRESSED)


def read_csv(workers: Workers, path: Path, scan: Callable[[Path], tuple[str, str]], schema, *,
             block_bytes: int | None = None, line_column: str = "x_SourceRow") -> RangesRead:
    """Read a plain CSV dump on the workers: ranges of whole lines, each parsed by the reader's own DuckDB scan.

    Two Spark jobs. The first scans blocks of the file for the newlines that end records (with quote parity, so a
    block knows its boundaries whether it starts inside a quoted field or not); the ingest machine then cuts the
    file into ranges of whole lines and knows each range's first line number. The second gives each task a range:
    the header and its lines are parsed by ``scan`` (the reader's ``read_csv`` and SELECT, as on the ingest
    machine), the rows numbered by position and moved down past the lines the scan rejected, exactly as the ingest
    machine numbers a whole file, then offset to the line numbers of the whole file.

    Parameters
    ----------
    workers
        The offered workers.
    path
        A plain CSV file (:func:`splittable`).
    scan
        Given a CSV file (the header and some lines), returns (the reader's SELECT over it, the name of the table
        where DuckDB stores its rejected lines).
    schema
        The Arrow schema of the declared table the SELECT fills.
    block_bytes
        The size of the blocks scanned for boundaries (default ``$FINOPS_SPARK_READ_BLOCK_BYTES``, else
        :data:`BLOCK_BYTES`).
    line_column
        The column of the SELECT that receives each row's line number in the whole file.

    Raises
    ------
    WorkersFailed
        When the lines cannot be numbered as the ingest machine numbers them (a quoted field spanning lines, a blank
        line) or a job failed; the reader reads the file on the ingest machine instead.
    """
    size = path.stat().st_size
    with _staged(workers) as folder:
        scans = _scan_blocks(workers, path, block_bytes)
        with path.open("rb") as fh:
            fh.seek(max(size - 1, 0))
            ends_with_newline = fh.read(1) == b"\n"
        ranges, lines = plan_ranges(scans, size, ends_with_newline=ends_with_newline)
        todo = workers.session.createDataFrame([(r.index, r.start, r.end, r.base) for r in ranges],
                                               "index INT, start LONG, end LONG, base LONG").repartition(len(ranges))
        parse = partial(_parse_task, path=str(path), header_end=ranges[0].start, scan=scan, schema=schema,
                        folder=str(folder), line_column=line_column)
        done = todo.mapInArrow(parse, "index INT, rows LONG, rejected LONG").collect()
        _all_back(done, len(ranges))
    return RangesRead(folder, len(done), lines=lines)


@contextmanager
def _staged(workers: Workers) -> Iterator[Path]:
    """Give a staging folder for one file's read; on any failure remove it, and name a Spark error as such."""
    folder = workers.staging / uuid.uuid4().hex
    folder.mkdir()
    try:
        yield folder
    except WorkersFailed:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    except Exception as exc:  # Spark raises its own types (AnalysisException, PythonException, Py4J errors)
        shutil.rmtree(folder, ignore_errors=True)
        raise WorkersFailed(f"Spark's job failed: {str(exc).strip().splitlines()[0][:300]}") from exc


def _scan_blocks(workers: Workers, path: Path, block_bytes: int | None) -> list[BlockScan]:
    """Run the first job of a read in ranges: every block of the file scanned for record ends, in file order."""
    size = path.stat().st_size
    block = int(block_bytes or workers.block_bytes or BLOCK_BYTES)
    blocks = [(start, min(start + block, size)) for start in range(0, size, block)]
    frame = workers.session.createDataFrame(blocks, "start LONG, end LONG").repartition(len(blocks))
    found = frame.mapInArrow(partial(_scan_task, path=str(path)), _SCAN_SCHEMA).collect()
    return sorted((BlockScan(r["start"], (r["first0"], r["first1"]), (r["quoted0"], r["quoted1"]), r["parity"],
                             r["newlines"], r["blank"]) for r in found), key=lambda b: b.start)


def _all_back(done: list, count: int) -> None:
    """Fail unless every one of ``count`` ranges came back from a task."""
    if sorted(r["index"] for r in done) != list(range(count)):
        raise WorkersFailed("a range of the file came back from no task")


_SCAN_SCHEMA = ("start LONG, first0 LONG, first1 LONG, quoted0 LONG, quoted1 LONG, parity INT, newlines LONG, "
                "blank BOOLEAN")


def _scan_task(batches, *, path: str):
    """On a worker: scan the blocks of the file it was given (start, end) for record boundaries."""
    import pyarrow as pa

    names = ["start", "first0", "first1", "quoted0", "quoted1", "parity", "newlines", "blank"]
    types = [pa.int64(), pa.int64(), pa.int64(), pa.int64(), pa.int64(), pa.int32(), pa.int64(), pa.bool_()]
    with open(path, "rb") as fh:
        for batch in batches:
            out = []
            for start, end in zip(batch.column("start").to_pylist(), batch.column("end").to_pylist(), strict=True):
                fh.seek(start)
                data = fh.read(end - start)
                s = scan_block(data, start, past=fh.read(2))
                out.append([s.start, s.first[0], s.first[1], s.quoted[0], s.quoted[1], s.parity, s.newlines,
                            s.blank])
            yield pa.RecordBatch.from_arrays([pa.array([row[i] for row in out], t) for i, t in enumerate(types)],
                                             names=names)


def _parse_task(batches, *, path: str, header_end: int, scan, schema, folder: str, line_column: str):
    """On a worker: parse each range given (index, start, end, base) with the reader's scan; stage rows and rejects."""
    import tempfile

    import pyarrow as pa

    out = []
    for batch in batches:
        for index, start, end, base in zip(*(batch.column(c).to_pylist() for c in ("index", "start", "end", "base")),
                                           strict=True):
            rows, rejected = _parse_range(path, header_end, index, start, end, base, scan, schema, Path(folder),
                                          Path(tempfile.gettempdir()), line_column)
            out.append((index, rows, rejected))
    yield pa.RecordBatch.from_arrays([pa.array([o[0] for o in out], pa.int32()), pa.array([o[1] for o in out],
                                      pa.int64()), pa.array([o[2] for o in out], pa.int64())],
                                     names=["index", "rows", "rejected"])


def _parse_range(path: str, header_end: int, index: int, start: int, end: int, base: int, scan, schema,
                 folder: Path, scratch: Path, line_column: str) -> tuple[int, int]:
    import numpy as np
    import pyarrow as pa

    piece = scratch / f"finops-range-{uuid.uuid4().hex}.csv"
    try:
        with open(path, "rb") as src, piece.open("wb") as dst:
            dst.write(src.read(header_end))
            src.seek(start)
            left = end - start
            while left > 0:
                chunk = src.read(min(left, 8 * 2**20))
                if not chunk:
                    break
                dst.write(chunk)
                left -= len(chunk)
        con = _worker_duckdb()
        sql, rejects = scan(piece)
        rows = con.execute(sql).fetch_arrow_table()
        bad = con.execute(f"SELECT {', '.join(REJECT_COLUMNS)} FROM {rejects}").fetch_arrow_table()
        con.close()
    finally:
        piece.unlink(missing_ok=True)
    # Numbered as the ingest machine numbers a whole file: by position (the header is line 1), then moved down past
    # the lines the scan rejected before them (finops_lib.warehouse.loading), then offset into the whole file.
    rejected = np.asarray(bad.column("line").to_pylist(), dtype=np.int64)
    lines = np.unique(rejected)
    position = np.arange(rows.num_rows, dtype=np.int64) + 2
    shift = np.searchsorted(lines - np.arange(1, len(lines) + 1), position - 1, side="right")
    numbered = rows.set_column(rows.schema.get_field_index(line_column), line_column,
                               pa.array(position + shift + base, pa.int64()))
    _write(folder / f"rows-{index:05d}.parquet", _declared(numbered, schema))
    moved = bad.set_column(0, "line", pa.array(rejected + base, pa.int64()))
    _write(folder / f"rejects-{index:05d}.parquet", moved)
    return rows.num_rows, len(lines)


def _write(final: Path, table) -> None:
    """Write a Parquet file under a temporary name, then rename it into place (a retried task replaces its own)."""
    import pyarrow.parquet as pq

    temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex}")
    pq.write_table(table, temporary)
    os.replace(temporary, final)


# --- JSON lines: ranges of lines, each parsed by the reader's own function ---------------------------------------


def read_lines(workers: Workers, path: Path, stage: Callable, select_sql: str, schema, *,
               block_bytes: int | None = None) -> RangesRead:
    r"""Read a plain file of one record per line (JSON lines) on the workers, in ranges of whole lines.

    No record spans lines in such a file, so every newline ends one: a first Spark job counts the newlines of each
    block, the ingest machine cuts the file after the first newline of each block and knows the number of each
    range's first line (as ``data.split(b"\n")`` numbers the lines of the whole file, from 1); a second gives each
    task a range, whose numbered lines ``stage`` turns into (staged rows, rejects, info): an Arrow table the reader's
    ``select_sql`` reads as :data:`BATCH` (its result is written in ``schema``), the rejects in the declared
    ``rejects`` schema, and a JSON-able dict the reader reads back (``infos``, in the ranges' order) to apply its
    rules about the whole file.

    Raises
    ------
    WorkersFailed
        When a job failed; the reader reads the file on the ingest machine instead.
    """
    import json

    size = path.stat().st_size
    with _staged(workers) as folder:
        cuts, seen = [(0, 0)], 0  # (position where a range starts, newlines before it)
        for scan in _scan_blocks(workers, path, block_bytes):
            # The block's first newline, whatever its quotes (a JSON string escapes its quotes and newlines): the
            # first that ends a record outside quotes for one of the two starting states.
            first = min((f for f in scan.first if f >= 0), default=-1)
            if scan.start > 0 and first >= 0:
                cuts.append((first + 1, seen + 1))
            seen += scan.newlines
        ranges = [(i, start, cuts[i + 1][0] if i + 1 < len(cuts) else size, before + 1)
                  for i, (start, before) in enumerate(cuts)]
        todo = workers.session.createDataFrame(ranges, "index INT, start LONG, end LONG, first_line LONG") \
            .repartition(len(ranges))
        lines = partial(_lines_task, path=str(path), stage=stage, sql=select_sql, schema=schema, folder=str(folder))
        done = todo.mapInArrow(lines, "index INT, info STRING").collect()
        _all_back(done, len(ranges))
    infos = [json.loads(r["info"]) for r in sorted(done, key=lambda r: r["index"])]
    return RangesRead(folder, len(done), infos=tuple(infos))


def _lines_task(batches, *, path: str, stage: Callable, sql: str, schema, folder: str):
    """On a worker: stage each range of lines given (index, start, end, first_line) and write its rows and rejects.

    The rows are the reader's SELECT over the staged lines, in the declared schema.
    """
    import json

    import pyarrow as pa

    out = []
    con = _worker_duckdb()
    with open(path, "rb") as fh:
        for batch in batches:
            for index, start, end, first_line in zip(
                    *(batch.column(c).to_pylist() for c in ("index", "start", "end", "first_line")), strict=True):
                fh.seek(start)
                staged, rejects, info = stage(list(enumerate(fh.read(end - start).split(b"\n"), start=first_line)))
                con.register(BATCH, staged)
                rows = con.execute(sql).fetch_arrow_table()
                con.unregister(BATCH)
                _write(Path(folder) / f"rows-{index:05d}.parquet", _declared(rows, schema))
                _write(Path(folder) / f"rejects-{index:05d}.parquet", rejects)
                out.append((index, json.dumps(info)))
    con.close()
    yield pa.RecordBatch.from_arrays([pa.array([o[0] for o in out], pa.int32()), pa.array([o[1] for o in out])],
                                     names=["index", "info"])
