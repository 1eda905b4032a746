"""The ibis connection: embedded DuckDB by default, another backend by URL.

``FINOPS_ENGINE`` (or the ``url`` argument) picks the backend with an ibis URL, e.g.
``duckdb:///tmp/wh.duckdb`` or ``duckdb://`` (in memory). Without one, the warehouse is the
DuckDB file ``finops.duckdb`` in :func:`finops_lib.paths.warehouse_dir` (``data/warehouse/`` or
``$FINOPS_WAREHOUSE``). Callers only see an ibis backend, so a Spark or warehouse URL can be
added later without touching them.

DuckDB lets one process hold a file read-write, and that holder blocks every other process, readers too.
So (``docs/reliability.md``): a writer whose file is busy waits, with a message, up to
``$FINOPS_LOCK_TIMEOUT`` seconds (:func:`connect`); readers that stay open for long (a notebook) read a private
snapshot copy of the file (:func:`reader`), never the warehouse itself. Snapshots, DuckDB's spill files and the
readers' staging files live in one scratch folder (:func:`scratch_dir`), named after the process that made them,
and are removed when it exits or, if it was killed, by the next process that starts (:func:`clean_scratch`).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import ibis
from ibis.backends import BaseBackend

from finops_lib import paths
from finops_lib.engines import is_spark_url, open_session
from finops_lib.errors import EngineError

WAREHOUSE_FILE = "finops.duckdb"
#: DuckDB's memory limit unless ``$FINOPS_DUCKDB_MEMORY_LIMIT`` says otherwise: big loads spill to
#: disk instead of taking most of the machine's memory.
DEFAULT_MEMORY_LIMIT = "1GB"
#: Seconds a process waits for a warehouse another process holds, unless ``$FINOPS_LOCK_TIMEOUT`` says otherwise.
DEFAULT_LOCK_TIMEOUT = 300.0
LOCK_TIMEOUT_ENV = "FINOPS_LOCK_TIMEOUT"
#: The scratch folder, unless ``$FINOPS_SCRATCH`` names another one.
SCRATCH_ENV = "FINOPS_SCRATCH"
_LOCKED = re.compile(r"Could not set lock on file")
_HOLDER = re.compile(r"held in (?P<program>\S+) \(PID (?P<pid>\d+)\)")
_REFUSED = re.compile(r"File too large|No space left on device|Disk quota exceeded")
_REFUSED_FILE = re.compile(r'(?:write|writing|file) "?(?P<file>/[^":]+)"?')
_ENTRY = re.compile(r"^finops-(?P<kind>[a-z]+)-(?P<pid>\d+)\.(?P<start>\d+)-")


class WarehouseBusyError(EngineError):
    """The warehouse stayed locked by another process for the whole lock timeout.

    Parameters
    ----------
    path
        The DuckDB file.
    holder
        Who holds it (``pid 123 (finops ingest ...)``), or ``""`` when DuckDB did not say.
    waited
        Seconds waited.
    """

    def __init__(self, path: object, holder: str, waited: float) -> None:
        self.path, self.holder, self.waited = path, holder, waited
        by = f" (held by {holder})" if holder else ""
        super().__init__(f"warehouse {path} is busy{by}: still locked after waiting {waited:.0f} s; retry when "
                         f"that process has finished, or set {LOCK_TIMEOUT_ENV} (seconds) to wait longer")


def warehouse_path(warehouse: str | Path | None = None) -> Path:
    """Return the DuckDB file of the warehouse.

    Parameters
    ----------
    warehouse
        A folder (the file ``finops.duckdb`` inside it) or a ``.duckdb`` file; default
        ``$FINOPS_WAREHOUSE`` or ``data/warehouse/``.

    Returns
    -------
    Path
        The database file (its folder is created).
    """
    base = Path(warehouse).expanduser().resolve() if warehouse else paths.warehouse_dir()
    path = base if base.suffix in {".duckdb", ".db"} else base / WAREHOUSE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def connect(
    url: str | None = None,
    *,
    warehouse: str | Path | None = None,
    read_only: bool = False,
    timeout: float | None = None,
) -> BaseBackend:
    """Open the engine; wait while another process holds the DuckDB file.

    Parameters
    ----------
    url
        An ibis connection URL (Spark: ``pyspark://``, ``pyspark:///catalog/dir``, ``sc://host:15002``, see
        :mod:`finops_lib.engines.spark`); default ``$FINOPS_ENGINE``; when neither is set, the DuckDB
        warehouse file (see :func:`warehouse_path`).
    warehouse
        Warehouse folder or file for the default DuckDB engine.
    read_only
        Open the DuckDB file read-only (several readers at once, but no writer meanwhile).
    timeout
        Seconds to wait for a file another process holds; default :func:`lock_timeout`.

    Returns
    -------
    ibis.backends.BaseBackend
        The connection.

    Raises
    ------
    WarehouseBusyError
        When the DuckDB file stayed locked by another process for ``timeout`` seconds.
    EngineError
        When the URL names a backend that is not installed or cannot connect.

    Examples
    --------
    >>> con = connect("duckdb://")
    >>> con.name
    'duckdb'
    """
    url = url or os.environ.get("FINOPS_ENGINE")
    shown = url or warehouse_path(warehouse)

    if is_spark_url(url):
        try:
            return ibis.pyspark.connect(open_session(url))
        except Exception as exc:  # no pyspark, no Java, nothing listening: one clear error
            raise EngineError(f"cannot open engine {url}: {exc}") from exc

    def attempt() -> BaseBackend:
        return ibis.connect(url) if url else ibis.duckdb.connect(str(warehouse_path(warehouse)), read_only=read_only)

    try:
        con = wait_for_lock(attempt, shown, timeout=timeout)
    except EngineError:
        raise
    except Exception as exc:  # any backend failure becomes one clear error
        raise EngineError(f"cannot open engine {shown}: {exc}") from exc
    return _configure(con)


class StorageFullError(EngineError):
    """The disk refused a write: full, over quota, or over the process's file-size limit."""


def storage_error(exc: BaseException) -> StorageFullError | None:
    """Return the clear error for a write the disk refused, or None when ``exc`` is something else.

    DuckDB writes a transaction's changes to its write-ahead log at commit; a refused write fails the commit and
    DuckDB rolls the transaction back, so the warehouse stays as of its last commit (an ingest loses only the
    file it was loading).

    Examples
    --------
    >>> storage_error(OSError(28, "No space left on device", "/data/wh.duckdb.wal")).args[0][:60]
    'the disk refused a write to /data/wh.duckdb.wal (No space le'
    >>> storage_error(ValueError("x")) is None
    True
    """
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        file, reason = exc.filename, exc.strerror
    elif isinstance(exc, duckdb.Error) and (found := _REFUSED.search(str(exc))):
        named = _REFUSED_FILE.search(str(exc))
        file, reason = (named["file"] if named else None), found[0]
    else:
        return None
    where = f" to {file}" if file else ""
    return StorageFullError(f"the disk refused a write{where} ({reason}: disk full, over quota or over a file-size "
                            "limit); the transaction was rolled back, so the warehouse is as of its last commit (an "
                            "ingest keeps the files it loaded before); free space and run the command again: files "
                            "already loaded are skipped")


def lock_timeout() -> float:
    """Return the seconds a process waits for a busy warehouse: ``$FINOPS_LOCK_TIMEOUT`` or 300.

    Raises
    ------
    EngineError
        When the variable is not a number of seconds (0 or more).
    """
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_LOCK_TIMEOUT
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses nan
        raise EngineError(f"{LOCK_TIMEOUT_ENV}={raw!r}: expected a number of seconds, 0 or more")
    return value


def _holder(message: str) -> str:
    """Name the process DuckDB says holds the lock: ``pid N (its command line)``."""
    found = _HOLDER.search(message)
    if not found:
        return ""
    pid = found["pid"]
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        command = ""
    return f"pid {pid} ({(command or found['program'])[:120]})"


def wait_for_lock(attempt: Callable[[], BaseBackend], shown: object, *, timeout: float | None = None) -> BaseBackend:
    """Call ``attempt`` until DuckDB stops refusing it with its lock error, or ``timeout`` seconds pass.

    The first refusal prints one line on stderr: ``finops: warehouse <path> is busy (held by pid N (...)); waiting
    up to 300 s ...``; then the attempts back off from 0.05 s to 1 s apart. Any other error is raised at once.

    Raises
    ------
    WarehouseBusyError
        When the file is still locked after ``timeout`` seconds (default :func:`lock_timeout`).
    """
    limit = lock_timeout() if timeout is None else timeout
    start, delay, told = time.monotonic(), 0.05, False
    while True:
        try:
            return attempt()
        except duckdb.IOException as exc:
            if not _LOCKED.search(str(exc)):
                raise
            holder, waited = _holder(str(exc)), time.monotonic() - start
            if waited >= limit:
                raise WarehouseBusyError(shown, holder, waited) from None
            if not told:
                by = f" (held by {holder})" if holder else ""
                print(f"finops: warehouse {shown} is busy{by}; waiting up to {limit:.0f} s ({LOCK_TIMEOUT_ENV}) ...",
                      file=sys.stderr, flush=True)  # fmt: skip
                told = True
            time.sleep(max(0.0, min(delay, limit - waited)))
            delay = min(delay * 2, 1.0)


def _configure(con: BaseBackend) -> BaseBackend:
    """Set the session options the workbench relies on (DuckDB only)."""
    if con.name == "duckdb":
        con.con.execute("SET TimeZone = 'UTC'")
        con.con.execute("SET enable_progress_bar = false")
        limit = os.environ.get("FINOPS_DUCKDB_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)
        con.con.execute(f"SET memory_limit = '{limit}'")
        spill = str(_spill_dir()).replace("'", "''")
        with contextlib.suppress(duckdb.Error):  # another connection of this process to the file already spilled
            con.con.execute(f"SET temp_directory = '{spill}'")
    return con


def memory() -> BaseBackend:
    """Return a fresh in-memory DuckDB connection (for conversions and tests)."""
    return _configure(ibis.duckdb.connect())


def database_file(con: BaseBackend) -> Path | None:
    """Return the DuckDB file a connection reads (None in memory or on another backend)."""
    if con.name != "duckdb":
        return None
    row = con.con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    return Path(row[0]).resolve() if row and row[0] else None


def snapshot(path: str | Path, *, timeout: float | None = None) -> Path:
    """Copy a DuckDB file (and its write-ahead log) into a fresh scratch folder; return the copy.

    The copy is taken while holding the file read-only, so no writer is in the middle of a commit or a
    checkpoint: the copy is the warehouse as of its last commit. A writer holding the file is waited for
    (:func:`wait_for_lock`). The copy is removed when this process exits.

    Raises
    ------
    WarehouseBusyError
        When a writer holds the file longer than ``timeout``.
    EngineError
        When the copy cannot be written (disk full...); nothing is left behind.
    """
    source = Path(path)
    folder = scratch_path("snapshot")
    target = folder / source.name
    hold = wait_for_lock(lambda: _hold(source), source, timeout=timeout)
    try:
        shutil.copyfile(source, target)
        wal = source.with_name(source.name + ".wal")
        if wal.exists():
            shutil.copyfile(wal, target.with_name(target.name + ".wal"))
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise EngineError(f"cannot copy warehouse {source} to a snapshot in {folder}: {exc}") from exc
    finally:
        hold.close()
    return target


def _hold(source: Path) -> duckdb.DuckDBPyConnection:
    """Open ``source`` read-only, or join this process's read-write hold of it.

    DuckDB allows one configuration per file and process; joining is as safe here: between two statements of this
    process nothing is half-committed.
    """
    try:
        return duckdb.connect(str(source), read_only=True)
    except duckdb.ConnectionException as exc:
        if "different configuration" not in str(exc):
            raise
        return duckdb.connect(str(source))


def reader(con: BaseBackend, *, timeout: float | None = None) -> BaseBackend:
    """Swap a connection to a warehouse file for a connection to a private snapshot of it.

    What a long-lived reader (a notebook, a report) should hold: the snapshot holds no lock on the warehouse,
    so ``finops ingest`` runs while the reader is open, and the reader keeps seeing the data as of this call
    (call it again, e.g. rerun a notebook's first cell, for newer data). ``con`` is closed. The copy is this
    process's own: what a caller writes there (a view of the FOCUS export) stays in the copy and goes with it,
    never reaching the warehouse. A connection that is not to a DuckDB file, or already to a snapshot, is
    returned as it is.

    Parameters
    ----------
    con
        An open connection (:func:`connect`).
    timeout
        Seconds to wait for a writer holding the file; default :func:`lock_timeout`.

    Returns
    -------
    ibis.backends.BaseBackend
        The snapshot connection (or ``con``).
    """
    file = database_file(con)
    if file is None or file.is_relative_to(scratch_dir().resolve()):
        return con
    con.disconnect()
    return _configure(ibis.duckdb.connect(str(snapshot(file, timeout=timeout))))


# -- scratch: snapshots, DuckDB spill files, readers' staging files --------------------------------------------

_SCRATCH_CLEANED: set[Path] = set()
_SPILL: dict[int, Path] = {}


def scratch_dir() -> Path:
    """Return the one folder of the workbench's temporary files; stale entries are removed on first use.

    ``$FINOPS_SCRATCH``, or ``finops-scratch-<uid>`` in the system's temporary folder. Each entry is named
    ``finops-<kind>-<pid>.<start>-<random>`` (kind ``stage``, ``snapshot`` or ``duckdb``) after the process that
    made it and that process's start time, so a live process's entries are never taken for stale ones.
    """
    base = os.environ.get(SCRATCH_ENV) or Path(tempfile.gettempdir()) / f"finops-scratch-{os.getuid()}"
    folder = Path(base).expanduser()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder not in _SCRATCH_CLEANED:
        _SCRATCH_CLEANED.add(folder)
        clean_scratch(folder)
    return folder


def _start_time(pid: int) -> str | None:
    """Return a process's start time (clock ticks since boot, from ``/proc``), None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _tag() -> str:
    pid = os.getpid()
    return f"{pid}.{_start_time(pid) or 0}"


def _alive(pid: int, start: str) -> bool:
    if Path("/proc/self/stat").exists():
        return _start_time(pid) == start
    try:  # no /proc: trust the pid alone
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def scratch_path(kind: str) -> Path:
    """Create a new folder in :func:`scratch_dir` for this process; it is removed when the process exits.

    Parameters
    ----------
    kind
        Lower-case word naming what it holds (``stage``, ``snapshot``, ``duckdb``).
    """
    folder = Path(tempfile.mkdtemp(prefix=f"finops-{kind}-{_tag()}-", dir=scratch_dir()))
    atexit.register(_remove_own, folder, os.getpid())
    return folder


def _remove_own(folder: Path, pid: int) -> None:
    if os.getpid() == pid:  # a forked child inherits the exit handlers, not the folders
        shutil.rmtree(folder, ignore_errors=True)


def stage_folder() -> Path:
    """Return a new folder for a reader's staging file (what ``sources`` write a file's rows to once)."""
    return scratch_path("stage")


def remove_stages() -> int:
    """Remove this process's staging folders (after an ingest: their rows are in the warehouse or rolled back)."""
    mine = [e for e in scratch_dir().iterdir() if e.name.startswith(f"finops-stage-{_tag()}-")]
    for entry in mine:
        shutil.rmtree(entry, ignore_errors=True)
    return len(mine)


def clean_scratch(folder: str | Path | None = None) -> list[Path]:
    """Remove the scratch entries of processes that are gone (killed, crashed); return what was removed.

    Entries of live processes, this one included, and files not named by the workbench are left alone.
    """
    base = Path(folder) if folder is not None else scratch_dir()
    removed = []
    for entry in sorted(base.iterdir()):
        found = _ENTRY.match(entry.name)
        if found and not _alive(int(found["pid"]), found["start"]):
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def _spill_dir() -> Path:
    """DuckDB's spill folder for this process (one, made on first use: a fork gets its own)."""
    pid = os.getpid()
    if pid not in _SPILL or not _SPILL[pid].is_dir() or _SPILL[pid].parent != scratch_dir():
        _SPILL[pid] = scratch_path("duckdb")
    return _SPILL[pid]
