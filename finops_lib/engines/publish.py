"""Publish an ingest warehouse (DuckDB) to a Spark catalog folder, one Parquet file per source file.

Ingest on Spark keeps every guarantee of the DuckDB ingest (nothing lost, re-ingest never double counts,
restatements, rejects with file and line) by running it on a DuckDB *ingest warehouse* that lives in the Spark
catalog folder (``_ingest.duckdb``): it holds the ledger and the rows, and the readers (vendor quirks, line numbers,
rejects) run there unchanged. The catalog's tables are then brought level with it here:

* ``costs``, ``requests`` and ``rejects`` are folders of Parquet files, one per source file
  (``src-<digest of the path>.parquet``), each carrying a fingerprint of its rows (count and an order-free hash of
  every row) in its footer. A publish rewrites only the files whose fingerprint changed (a new or replaced file, a
  file whose rows a newer delivery superseded) and removes those of files gone, so a day's ingest rewrites that
  day's files, not the year.
* ``ingested_files`` and ``ingested_windows`` (one row per file) are rewritten whole.
* Every table keeps an empty ``schema.parquet`` so a table with no rows yet still has its declared columns.

Each Parquet file is written under a temporary name and renamed into place (atomic per file). A publish that
stopped part-way (its marker ``_publishing`` is still there) is completed by the next run, which compares every
fingerprint. Spark then re-reads the folders (``REFRESH TABLE``).

A Spark Connect engine (a remote cluster) has no local catalog folder: its tables are replaced whole through Arrow
(:func:`finops_lib.engines.transfer.copy_tables`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pyarrow.parquet as pq
from ibis.backends import BaseBackend

from finops_lib.engines.spark import catalog_folder, register_table
from finops_lib.engines.transfer import copy_tables

#: Tables with one Parquet file per source file.
BY_FILE = ("costs", "requests", "metrics", "rejects")
#: Small tables (a row per file or window) rewritten whole.
WHOLE = ("ingested_files", "ingested_windows")
#: The ingest warehouse's file name in the catalog folder.
INGEST_FILE = "_ingest.duckdb"
MARKER = "_publishing"
FINGERPRINT = b"finops_fingerprint"
SCHEMA_FILE = "schema.parquet"


def ingest_warehouse(target: BaseBackend) -> Path | None:
    """Return the DuckDB ingest warehouse of a local Spark engine (in its catalog folder); None for a remote one."""
    folder = _local_folder(target)
    return None if folder is None else folder / INGEST_FILE


def _local_folder(target: BaseBackend) -> Path | None:
    session = target._session
    if _is_remote(session):
        return None
    return catalog_folder(session)


def _is_remote(session) -> bool:
    return type(session).__module__.startswith("pyspark.sql.connect")


def file_part(source_file: str) -> str:
    """Return the Parquet file name holding the rows of ``source_file`` in a by-file table.

    >>> file_part("/data/a.csv")
    'src-41998143faa481bceb9d75bc.parquet'
    """
    return f"src-{hashlib.sha256(source_file.encode()).hexdigest()[:24]}.parquet"


def needs_publish(target: BaseBackend) -> bool:
    """Return whether the catalog lacks a table or holds a publish that stopped part-way."""
    folder = _local_folder(target)
    if folder is None:  # a remote catalog: its tables are copied whole, so only a missing one needs it
        return not {*BY_FILE, *WHOLE} <= set(target.list_tables())
    if (folder / MARKER).exists():
        return True
    return any(not (folder / t / SCHEMA_FILE).exists() for t in (*BY_FILE, *WHOLE))


def publish(stage: BaseBackend, target: BaseBackend) -> dict[str, int]:
    """Bring the Spark catalog's tables level with the ingest warehouse ``stage``; return files written per table.

    Parameters
    ----------
    stage
        The DuckDB ingest warehouse (holding the declared tables).
    target
        The Spark engine.

    Returns
    -------
    dict[str, int]
        Parquet files written (or, for a remote engine, rows copied) per table.
    """
    folder = _local_folder(target)
    if folder is None:
        return copy_tables(stage, target, tables=(*BY_FILE, *WHOLE))
    raw = stage.con
    session = target._session
    marker = folder / MARKER
    marker.touch()
    written: dict[str, int] = {}
    for table in (*BY_FILE, *WHOLE):
        location = folder / table
        location.mkdir(parents=True, exist_ok=True)
        _write(raw, f'SELECT * FROM "{table}" LIMIT 0', location / SCHEMA_FILE, "")
        if table in WHOLE:
            _write(raw, f'SELECT * FROM "{table}" ORDER BY ALL', location / "rows.parquet", "")
            written[table] = 1
        else:
            written[table] = _publish_by_file(raw, table, location)
        register_table(session, table, location)
        session.sql(f"REFRESH TABLE `{table}`")
    marker.unlink()
    return written


def _publish_by_file(raw, table: str, location: Path) -> int:
    """Rewrite the files of ``table`` whose fingerprint changed, remove those of files gone; return files written."""
    rows = raw.execute(f'SELECT x_SourceFile, count(*) || \':\' || bit_xor(hash(t)) FROM "{table}" AS t '
                       "GROUP BY x_SourceFile").fetchall()
    wanted = {file_part(path): (path, print_) for path, print_ in rows}
    for old in location.glob("src-*.parquet"):
        if old.name not in wanted:
            old.unlink()
    count = 0
    for name, (path, print_) in sorted(wanted.items()):
        target = location / name
        if target.exists() and _fingerprint(target) == print_:
            continue
        escaped = path.replace("'", "''")
        _write(raw, f"SELECT * FROM \"{table}\" WHERE x_SourceFile = '{escaped}' ORDER BY x_SourceRow", target,
               print_)
        count += 1
    return count


def _fingerprint(path: Path) -> str | None:
    try:
        meta = pq.read_metadata(path).metadata or {}
    except Exception:  # a damaged file is rewritten
        return None
    value = meta.get(FINGERPRINT)
    return value.decode() if value is not None else None


def _write(raw, select: str, target: Path, fingerprint: str) -> None:
    """Write ``select`` to ``target`` (Parquet, zstd) under a temporary name, then rename it into place."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shown = str(temporary).replace("'", "''")
    raw.execute(f"COPY ({select}) TO '{shown}' (FORMAT parquet, COMPRESSION zstd, "
                f"KV_METADATA {{finops_fingerprint: '{fingerprint}'}})")
    os.replace(temporary, target)
