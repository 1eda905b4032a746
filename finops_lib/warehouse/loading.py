"""One file's load, atomic: its rows inserted, settled and the file recorded, or nothing at all.

:func:`ingest_file` loads a file in a transaction of its own; a group of small files shares one
(:mod:`finops_lib.warehouse.grouping`). Either way a file's load is: the reader's rows inserted (masked, with their
content keys: :func:`insert_rows`), then settled (:func:`settle`: line numbers, inline, CSV and duplicate rejects;
:func:`settle_file`: restatements by newer deliveries, the count check read = loaded + rejected + superseded, the
ledger row). The guarantees this gives the warehouse are set out in :mod:`finops_lib.warehouse.ingestion`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import ibis
from ibis.backends import BaseBackend

from finops_lib import engine
from finops_lib.errors import FinopsError
from finops_lib.sources import (
    REJECT_MARK,
    SOURCES,
    ReadResult,
    Source,
    detect_format,
    explain_unrecognised,
    get_source,
)
from finops_lib.warehouse import delivery, keys, pending, privacy
from finops_lib.warehouse.ledger import (
    BACKGROUND_HASH_BYTES,
    Known,
    Ledger,
    file_sha256,
    hash_in_background,
    settled_stat,
)
from finops_lib.warehouse.staging import declared_columns, drop_stage, holds_nothing, stage_all, stage_rows

DATA_TABLES = ("costs", "requests", "metrics")


@dataclass(frozen=True)
class FileResult:
    """What happened to one file.

    ``status`` is ``loaded``, ``replaced`` (restatement of a path seen before), ``unchanged``
    (same path, same bytes), ``duplicate`` (same bytes under another path), ``skipped`` (no format
    recognises it) or ``failed`` (the file as a whole could not be read; ``message`` says why).
    ``rows_replaced`` counts the rows already in the warehouse that this file superseded (its own
    earlier version, the windows it restates, rows with the same natural key).
    """

    path: str
    format: str | None
    status: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_replaced: int = 0
    rows_superseded: int = 0
    message: str = ""


def scalar(con: BaseBackend, sql: str, params: list | None = None) -> object:
    """Return the first value of the first row ``sql`` gives."""
    return con.con.execute(sql, params or []).fetchone()[0]


def _newer_copy(con: BaseBackend, path: Path, twin: str) -> bool:
    """Return whether ``path`` is a later delivery than ``twin``, an ingested file with the same bytes.

    The same bytes state the same export time (a manifest's), so the files' own times decide: the twin's recorded
    modification time, else its file's, else its recorded delivery.
    """
    twin_at, twin_ns = con.con.execute("SELECT coalesce(x_DeliveredAt, x_IngestedAt), x_FileModifiedNs FROM "
                                       "ingested_files WHERE x_SourceFile = ?", [twin]).fetchone()
    if twin_ns is None and Path(twin).is_file():
        twin_ns = Path(twin).stat().st_mtime_ns
    if twin_ns is not None:
        return (path.stat().st_mtime_ns, str(path)) > (twin_ns, twin)
    return (delivery.delivered(path, None), str(path)) > (twin_at, twin)


def _forget(con: BaseBackend, path: str) -> int:
    """Delete every trace of an earlier ingest of ``path``; return the data rows removed.

    Pending rows (:mod:`finops_lib.warehouse.pending`: the new version of ``path`` being loaded) are kept.
    """
    removed = 0
    for table in (*DATA_TABLES, "rejects", "ingested_files", "ingested_windows"):
        settled = f" AND NOT ({pending.PENDING})" if table in DATA_TABLES else ""
        count = _deleted(con, f'DELETE FROM "{table}" WHERE x_SourceFile = ?{settled}', [path])
        removed += count if table in DATA_TABLES else 0
    return removed


def _deleted(con: BaseBackend, sql: str, params: list) -> int:
    """Run a DELETE and return how many rows it removed."""
    row = con.con.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def _shift_lines(con: BaseBackend, table: str, path: str, csv_rejects: str) -> None:
    """Renumber rows after lines the CSV reader rejected (rows were numbered by parsed record)."""
    lines = [r[0] for r in con.con.execute(f"SELECT DISTINCT line FROM {csv_rejects} ORDER BY line").fetchall()]
    if not lines:
        return
    # A parsed record numbered n (header = 1) moves down by the rejected lines before it.
    shift = " + ".join(f"(x_SourceRow - 1 >= {line - i})::BIGINT" for i, line in enumerate(lines, start=1))
    con.con.execute(f'UPDATE "{table}" SET x_SourceRow = x_SourceRow + {shift} WHERE x_SourceFile = ?', [path])


def settle(con: BaseBackend, table: str, path: str, result: ReadResult, *, rejects: str = "rejects") -> int:
    """Finish a load of ``path`` into ``table``: line numbers, inline and duplicate rejects.

    Run in the load's transaction, after the reader's rows were inserted. Returns the number of
    records read (parsed records + lines the CSV reader could not parse).

    Parameters
    ----------
    con
        The engine.
    table
        Table the rows were inserted into (``costs``, ``requests`` or a temporary table).
    path
        ``x_SourceFile`` of the rows.
    result
        The reader's result.
    rejects
        Table receiving rejected records.

    Raises
    ------
    FinopsError
        When the parsed records are not numbered 1..n without gaps (a record was lost).
    """
    where = "x_SourceFile = ?"
    # Rows numbered by position are one per record by construction: counting them needs no DISTINCT.
    parsed_sql = "count(*)" if result.numbered_from is not None else "count(DISTINCT x_SourceRow)"
    parsed, top = con.con.execute(f'SELECT {parsed_sql}, max(x_SourceRow) FROM "{table}" WHERE {where}',
                                  [path]).fetchone()
    malformed = 0
    if result.csv_rejects:
        privacy.prepare(con, privacy.pseudonym_key())
        if not result.lines_final:
            if result.inline_rejects and parsed and top - 1 != parsed:
                raise FinopsError(f"{path}: parsed records are numbered up to {top - 1} but {parsed} were kept")
            _shift_lines(con, table, path, result.csv_rejects)
        malformed = int(scalar(con, f"SELECT count(DISTINCT line) FROM {result.csv_rejects}"))
        con.con.execute(f"""INSERT INTO "{rejects}" SELECT ?, ?, line, NULL,
            CASE WHEN error_type IN ('MISSING COLUMNS', 'TOO MANY COLUMNS') THEN 'record'
                 ELSE coalesce(column_name, 'record') END,
            left(finops_mask_secrets(csv_line), 200), lower(error_type) || ': ' || error_message, ?
            FROM (SELECT line, min(column_name) AS column_name, first(csv_line) AS csv_line,
                         first(error_type) AS error_type, first(error_message) AS error_message
                  FROM {result.csv_rejects} GROUP BY line)""", [result.format, path, keys.table_kind(table)])
    if result.inline_rejects:
        con.con.execute(f"""INSERT INTO "{rejects}" SELECT x_SourceFormat, x_SourceFile, x_SourceRow,
            x_SourceLocator, split_part(x_DataQualityFlags, chr(31), 2), nullif(split_part(x_DataQualityFlags,
            chr(31), 4), ''), split_part(x_DataQualityFlags, chr(31), 3), ?
            FROM "{table}" WHERE {where} AND starts_with(x_DataQualityFlags, ?)""",
                        [keys.table_kind(table), path, REJECT_MARK])
        con.con.execute(f'DELETE FROM "{table}" WHERE {where} AND starts_with(x_DataQualityFlags, ?)',
                        [path, REJECT_MARK])
    line_id = SOURCES[result.format].line_id if result.format in SOURCES else None
    if line_id:
        keys.reject_duplicates(con, table, path, rejects, kind=keys.table_kind(table), line_id=line_id)
    return int(parsed or 0) + malformed


def insert_rows(con: BaseBackend, table: str, rows: ibis.Table | list[ibis.Table], *, line_id: str | None,
                numbered_from: int | None = None, path: str | None = None, number: bool = True) -> None:
    """Insert a reader's rows into ``table``, with content keys unless the format documents a line id.

    ``rows`` may be the tables of several files of one format (their rows carry their own ``x_SourceFile``): one
    INSERT for all of them (a group's new files, :mod:`finops_lib.warehouse.grouping`), each file's content keys
    what they would be alone.

    Text is masked on the way in (:mod:`finops_lib.warehouse.privacy`: keys of known shapes, user ids when
    pseudonymised): the raw values are never written. See :mod:`finops_lib.warehouse.keys` for the keys.
    ``numbered_from``: the rows come in file order without ``x_SourceRow`` (:attr:`ReadResult.numbered_from
    <finops_lib.sources.ReadResult>`); they are numbered by their position as inserted (DuckDB keeps insertion
    order, and the rows of one insert take consecutive row ids); ``path`` is then their ``x_SourceFile``. With
    ``number`` false they are left unnumbered (pending, :mod:`finops_lib.warehouse.pending`) for
    :func:`number_rows` to number after a commit.
    """
    kind = keys.table_kind(table)
    if numbered_from is not None:
        if not line_id or path is None:
            raise FinopsError(f"rows numbered by position need a documented line id and their file ({table})")
        con.con.execute("SET preserve_insertion_order = true")
    parts = rows if isinstance(rows, list) else [rows]
    if numbered_from is not None and len(parts) != 1:
        raise FinopsError(f"rows numbered by position are inserted one file at a time ({table})")
    names = [f"_incoming_raw_{i}" for i in range(len(parts))]
    done = False
    try:
        union = stage_all(con, names, parts, kind)
        masked = privacy.masked_select(con, names[0], declared_columns(kind), source=union)
        select = masked if line_id else keys.keyed_select_sql(f"({masked})", table)
        con.con.execute(f'INSERT INTO "{table}" BY NAME {select}')
        done = True
    finally:
        _drop_stages(con, names, done=done)
    if numbered_from is not None and number:
        number_rows(con, table, path, numbered_from)


def number_rows(con: BaseBackend, table: str, path: str, numbered_from: int) -> None:
    """Give the unnumbered rows of ``path`` in ``table`` their position as ``x_SourceRow``, from ``numbered_from``.

    The rows are the ones :func:`insert_rows` inserted in file order (consecutive row ids).
    """
    where = f"x_SourceFile = ? AND {pending.PENDING}"
    con.con.execute(f'UPDATE "{table}" SET x_SourceRow = rowid - (SELECT min(rowid) FROM "{table}" '
                    f"WHERE {where}) + ? WHERE {where}", [path, numbered_from, path])


def insert_rejects(con: BaseBackend, rejects: ibis.Table, *, table: str = "rejects") -> None:
    """Insert a reader's rejects into ``table``, their text masked like the rows' (:func:`insert_rows`)."""
    if holds_nothing(rejects):
        return
    source = stage_rows(con, "_rejected_raw", rejects, "rejects")
    done = False
    try:
        con.con.execute(f'INSERT INTO "{table}" BY NAME '
                        f'{privacy.masked_select(con, "_rejected_raw", declared_columns("rejects"), source=source)}')
        done = True
    finally:
        _drop_stages(con, ["_rejected_raw"], done=done)


def _drop_stages(con: BaseBackend, names: list[str], *, done: bool) -> None:
    """Drop the staged views of an INSERT; after a failed one, without hiding its error.

    A failed statement aborts DuckDB's transaction, so dropping then fails too ("Current transaction is aborted")
    and that error would replace the one that says why the file could not be read (a broken Parquet page, say).
    The load's rollback removes views made in its transaction.
    """
    for name in names:
        try:
            drop_stage(con, name)
        except duckdb.Error:
            if done:
                raise


def _records(con: BaseBackend, path: str, tables: list[str], *, one_row_each: bool = False) -> int:
    """Return the records of ``path`` held in ``tables`` (a record may fill both ``costs`` and ``requests``).

    ``one_row_each``: the file's rows are one per record (a reader numbering them by position), so rows are counted.
    """
    if len(tables) == 1:
        count = "count(*)" if one_row_each else "count(DISTINCT x_SourceRow)"
        return int(scalar(con, f'SELECT {count} FROM "{tables[0]}" WHERE x_SourceFile = ?', [path]))
    union = " UNION ".join(f'SELECT x_SourceRow FROM "{t}" WHERE x_SourceFile = ?' for t in tables)
    return int(scalar(con, f"SELECT count(*) FROM ({union})", [path] * len(tables)))


def _insert_read(con: BaseBackend, source: Source, path: Path, result: ReadResult) -> dict[str, bool]:
    """Insert the rows a reader read from ``path``, unnumbered when numbered by position; nothing settled yet.

    Returns, per table the rows went into, whether rows of other files are there (the restatement checks need them).
    """
    shown = str(path)
    others = {t: bool(scalar(con, f'SELECT count(*) > 0 FROM "{t}" WHERE x_SourceFile <> ?', [shown]))
              for t in DATA_TABLES if getattr(result, t) is not None}  # fmt: skip
    for table in others:
        insert_rows(con, table, getattr(result, table), line_id=source.line_id,
                    numbered_from=result.numbered_from, path=shown, number=False)
    return others


def settle_file(con: BaseBackend, source: Source, path: Path, sha: Callable[[], str], stat: os.stat_result,
                result: ReadResult, others: dict[str, bool], unsettled: tuple[str, ...] = (),
                restating: bool = True) -> tuple[int, int, int, int, int, tuple[str, ...]]:
    """Settle a reader's inserted rows (``others`` from :func:`_insert_read`); a restated row's newer delivery wins.

    ``sha`` gives the file's hash when the rows are in (a large file is hashed while it is read). ``unsettled``:
    files whose rows were inserted by the same INSERT and are settled after this one (a group's new files,
    :mod:`finops_lib.warehouse.grouping`); their rows are left alone, as if not yet read. ``restating`` False:
    the caller knows that no row of the file is restated by another file nor restates one
    (:func:`finops_lib.warehouse.delivery.restates_nothing`), so the deliveries are not asked. Returns (records
    read, loaded, rejected, older rows replaced, own records superseded, the reader's notes).
    """
    shown = str(path)
    tables = list(others)
    windows = privacy.mask_windows(result.windows)  # scopes compared with the rows' (masked) values and stored
    at = delivery.delivered(path, result.delivered_at)
    read_counts = []
    for table in tables:
        if result.numbered_from is not None:
            number_rows(con, table, shown, result.numbered_from)
        read_counts.append(settle(con, table, shown, result))
    one_row_each = result.numbered_from is not None
    kept, replaced = _records(con, shown, tables, one_row_each=one_row_each), 0
    others = others if restating else dict.fromkeys(others, False)
    parts = delivery.apart(con, shown, windows) if any(others.values()) else None  # asked once for both tables
    for table in (t for t in tables if others[t]):  # rows of other files may restate these, or be restated
        delivery.supersede(con, table, shown, result.format, at, windows=windows, parts=parts)
        replaced += delivery.replace_older(con, table, shown, result.format, at, windows, unsettled=unsettled,
                                           parts=parts)
    loaded = _records(con, shown, tables, one_row_each=one_row_each) if any(others.values()) else kept
    superseded = kept - loaded
    if result.rejects is not None:
        insert_rejects(con, result.rejects)
    rejected = int(scalar(con, "SELECT count(*) FROM rejects WHERE x_SourceFile = ?", [shown]))
    rows_read = result.rows_read if result.rows_read is not None else sum(read_counts)
    if loaded + rejected + superseded != rows_read:
        raise FinopsError(f"{shown}: read {rows_read} records but loaded {loaded}, rejected {rejected} and found "
                          f"{superseded} restated by newer deliveries; refusing to commit a load that loses rows")
    if replaced:
        delivery.recount(con, shown, result.format)
    delivery.record_windows(con, shown, source.name, windows)
    con.con.execute(
        "INSERT INTO ingested_files BY NAME SELECT ? AS x_SourceFile, ? AS x_FileSha256, ? AS x_SourceFormat, "
        "? AS x_RowsRead, ? AS x_RowsLoaded, ? AS x_RowsRejected, ? AS x_IngestedAt, ? AS x_DeliveredAt, "
        "? AS x_RowsSuperseded, ? AS x_FileSize, ? AS x_FileModifiedNs",
        [shown, sha(), source.name, rows_read, loaded, rejected, datetime.now(UTC), at, superseded,
         *settled_stat(stat)],
    )
    return rows_read, loaded, rejected, replaced, superseded, result.notes


def ingest_file(con: BaseBackend, path: Path, *, format: str | None = None, ledger: Ledger | None = None,
                ) -> FileResult:
    """Ingest one file in its own transaction; see :func:`ingest`.

    What the warehouse holds already (``ledger``, read once per run by :func:`ingest`; read here when not given)
    is asked first: a file with the size and time it was ingested with, or else the same hash, is ``unchanged``
    without being detected or parsed again (:mod:`finops_lib.warehouse.ledger`).

    Any fault while detecting, reading or loading the file is that file's failure (status ``failed``, the reason in
    ``message``): its transaction is rolled back and the run goes on with the next file. Only a fault of the engine
    itself (the database invalidated) or a write the disk refused (:func:`finops_lib.engine.storage_error`) stops
    the run, since no later file could load either.
    """
    ledger = ledger if ledger is not None else Ledger.read(con)
    checked = None
    try:
        checked = check(con, path, format=format, ledger=ledger, hash_large=False)
        if isinstance(checked, FileResult):
            return checked
        return ingest_detected(con, path, checked.source, ledger=ledger, sha=checked.sha, stat=checked.stat)
    except Exception as exc:  # one file's fault never stops the others
        if engine_broken(con) or engine.storage_error(exc) is not None:  # no later file could load either
            raise
        return FileResult(str(path), checked.source.name if isinstance(checked, Fresh) else None, "failed",
                          message=failure_reason(exc))


@dataclass
class Fresh:
    """A file to load (new content for its path): its reader, hash and ``stat``; its rows once read."""

    path: Path
    source: Source
    sha: str | None
    stat: os.stat_result
    result: ReadResult | None = None


def check(con: BaseBackend, path: Path, *, format: str | None, ledger: Ledger, hash_large: bool,
          ) -> FileResult | Fresh:
    """Return what ingesting ``path`` needs: nothing (``unchanged`` or ``skipped``), or a load (:class:`Fresh`).

    A large new file is left unhashed (hashed while it loads) unless ``hash_large``.
    """
    shown = str(path)
    stat = path.stat()
    known = ledger.by_path.get(shown)
    if known is not None and known.same_stat(stat):
        return FileResult(shown, known.format, "unchanged", message="already ingested with the same content")
    hashed = hash_large or known is not None or stat.st_size < BACKGROUND_HASH_BYTES
    sha = file_sha256(path) if hashed else None
    if known is not None and sha == known.sha:
        ledger.remember_stat(con, known, stat)
        return FileResult(shown, known.format, "unchanged", message="already ingested with the same content")
    source = get_source(path, format) if format else detect_format(path)
    if source is None:
        return FileResult(shown, None, "skipped", message=explain_unrecognised(path))
    return Fresh(path, source, sha, stat)


def notes_message(notes: tuple[str, ...]) -> str:
    """Return a reader's notes as a loaded file's summary message, masked like a failure reason.

    A note may quote a raw value (a Spark job's error, say).
    """
    return privacy.mask_secrets("; ".join(notes)) or ""


def failure_reason(exc: BaseException) -> str:
    """Return the reason a file failed, for people: a reader's own message as is, anything else with its kind.

    A key of a known shape quoted in the message (a reader echoing a raw value) is masked, as in the tables.

    Examples
    --------
    >>> failure_reason(ValueError("could not convert 'x'"))
    "could not be read (ValueError: could not convert 'x')"
    """
    if isinstance(exc, FinopsError):
        return privacy.mask_secrets(str(exc)) or ""
    text = privacy.mask_secrets(" ".join(str(exc).split())) or "no message"
    if len(text) > 300:
        text = text[:297] + "..."
    return f"could not be read ({type(exc).__name__}: {text})"


def ingest_detected(con: BaseBackend, path: Path, source: Source, *, ledger: Ledger, sha: str | None,
                    stat: os.stat_result, own: bool = True) -> FileResult:
    """Ingest one detected file in one transaction (rolled back on any fault, which is re-raised).

    ``sha`` is None for a large file seen for the first time: it is hashed while it loads, and a twin found then
    (the same bytes under another path) rolls the load back and takes the path below with the hash known. Such a
    file always has a transaction of its own (``own``: a group hashes its files first).
    """
    shown = str(path)
    if sha is None:
        hashing = hash_in_background(path)
        twin_found: list[str] = []

        def hashed() -> str:
            digest = hashing.result()
            if ledger.twin(digest, shown) is not None:
                twin_found.append(digest)
                raise _TwinFound
            return digest

        try:
            return _transaction(con, path, source, ledger, hashed, stat, before=None, twin=None)
        except _TwinFound:
            sha = twin_found[0]
    before = ledger.by_path.get(shown)
    twin = ledger.twin(sha, shown)
    if twin is not None and not _newer_copy(con, path, twin):
        return FileResult(shown, source.name, "duplicate", message=f"same content already ingested from {twin}")
    return _transaction(con, path, source, ledger, lambda: sha, stat, before=before, twin=twin, own=own)


class _TwinFound(Exception):
    """A file hashed while it loaded holds bytes another path holds: its load is rolled back and redone."""


def _transaction(con: BaseBackend, path: Path, source: Source, ledger: Ledger, sha: Callable[[], str],
                 stat: os.stat_result, *, before: Known | None, twin: str | None, own: bool = True) -> FileResult:
    """Load one file atomically: forget its earlier version (and a twin it stands for), load, commit.

    Rows numbered by position (a large dump) are inserted and committed first, unnumbered, then settled in a second
    transaction (:mod:`finops_lib.warehouse.pending`): the earlier version is forgotten only there, and a fault
    there deletes the pending rows, so either way the warehouse is as before the file.

    With ``own`` false the file is one of a group of small files in the caller's transaction (:func:`load_group`):
    nothing is begun, committed or rolled back here, and numbered rows are numbered in that one transaction.
    """
    shown = str(path)
    if own:
        con.con.execute("BEGIN TRANSACTION")
    try:
        result: ReadResult = source.read(path, con)
        two_commits = own and result.numbered_from is not None  # see finops_lib.warehouse.pending
        if two_commits:
            others = _insert_read(con, source, path, result)
            con.con.execute("COMMIT")  # the rows, pending: written once
            con.con.execute("BEGIN TRANSACTION")
        earlier = _forget(con, shown) if before is not None else 0  # never the pending rows
        if twin is not None:  # the same bytes, delivered later: this copy stands for them (any ingest order)
            earlier += _forget(con, twin)
        if not two_commits:
            others = _insert_read(con, source, path, result)
        read, loaded, rejected, replaced, superseded, notes = settle_file(con, source, path, sha, stat, result, others)
    except BaseException:
        if own:
            rollback(con)
            pending.recover(con, shown)
        raise
    if own:
        con.con.execute("COMMIT")
    ledger.forget(shown)
    if twin is not None:
        ledger.forget(twin)
    size, mtime_ns = settled_stat(stat)
    ledger.add(Known(shown, sha(), source.name, size, mtime_ns, datetime.now(UTC)))
    status = "replaced" if before is not None else "loaded"
    return FileResult(shown, source.name, status, read, loaded, rejected, earlier + replaced, superseded,
                      message=notes_message(notes))


def engine_broken(con: BaseBackend) -> bool:
    """Return whether the engine itself stopped working (after a fault): no later file could load either."""
    try:
        con.con.execute("SELECT 1").fetchone()
    except Exception:  # any failure of a trivial query means the engine is gone
        return True
    return False


def rollback(con: BaseBackend) -> None:
    """Roll back the open transaction; a connection that has none left (the engine failed) is left as it is."""
    with contextlib.suppress(Exception):  # the original fault is what the caller reports
        con.con.execute("ROLLBACK")
