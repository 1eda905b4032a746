"""Atomic output files: a reader sees the old file or the new one, never half of one.

Every file the workbench writes for someone else (report pages and index, ``results.json``, CSV, JSON and Parquet
outputs of the commands) is written to a temporary name in the target's folder (``.<name>.tmp-<pid>-<random>``),
flushed to disk, then renamed over the target with :func:`os.replace` (atomic on POSIX and Windows within one
file system). If writing fails (an exception, a full disk) the temporary file is removed and the old file, if any,
is left as it was; a process killed mid-write leaves only a hidden ``.tmp-`` file, which the next write of the same
target removes when its process is gone.

Examples
--------
>>> import tempfile
>>> target = Path(tempfile.mkdtemp()) / "out.json"
>>> atomic_write(target, '{"total": "1.50"}').read_text()
'{"total": "1.50"}'
>>> with atomic_open(target) as handle:
...     _ = handle.write("new")
>>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
('new', ['out.json'])
"""

from __future__ import annotations

import glob
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "atomic_path", "atomic_write"]

_TEMP = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)-[0-9a-f]+$")


def _temp_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _remove_stale(target: Path) -> None:
    """Remove temporary files of ``target`` left by processes that no longer run (killed mid-write)."""
    for entry in target.parent.glob(glob.escape(f".{target.name}") + ".tmp-*"):
        found = _TEMP.match(entry.name)
        if found and found["name"] == target.name and _gone(int(found["pid"])):
            entry.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it over ``path``, on failure remove it.

    For writers that take a file name rather than a handle (DuckDB's ``COPY ... TO``, ``DataFrame.to_parquet``).

    Parameters
    ----------
    path
        The final file (its folder is created).

    Yields
    ------
    Path
        Where to write.
    """
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(target)
    temp = _temp_name(target)
    try:
        yield temp
        with temp.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", *, encoding: str | None = "utf-8",
                newline: str | None = None) -> Iterator[IO[Any]]:  # fmt: skip
    """Open a temporary file for writing; on a clean exit it replaces ``path``, on an error it is removed.

    Parameters
    ----------
    path
        The final file (its folder is created).
    mode
        ``"w"`` (text) or ``"wb"`` (bytes).
    encoding, newline
        As for :func:`open`, text mode only.

    Yields
    ------
    IO
        The open temporary file.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes a whole file: mode 'w' or 'wb', got {mode!r}")
    text = {"encoding": encoding, "newline": newline} if mode == "w" else {}
    with atomic_path(path) as temp, open(temp, mode.replace("w", "x"), **text) as handle:
        yield handle
        handle.flush()


def atomic_write(path: str | Path, data: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Write ``data`` (text or bytes) to ``path`` atomically and return the path.

    Parameters
    ----------
    path
        The final file (its folder is created).
    data
        The whole content.
    encoding
        Encoding of text ``data``.

    Returns
    -------
    Path
        ``path``.
    """
    target = Path(path).expanduser()
    with atomic_open(target, "wb" if isinstance(data, bytes) else "w", encoding=None if isinstance(data, bytes)
                     else encoding) as handle:  # fmt: skip
        handle.write(data)
    return target
