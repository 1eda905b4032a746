"""Small files loaded together, each still atomic and settled as if loaded alone.

Consecutive files under :data:`GROUP_BYTES` share one transaction (:func:`groups`, :func:`load_group`): a small
file's costliest statement was its commit. Within a group, new files of one format are read by the format's reader
of many files where it has one, inserted by one INSERT per table, then settled in file order
(:func:`finops_lib.warehouse.loading.settle_file`), the later files' rows left alone until their turn, so the tables
end exactly as if the files had been loaded one after the other. A fault rolls the whole group back and its files
are loaded again one transaction each, so only the faulty file fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from ibis.backends import BaseBackend

from finops_lib import engine
from finops_lib.errors import FinopsError
from finops_lib.warehouse import delivery, privacy
from finops_lib.warehouse.ledger import Known, Ledger, settled_stat
from finops_lib.warehouse.loading import (
    DATA_TABLES,
    FileResult,
    Fresh,
    check,
    engine_broken,
    ingest_detected,
    ingest_file,
    insert_rows,
    notes_message,
    rollback,
    scalar,
    settle_file,
)

#: Consecutive small files are loaded in groups of at most this many files and bytes, one transaction (one commit,
#: the costliest statement of a small file's load) per group.
GROUP_FILES = 64


GROUP_BYTES = 32 << 20


def groups(files: list[Path]) -> Iterator[list[Path]]:
    """Split ``files`` (in order) into groups to load in one transaction each: a large file is a group of its own."""
    group: list[Path] = []
    size = 0
    for path in files:
        try:
            length = path.stat().st_size
        except OSError:  # its own failure, reported by ingest_file
            length = GROUP_BYTES
        if group and (len(group) == GROUP_FILES or size + length > GROUP_BYTES):
            yield group
            group, size = [], 0
        if length >= GROUP_BYTES:
            yield [path]
            continue
        group.append(path)
        size += length
    if group:
        yield group


def load_group(con: BaseBackend, group: list[Path], *, format: str | None, ledger: Ledger) -> list[FileResult]:
    """Ingest a group of small files in one transaction; return their results.

    Each file is still atomic: a kill leaves the warehouse as before the group (none of its files recorded as
    ingested, so the next run loads them all). A fault in any file rolls the group back, and its files are then
    ingested one transaction each (:func:`ingest_file`), so that file alone fails and the others load as if never
    grouped.
    """
    if len(group) == 1:
        return [ingest_file(con, group[0], format=format, ledger=ledger)]
    kept = ledger.copy()
    con.con.execute("BEGIN TRANSACTION")
    try:
        results = _grouped(con, group, format=format, ledger=ledger)
        con.con.execute("COMMIT")
    except Exception as exc:
        rollback(con)
        ledger.restore(kept)
        if engine_broken(con) or engine.storage_error(exc) is not None:  # no later file could load either
            raise
        return [ingest_file(con, path, format=format, ledger=ledger) for path in group]
    except BaseException:  # interrupted: the group is rolled back, as a file's transaction is
        rollback(con)
        ledger.restore(kept)
        raise
    return results


def _grouped(con: BaseBackend, group: list[Path], *, format: str | None, ledger: Ledger) -> list[FileResult]:
    """Ingest a group's files in the caller's transaction, any fault raised; return their results in order.

    New files of one format in a row are read one by one, or all at once by a format's reader of many files
    (:attr:`Source.read_many <finops_lib.sources.Source>`), and their rows inserted together (:func:`_load_fresh`:
    one INSERT per table), then settled in file order exactly as if loaded one after the other. A file restating
    its own path or holding another file's bytes is loaded alone.
    """
    results: dict[int, FileResult] = {}
    batch: list[tuple[int, Fresh]] = []

    def flush() -> None:
        fresh = [f for _, f in batch]
        _read_batch(con, fresh)
        results.update(zip((i for i, _ in batch), _load_fresh(con, fresh, ledger), strict=True))
        batch.clear()

    for index, path in enumerate(group):
        checked = check(con, path, format=format, ledger=ledger, hash_large=True)
        if isinstance(checked, FileResult):
            results[index] = checked
            continue
        shown, sha = str(path), checked.sha
        if batch and (checked.source is not batch[0][1].source or sha in {f.sha for _, f in batch}):
            flush()  # another format, or a copy of a file read in this batch: the ledger must know that file first
        before, twin = ledger.by_path.get(shown), ledger.twin(sha, shown)
        if before is not None or twin is not None:
            flush()
            results[index] = ingest_detected(con, path, checked.source, ledger=ledger, sha=sha, stat=checked.stat,
                                              own=False)
            continue
        if checked.source.read_many is not None:  # read with the batch's other files when it is complete
            batch.append((index, checked))
            continue
        checked.result = checked.source.read(path, con)
        alone = checked.result.numbered_from is not None  # numbered by its position in an INSERT of its own
        if alone:
            flush()
        batch.append((index, checked))
        if alone:
            flush()
    flush()
    return [results[i] for i in range(len(group))]


def _read_batch(con: BaseBackend, fresh: list[Fresh]) -> None:
    """Read the files of a batch not read yet: a format's reader of many files reads them all at once."""
    unread = [f for f in fresh if f.result is None]
    if not unread:
        return
    read = unread[0].source.read_many([f.path for f in unread], con)
    for f, result in zip(unread, read, strict=True):
        if result.numbered_from is not None:
            raise FinopsError(f"{f.path}: a reader of many files gave rows numbered by position")
        f.result = result


def _load_fresh(con: BaseBackend, batch: list[Fresh], ledger: Ledger) -> list[FileResult]:
    """Load new files of one format (read, never ingested before): one INSERT per table, then each settled in turn.

    Each file is settled in file order, the later files' rows left alone until their turn (``unsettled``, and the
    content keys counted per file: :func:`finops_lib.warehouse.keys.keyed_select_sql`): the tables end as if the
    files had been loaded one after the other.
    """
    if not batch:
        return []
    source = batch[0].source
    paths = [str(f.path) for f in batch]
    tables = [t for t in DATA_TABLES if any(getattr(f.result, t) is not None for f in batch)]
    held = {t: bool(scalar(con, f'SELECT count(*) > 0 FROM "{t}"')) for t in tables}  # rows of earlier files
    for table in tables:
        parts = [getattr(f.result, table) for f in batch if getattr(f.result, table) is not None]
        numbered = batch[0].result.numbered_from if len(batch) == 1 else None
        insert_rows(con, table, parts, line_id=source.line_id, numbered_from=numbered, path=paths[0], number=False)
    restating = _restating(con, batch, tables)
    results = []
    for n, fresh in enumerate(batch):
        mine = [t for t in tables if getattr(fresh.result, t) is not None]
        others = {t: held[t] or any(getattr(f.result, t) is not None for f in batch[:n]) for t in mine}
        read, loaded, rejected, replaced, superseded, notes = settle_file(
            con, source, fresh.path, lambda f=fresh: f.sha, fresh.stat, fresh.result, others,
            unsettled=tuple(paths[n + 1:]), restating=restating)
        size, mtime_ns = settled_stat(fresh.stat)
        ledger.add(Known(paths[n], fresh.sha, source.name, size, mtime_ns, datetime.now(UTC)))
        results.append(FileResult(paths[n], source.name, "loaded", read, loaded, rejected, replaced, superseded,
                                  message=notes_message(notes)))
    return results


def _restating(con: BaseBackend, batch: list[Fresh], tables: list[str]) -> bool:
    """Return whether the batch's files may restate rows, each other's or the warehouse's (asked file by file then).

    Asked once for the batch (:func:`finops_lib.warehouse.delivery.restates_nothing`): a batch of new files that
    restate nothing (a fresh warehouse, a new month) is settled without the deliveries' statements of each file.
    """
    formats = {f.result.format for f in batch}
    if len(batch) < 2 or len(formats) != 1:
        return True
    (fmt,) = formats
    windows = {str(f.path): privacy.mask_windows(f.result.windows) for f in batch}
    return not all(delivery.restates_nothing(con, table, fmt, windows) for table in tables)
