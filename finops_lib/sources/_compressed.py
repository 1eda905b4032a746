"""Compressed inputs (``.gz``, ``.zip``) opened with a limit on what they expand to: no decompression bombs.

Every reader opens a file through :func:`open_input` (Python readers) or has it checked by
:func:`check_expansion` before the engine reads it (DuckDB reads ``.csv.gz`` itself). The bytes are counted
as they come out of the decompressor, never taken from a header (a gzip trailer's ISIZE or a zip entry's
``file_size`` may lie), and the read stops with a :class:`~finops_lib.errors.SourceError` as soon as either
limit is passed:

* size: more than ``FINOPS_MAX_EXPANDED_BYTES`` bytes (default 16 GiB);
* ratio: more than ``FINOPS_MAX_EXPANSION_RATIO`` times the compressed file's size (default 100), once past
  :data:`RATIO_FLOOR` (16 MiB; below it a small, very repetitive file may compress better than that and is
  harmless).

Billing exports compress about 10 to 40 times; a bomb (zeros, one repeated line) a thousand times or more.
Both settings are read from the environment at each open, so a test or a user lowers or raises them
without a restart.

Examples
--------
>>> limits().max_ratio
100.0
"""

from __future__ import annotations

import gzip
import io
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from finops_lib.errors import ParameterError, SourceError

SIZE_VAR = "FINOPS_MAX_EXPANDED_BYTES"
RATIO_VAR = "FINOPS_MAX_EXPANSION_RATIO"
DEFAULT_MAX_BYTES = 16 * 2**30
DEFAULT_MAX_RATIO = 100.0
#: Expanded size below which the ratio is not checked.
RATIO_FLOOR = 16 * 2**20
#: Bytes decompressed per step while a whole file is checked.
CHUNK = 1 << 20
COMPRESSED = (".gz", ".zip")


@dataclass(frozen=True)
class Limits:
    """How far a compressed input may expand.

    Attributes
    ----------
    max_bytes
        Largest expanded size, in bytes.
    max_ratio
        Largest expanded size per compressed byte (checked past :data:`RATIO_FLOOR`).
    """

    max_bytes: int
    max_ratio: float


def limits() -> Limits:
    """Return the limits set by ``FINOPS_MAX_EXPANDED_BYTES`` and ``FINOPS_MAX_EXPANSION_RATIO`` (or the defaults).

    Raises
    ------
    ParameterError
        When a variable is set to something that is not a positive number.
    """
    return Limits(int(_setting(SIZE_VAR, DEFAULT_MAX_BYTES)), _setting(RATIO_VAR, DEFAULT_MAX_RATIO))


def _setting(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ParameterError(f"${name} must be a positive number, got {text!r}")
    return value


class _Counted(io.RawIOBase):
    """A decompressed stream that counts its bytes and stops past the limits (raises SourceError)."""

    def __init__(self, inner: IO[bytes], path: Path, compressed: int, lim: Limits) -> None:
        self._inner, self._path, self._compressed, self._limits = inner, path, max(compressed, 1), lim
        self.expanded = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._inner.readinto(buffer)
        self.expanded += n or 0
        _check(self._path, self.expanded, self._compressed, self._limits)
        return n

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


def _check(path: Path, expanded: int, compressed: int, lim: Limits) -> None:
    """Raise SourceError when ``expanded`` bytes out of ``compressed`` pass a limit."""
    if expanded > lim.max_bytes:
        raise SourceError(path, f"decompressed, the file expands past {lim.max_bytes} bytes (the limit); set "
                                f"${SIZE_VAR} to allow a larger file", value=expanded)
    if expanded > RATIO_FLOOR and expanded > lim.max_ratio * compressed:
        raise SourceError(path, f"decompressed, the file expands more than {lim.max_ratio:g} times its "
                                f"{compressed} bytes (past {expanded} bytes): a likely decompression bomb; set "
                                f"${RATIO_VAR} to allow it", value=expanded)


def open_input(path: Path, mode: str = "rb", **text: Any) -> IO[Any]:
    """Open a source file for reading, decompressing ``.gz`` with the expansion limits.

    Parameters
    ----------
    path
        The file (``.gz``: gzip, any number of members; anything else: read as is).
    mode
        ``"rb"`` or ``"rt"``.
    **text
        ``encoding``, ``errors``, ``newline`` of text mode.

    Raises
    ------
    SourceError
        While reading, when the decompressed bytes pass a limit (see :func:`limits`).
    """
    path = Path(path)
    if path.suffix != ".gz":
        return open(path, mode, **text)
    counted = _Counted(gzip.GzipFile(path, "rb"), path, path.stat().st_size, limits())
    stream = io.BufferedReader(counted, CHUNK)
    return io.TextIOWrapper(stream, **text) if "t" in mode else stream


def check_expansion(path: Path) -> int:
    """Decompress a ``.gz`` or ``.zip`` file once, counting; return its expanded size (0 for other files).

    For the readers that hand a compressed file to the engine, which decompresses it beyond our reach.

    Raises
    ------
    SourceError
        When it passes a limit (see :func:`limits`), or is not valid gzip or zip.
    """
    path = Path(path)
    if path.suffix not in COMPRESSED:
        return 0
    lim, compressed = limits(), max(path.stat().st_size, 1)
    expanded = 0
    try:
        if path.suffix == ".gz":
            with open_input(path) as fh:
                while chunk := fh.read(CHUNK):
                    expanded += len(chunk)
            return expanded
        with zipfile.ZipFile(path) as archive:
            for entry in archive.infolist():  # sizes counted as read: the directory's file_size may lie
                with archive.open(entry) as fh:
                    while chunk := fh.read(CHUNK):
                        expanded += len(chunk)
                        _check(path, expanded, compressed, lim)
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        raise SourceError(path, f"not a readable {path.suffix} file: {exc}") from exc
    return expanded


def extract_member(path: Path, archive: zipfile.ZipFile, name: str, target: Path, *, before: int = 0) -> int:
    """Copy the member ``name`` of the zip file ``path`` to ``target``, counting its bytes against the limits.

    Parameters
    ----------
    path
        The zip file (named in errors; its size is the base of the ratio).
    archive
        ``path`` opened.
    name
        The member.
    target
        Where its bytes go (a file of the caller's choosing: member names are never used as paths).
    before
        Bytes of the members of ``path`` extracted before this one: the limits hold for the archive as a whole.

    Returns
    -------
    int
        ``before`` plus this member's expanded size.

    Raises
    ------
    SourceError
        When the archive expands past a limit (see :func:`limits`), or the member cannot be decompressed.
    """
    lim, compressed, expanded = limits(), max(Path(path).stat().st_size, 1), before
    try:
        with archive.open(name) as source, open(target, "wb") as out:
            while chunk := source.read(CHUNK):
                expanded += len(chunk)
                _check(path, expanded, compressed, lim)
                out.write(chunk)
    except (EOFError, zlib.error, zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
        raise SourceError(path, f"member {name} cannot be decompressed: {exc}") from exc
    return expanded
