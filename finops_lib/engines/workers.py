"""Read a big Parquet file with Spark's own reader on its workers; each batch becomes rows by the reader's own SQL.

Ingest on a local Spark engine (:func:`finops_lib.warehouse.ingestion.ingest`) *offers* the session's workers for
the duration of a run (:func:`offered`). A reader that can use them (the LiteLLM Parquet dump,
:mod:`finops_lib.sources.litellm`) asks :func:`for_file` whether a file is worth a Spark job (at least
:data:`MIN_BYTES`, ``$FINOPS_SPARK_READ_MIN_BYTES``) and then calls :func:`read_parquet`:

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
    token = _OFFERED.set(Workers(session, staging, min_bytes()))
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


class WorkersFailed(Exception):
    """Spark could not read the file on its workers (a type it cannot read, a failed job): read it elsewhere."""


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
class WorkerRead:
    """What :func:`read_parquet` staged: the folder of Parquet files, the rows and the tasks that wrote them."""

    folder: Path
    rows: int
    tasks: int

    @property
    def files(self) -> str:
        """The glob of the staged files, for ``read_parquet``."""
        return str(self.folder / "*.parquet")


def read_parquet(workers: Workers, path: Path, select_sql: Callable[[str], str], schema, *,
                 first_row: int, columns: Iterable[str] | None = None) -> WorkerRead:
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

    Returns
    -------
    WorkerRead
        The staged files, for the reader to hand to the ingest.

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
    folder = workers.staging / uuid.uuid4().hex
    folder.mkdir()
    try:
        frame = workers.session.read.parquet(str(path))
        names = [c for c in frame.columns if c != POSITION and (wanted is None or c in wanted)]
        frame = frame.select(*[F.col("`" + c.replace("`", "``") + "`") for c in names],
                             F.col("_metadata.row_index").alias(POSITION))
        text = ", ".join(f'"{c}"::VARCHAR AS "{c}"' for c in (c.replace('"', '""') for c in names))
        source = f"(SELECT {text}, {POSITION} + {int(first_row)} AS __row, NULL::VARCHAR AS __locator FROM {BATCH})"
        convert = partial(_convert, sql=select_sql(source), schema=schema, folder=str(folder))
        counts = frame.mapInArrow(convert, "task INT, rows BIGINT").collect()
    except Exception as exc:  # Spark raises its own types (AnalysisException, PythonException, Py4J errors)
        shutil.rmtree(folder, ignore_errors=True)
        raise WorkersFailed(f"Spark's job failed: {str(exc).strip().splitlines()[0][:300]}") from exc
    if not counts:  # a file without rows: no task ran, and the ingest reads an empty file of the declared columns
        import pyarrow.parquet as pq

        pq.write_table(schema.empty_table(), folder / "part-00000.parquet")
    return WorkerRead(folder, sum(r["rows"] for r in counts), len(counts))


def _convert(batches, *, sql: str, schema, folder: str):
    """On a worker: run the reader's SELECT over Spark's batches, write one Parquet file, yield the counts."""
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark import TaskContext

    task = TaskContext.get()
    part = task.partitionId() if task else 0
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # as the ingest machine's DuckDB (finops_lib.engine.connect)
    con.execute("SET threads = 1")  # Spark runs a task per core
    final = Path(folder) / f"part-{part:05d}.parquet"
    temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex}")
    rows = 0
    with pq.ParquetWriter(temporary, schema) as writer:
        for chunk in _chunks(batches, CHUNK_ROWS):
            con.register(BATCH, chunk)
            out = con.execute(sql).fetch_arrow_table()
            con.unregister(BATCH)
            writer.write_table(_declared(out, schema))
            rows += out.num_rows
    os.replace(temporary, final)
    con.close()
    yield pa.RecordBatch.from_pydict({"task": [part], "rows": [rows]},
                                     schema=pa.schema([("task", pa.int32()), ("rows", pa.int64())]))


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
