"""What the warehouse already holds of each file: read once per ingest run, so an unchanged file costs a ``stat``.

``ingested_files`` records each file's SHA-256, size and modification time. A run reads that table once into a
:class:`Ledger` and asks it, per file, before any detection or parsing:

* same path, same size and same modification time as recorded -> the file is unchanged, without reading a byte
  of it. A time is recorded only when it was a couple of seconds old when the file was read (:func:`settled_stat`,
  the rule ``git`` uses for its index): a file rewritten within the same clock tick is hashed again;
* otherwise the file is hashed (SHA-256, streamed): same hash as recorded -> unchanged (the new time is
  remembered); a hash another path holds -> the same bytes delivered twice; anything else is new content.

A large new file is hashed in a thread while the engine reads it (:func:`hash_in_background`), so the hash costs
no extra pass of waiting; its twin check is made before the load commits.

Examples
--------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     p = Path(d) / "a.csv"
...     _ = p.write_text("x")
...     file_sha256(p)[:12]
'2d711642b726'
"""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ibis.backends import BaseBackend

__all__ = ["BACKGROUND_HASH_BYTES", "Known", "Ledger", "file_sha256", "hash_in_background", "settled_stat"]

#: Files at least this big are hashed in a thread while they load (smaller ones: the hash is cheaper than a thread).
BACKGROUND_HASH_BYTES = 64 << 20
#: A modification time is recorded only when it is this much older than the moment the file was read.
_RACY_NS = 2_000_000_000


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file's bytes (streamed)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def hash_in_background(path: Path) -> Future[str]:
    """Start hashing ``path`` in a thread (hashlib releases the GIL on big blocks); return the future hash."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="finops-sha256")
    future = pool.submit(file_sha256, path)
    pool.shutdown(wait=False)
    return future


@dataclass(frozen=True)
class Known:
    """One file the warehouse holds: its hash, format, size and modification time as ingested."""

    path: str
    sha: str
    format: str
    size: int | None
    mtime_ns: int | None
    ingested_at: datetime

    def same_stat(self, stat: os.stat_result) -> bool:
        """Return whether ``stat`` shows the file as it was ingested (same size and modification time)."""
        return self.size is not None and (stat.st_size, stat.st_mtime_ns) == (self.size, self.mtime_ns)


def settled_stat(stat: os.stat_result) -> tuple[int | None, int | None]:
    """Return the (size, time) worth recording for a file read now: nothing when its time is racy.

    A file modified within a couple of seconds of being read may change again within the same clock tick
    unseen, so its time is not recorded and the next run hashes it (the rule ``git`` uses for its index).
    """
    if stat.st_mtime_ns + _RACY_NS > time.time_ns():
        return None, None
    return stat.st_size, stat.st_mtime_ns


@dataclass
class Ledger:
    """The files a warehouse holds, by path and by hash (kept up to date by the ingest run that reads it)."""

    by_path: dict[str, Known] = field(default_factory=dict)
    by_sha: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, con: BaseBackend) -> Ledger:
        """Read ``ingested_files`` once (the latest ingest of each path)."""
        rows = con.con.execute(
            "SELECT x_SourceFile, x_FileSha256, x_SourceFormat, x_FileSize, x_FileModifiedNs, x_IngestedAt "
            "FROM ingested_files ORDER BY x_IngestedAt").fetchall()
        ledger = cls()
        for row in rows:
            ledger.add(Known(*row))
        return ledger

    def add(self, known: Known) -> None:
        """Record a file just ingested (replacing what was known of its path)."""
        self.forget(known.path)
        self.by_path[known.path] = known
        self.by_sha.setdefault(known.sha, known.path)

    def forget(self, path: str) -> None:
        """Drop a file whose rows were removed (its path re-ingested with other bytes, or a later copy)."""
        old = self.by_path.pop(path, None)
        if old is not None and self.by_sha.get(old.sha) == path:
            del self.by_sha[old.sha]
            twin = next((k.path for k in self.by_path.values() if k.sha == old.sha), None)
            if twin is not None:
                self.by_sha[old.sha] = twin

    def copy(self) -> Ledger:
        """Return a copy to :meth:`restore` when a transaction whose files it recorded is rolled back."""
        return Ledger(dict(self.by_path), dict(self.by_sha))

    def restore(self, kept: Ledger) -> None:
        """Go back to what ``kept`` (a :meth:`copy`) held."""
        self.by_path, self.by_sha = dict(kept.by_path), dict(kept.by_sha)

    def twin(self, sha: str, path: str) -> str | None:
        """Return another path already holding these bytes, or None."""
        held = self.by_sha.get(sha)
        if held is not None and held != path:
            return held
        return next((k.path for k in self.by_path.values() if k.sha == sha and k.path != path), None)

    def remember_stat(self, con: BaseBackend, known: Known, stat: os.stat_result) -> None:
        """Record the size and time of a file found unchanged by its hash (the next run needs only a ``stat``)."""
        size, mtime_ns = settled_stat(stat)
        if size is None:
            return
        con.con.execute("UPDATE ingested_files SET x_FileSize = ?, x_FileModifiedNs = ? WHERE x_SourceFile = ?",
                        [size, mtime_ns, known.path])
        self.by_path[known.path] = Known(known.path, known.sha, known.format, size, mtime_ns, known.ingested_at)
