"""Many files -> one warehouse: detection, de-duplication, provenance and rejects.

Every record read ends up in ``costs``/``requests`` or in ``rejects`` (read = loaded + rejected,
per file, checked on every load). Re-ingesting never double counts, at three levels:

1. a file whose bytes were already ingested (same SHA-256, any path) is skipped;
2. a file at a path ingested before with other bytes (a restatement) replaces that file's rows;
3. a row whose natural key (``x_RowHash``) is already present from another file replaces it:
   the last ingest wins.

Examples
--------
>>> from finops_lib import engine
>>> con = engine.memory()
>>> summary = ingest([], con=con)
>>> len(summary)
0
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import ibis
import pandas as pd
from ibis.backends import BaseBackend

from finops_lib import engine
from finops_lib.errors import FinopsError, SourceError
from finops_lib.schema import TABLES, conform
from finops_lib.sources import SOURCES, ReadResult, Source, detect_format, get_source

DATA_TABLES = ("costs", "requests")
#: Files a folder walk never offers to the detectors (documentation, manifests, ground truth).
IGNORED_NAMES = {"README.md", "manifest.json", "PROVENANCE.md"}
IGNORED_DIRS = {"truth", ".git", "__pycache__", ".ipynb_checkpoints"}


@dataclass(frozen=True)
class FileResult:
    """What happened to one file.

    ``status`` is ``loaded``, ``replaced`` (restatement of a path seen before), ``unchanged``
    (same path, same bytes), ``duplicate`` (same bytes under another path), ``skipped`` (no format
    recognises it) or ``failed`` (the file as a whole could not be read; ``message`` says why).
    """

    path: str
    format: str | None
    status: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    message: str = ""


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders (recursively, sorted) into the files to offer to the detectors.

    Hidden files, ``truth/`` folders and documentation files are left out of folder walks; a file
    named explicitly is always kept.

    Raises
    ------
    SourceError
        When a path does not exist.
    """
    out: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path).parts
                if child.is_file() and not any(p.startswith(".") or p in IGNORED_DIRS for p in rel) \
                        and child.name not in IGNORED_NAMES:
                    out.append(child)
        elif path.is_file():
            out.append(path)
        else:
            raise SourceError(raw, "no such file or folder")
    return list(dict.fromkeys(out))


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file's bytes (streamed)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_tables(con: BaseBackend) -> None:
    """Create the declared warehouse tables that do not exist yet."""
    existing = set(con.list_tables())
    for name, spec in TABLES.items():
        if name not in existing:
            con.create_table(name, schema=spec.ibis_schema())


def _scalar(con: BaseBackend, sql: str, params: list | None = None) -> object:
    return con.con.execute(sql, params or []).fetchone()[0]


def _previous(con: BaseBackend, path: str, sha: str) -> tuple[str | None, str | None]:
    """Return (sha of this path's last ingest, another path already holding these bytes)."""
    same_path = con.con.execute(
        "SELECT x_FileSha256 FROM ingested_files WHERE x_SourceFile = ? ORDER BY x_IngestedAt DESC LIMIT 1", [path]
    ).fetchone()
    same_bytes = con.con.execute(
        "SELECT x_SourceFile FROM ingested_files WHERE x_FileSha256 = ? AND x_SourceFile <> ? LIMIT 1", [sha, path]
    ).fetchone()
    return (same_path[0] if same_path else None), (same_bytes[0] if same_bytes else None)


def _forget(con: BaseBackend, path: str) -> None:
    for table in (*DATA_TABLES, "rejects", "ingested_files"):
        con.con.execute(f'DELETE FROM "{table}" WHERE x_SourceFile = ?', [path])


def _store(con: BaseBackend, table: str, expr: ibis.Table, path: str) -> int:
    """Insert ``expr`` into ``table``; older rows with the same natural key lose. Return records loaded."""
    had_rows = bool(_scalar(con, f'SELECT count(*) > 0 FROM "{table}"'))
    con.insert(table, conform(expr, table))
    if had_rows:
        con.con.execute(
            f'DELETE FROM "{table}" WHERE x_SourceFile <> ? AND x_RowHash IN '
            f'(SELECT x_RowHash FROM "{table}" WHERE x_SourceFile = ?)', [path, path])
    return int(_scalar(con, f'SELECT count(DISTINCT x_SourceRow) FROM "{table}" WHERE x_SourceFile = ?', [path]))


def _load(con: BaseBackend, source: Source, path: Path, sha: str) -> tuple[int, int, int]:
    shown = str(path)
    result: ReadResult = source.read(path, con)
    loaded = 0
    for table in DATA_TABLES:
        expr = getattr(result, table)
        if expr is not None:
            loaded += _store(con, table, expr, shown)
    con.insert("rejects", conform(result.rejects, "rejects"))
    rejected = int(_scalar(con, "SELECT count(*) FROM rejects WHERE x_SourceFile = ?", [shown]))
    if loaded + rejected != result.rows_read:
        raise FinopsError(f"{shown}: read {result.rows_read} records but loaded {loaded} and rejected {rejected}; "
                          "refusing to commit a load that loses rows")
    con.con.execute(
        "INSERT INTO ingested_files VALUES (?, ?, ?, ?, ?, ?, ?)",
        [shown, sha, source.name, result.rows_read, loaded, rejected, datetime.now(UTC)],
    )
    return result.rows_read, loaded, rejected


def ingest_file(con: BaseBackend, path: Path, *, format: str | None = None) -> FileResult:
    """Ingest one file in one transaction; see :func:`ingest`."""
    shown = str(path)
    source = get_source(path, format) if format else detect_format(path)
    if source is None:
        return FileResult(shown, None, "skipped", message="no registered format recognises this file")
    sha = file_sha256(path)
    before, twin = _previous(con, shown, sha)
    if before == sha:
        return FileResult(shown, source.name, "unchanged", message="already ingested with the same content")
    if twin is not None:
        return FileResult(shown, source.name, "duplicate", message=f"same content already ingested from {twin}")
    con.con.execute("BEGIN TRANSACTION")
    try:
        if before is not None:
            _forget(con, shown)
        read, loaded, rejected = _load(con, source, path, sha)
    except Exception as exc:
        con.con.execute("ROLLBACK")
        if isinstance(exc, SourceError):
            return FileResult(shown, source.name, "failed", message=str(exc))
        raise
    con.con.execute("COMMIT")
    status = "replaced" if before is not None else "loaded"
    return FileResult(shown, source.name, status, read, loaded, rejected)


def ingest(
    paths: Iterable[str | Path],
    *,
    con: BaseBackend | None = None,
    warehouse: str | Path | None = None,
    format: str | None = None,
) -> pd.DataFrame:
    """Load files and folders into the warehouse; return one summary row per file.

    Parameters
    ----------
    paths
        Files or folders (walked recursively).
    con
        An open engine; default :func:`finops_lib.engine.connect` on ``warehouse``.
    warehouse
        Warehouse folder or DuckDB file when ``con`` is not given.
    format
        Force a registered format instead of detecting it from content.

    Returns
    -------
    pandas.DataFrame
        Columns ``path, format, status, rows_read, rows_loaded, rows_rejected, message``.

    Raises
    ------
    SourceError
        When a path does not exist, or a named ``format`` is unknown.
    """
    if format is not None and format not in SOURCES:
        get_source("-", format)
    files = discover(paths)
    own = con is None
    con = con or engine.connect(warehouse=warehouse)
    try:
        ensure_tables(con)
        results = [ingest_file(con, path, format=format) for path in files]
    finally:
        if own:
            con.disconnect()
    columns = list(FileResult.__dataclass_fields__)
    return pd.DataFrame([asdict(r) for r in results], columns=columns)


def summarize(summary: pd.DataFrame) -> pd.DataFrame:
    """Totals per format and status (files, rows read, loaded, rejected) for the CLI and notebooks."""
    if summary.empty:
        return pd.DataFrame(columns=["format", "status", "files", "rows_read", "rows_loaded", "rows_rejected"])
    out = (summary.fillna({"format": "(unrecognised)"})
           .groupby(["format", "status"], as_index=False)
           .agg(files=("path", "count"), rows_read=("rows_read", "sum"), rows_loaded=("rows_loaded", "sum"),
                rows_rejected=("rows_rejected", "sum")))
    return out.sort_values(["format", "status"]).reset_index(drop=True)


def normalize(
    paths: Iterable[str | Path], out: str | Path, *, format: str | None = None, table: str | None = None
) -> dict[str, int | str]:
    """Convert files to one Parquet file of the declared ``table``, without a warehouse.

    Records that cannot be loaded go to ``<out stem>.rejects.parquet`` beside ``out`` with file,
    line, column, value and reason.

    Parameters
    ----------
    paths
        Files or folders; all must be of formats that fill ``table``.
    out
        Target Parquet file.
    format
        Force a registered format.
    table
        ``costs`` or ``requests``; default: the table the (first) format mainly fills.

    Returns
    -------
    dict
        ``table``, ``rows`` written, ``records_read``, ``records_rejected``, ``rejects`` path.

    Raises
    ------
    SourceError
        When no file is recognised, or a file cannot be read at all.
    """
    files = discover(paths)
    con = engine.memory()
    sources = [get_source(p, format) for p in files]
    if not sources:
        raise SourceError(", ".join(map(str, paths)), "no file to normalize")
    table = table or sources[0].table
    results = [s.read(p, con) for s, p in zip(sources, files, strict=True)]
    parts = [getattr(r, table) for r in results if getattr(r, table) is not None]
    if not parts:
        raise SourceError(files[0], f"the format(s) {sorted({s.name for s in sources})} produce no {table!r} rows")
    rows = ibis.union(*parts) if len(parts) > 1 else parts[0]
    rejects = ibis.union(*[r.rejects for r in results]) if len(results) > 1 else results[0].rejects
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rejects_path = out.with_name(out.name.removesuffix(".parquet") + ".rejects.parquet")
    con.to_parquet(conform(rows, table), out)
    con.to_parquet(conform(rejects, "rejects"), rejects_path)
    written = int(con.con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0])
    n_rejected = int(con.con.execute(f"SELECT count(*) FROM read_parquet('{rejects_path}')").fetchone()[0])
    return {"table": table, "rows": written, "records_read": sum(r.rows_read for r in results),
            "records_rejected": n_rejected, "rejects": str(rejects_path)}
