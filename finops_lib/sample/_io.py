"""Deterministic file output: compact JSON with exact decimals, CSV text, gzip, and the manifest."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any


def fmt_decimal(value: Decimal) -> str:
    """Return a decimal as plain text without exponent or trailing zeros (``Decimal('1.50')`` -> ``'1.5'``)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def dumps_json(value: Any) -> str:
    """Serialise to compact JSON; :class:`~decimal.Decimal` values become exact JSON numbers."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{dumps_json(str(k))}:{dumps_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps_json(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return fmt_decimal(value)
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int | float):
        return repr(value)
    import json

    return json.dumps(value, ensure_ascii=False)


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    """Return CSV text (Unix line ends, minimal quoting) for a header and rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def open_gzip(path: Path, *, level: int = 9) -> IO[bytes]:
    """Open a gzip file for writing with a reproducible header (no file name, ``mtime=0``)."""
    raw = path.open("wb")
    return gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=level)


@dataclass
class Manifest:
    """Collects the files written under ``root`` (relative path, format, rows, bytes, sha256)."""

    root: Path
    files: list[dict[str, Any]] = field(default_factory=list)

    def write_text(self, rel: str, text: str, *, fmt: str, rows: int) -> None:
        """Write a UTF-8 text file (gzip-compressed, reproducibly, when ``rel`` ends in ``.gz``) and record it."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".gz"):
            with open_gzip(path) as handle:
                handle.write(text.encode("utf-8"))
        else:
            path.write_bytes(text.encode("utf-8"))
        self.record(rel, fmt=fmt, rows=rows)

    def record(self, rel: str, *, fmt: str, rows: int) -> None:
        """Record a file already written under ``root``."""
        digest = hashlib.sha256()
        path = self.root / rel
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        self.files.append(
            {"path": rel, "format": fmt, "rows": rows, "bytes": path.stat().st_size, "sha256": digest.hexdigest()}
        )
