"""The members of a zip of FOCUS CSV parts that make one delivery, per its ``manifest.json`` and the parts' names.

Used by :mod:`finops_lib.sources._focus_zip` (Pinecone's cost-usage export: ``part-1-of-3.csv`` to
``part-3-of-3.csv`` beside a ``manifest.json`` "describing the archive", docs.pinecone.io, API reference 2026-07).
Never silently partial: a CSV part the manifest lists, or the part names imply (``part-3-of-3.csv`` beside
``part-1-of-3.csv``), missing from the archive, and a manifest that is not a JSON object or lists its files in
another shape, each fail the archive as a whole (:class:`~finops_lib.errors.SourceError` naming the archive and the
member). A CSV member the manifest does not list is read after the listed ones, and a member that is neither CSV nor
the manifest is left out; both are said in a note.

UNCONFIRMED (no manifest of a real export was found): the manifest's fields. Read when present, in any of these
spellings: the file list (``files``, ``parts``, ``data_files``, ``dataFiles``: names, or objects naming the file in
``name``, ``file``, ``filename``, ``file_name`` or ``path``), the records per file and in all (``row_count``,
``rowCount``, ``rows``, ``record_count``), the export time (``created_at``, ``createdAt``, ``generated_at``,
``finished_at``) and the period covered (``period_start``/``periodStart``, ``period_end``/``periodEnd``, end
exclusive): the names of the API's own CostUsageExport object where it has them. A time that does not parse is
ignored, with a note. A manifest holding none of them is only checked to be a JSON object. Also unconfirmed: members
in a folder of the archive (matched by their base name).
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from finops_lib.errors import SourceError

__all__ = ["MANIFEST", "UNREADABLE", "Manifest", "base_name", "members", "ordered", "read_manifest"]

MANIFEST = "manifest.json"
#: Largest manifest read (a manifest lists files; anything bigger is not one).
MANIFEST_BYTES = 1 << 20
#: What reading a damaged or foreign archive may raise.
UNREADABLE = (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, ValueError)
_PART = re.compile(r"^part-(\d+)-of-(\d+)\.csv$", re.IGNORECASE)
_FILE_KEYS = ("files", "parts", "data_files", "dataFiles")
_NAME_KEYS = ("name", "file", "filename", "file_name", "path")
_ROW_KEYS = ("row_count", "rowCount", "rows", "record_count")
_TIME_KEYS = ("created_at", "createdAt", "generated_at", "finished_at")


def base_name(name: str) -> str:
    """Return a member's name without its folders in the archive."""
    return PurePosixPath(name).name


def _part_order(name: str) -> tuple[int, int, str]:
    hit = _PART.match(base_name(name))
    return (0, int(hit[1]), name) if hit else (1, 0, name)


def members(archive: zipfile.ZipFile) -> tuple[list[str], str | None, list[str]]:
    """Return (the CSV members in part order, the manifest member or None, the other members) of an archive."""
    csvs, manifest, others = [], None, []
    for info in archive.infolist():
        base = base_name(info.filename)
        if info.is_dir() or not base or base.startswith(".") or info.filename.startswith("__MACOSX/"):
            continue
        if base.lower().endswith(".csv"):
            csvs.append(info.filename)
        elif base.lower() == MANIFEST and manifest is None:
            manifest = info.filename
        else:
            others.append(info.filename)
    return sorted(csvs, key=_part_order), manifest, others


@dataclass(frozen=True)
class Manifest:
    """What an archive's manifest says.

    The CSV files in order (None: not listed), the records per file (by base name, lower case) and in all, the export
    time, the period covered, and notes on what it could not read.
    """

    files: tuple[str, ...] | None = None
    rows: dict[str, int] = field(default_factory=dict)  # by base name, lower case
    total: int | None = None
    created: datetime | None = None
    period: tuple[datetime, datetime] | None = None
    notes: tuple[str, ...] = ()


def _first(doc: dict, keys: tuple[str, ...]) -> object:
    return next((doc[k] for k in keys if doc.get(k) is not None), None)


def _count(value: object) -> int | None:
    """Return a count of records: a whole number (or its digits as text); anything else is no count (None)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return value
    return int(value) if isinstance(value, str) and value.strip().isdigit() else None


def _moment(value: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _listed(path: Path, name: str, doc: dict) -> tuple[tuple[str, ...] | None, dict[str, int]]:
    """Return the files a manifest lists (None when it lists none) and the records it gives per file."""
    key = next((k for k in _FILE_KEYS if doc.get(k) is not None), None)
    if key is None:
        return None, {}
    if not isinstance(doc[key], list):
        raise SourceError(path, f"its {name} gives {key!r} as {type(doc[key]).__name__}, not a list of files")
    files, rows = [], {}
    for i, item in enumerate(doc[key]):
        entry = item if isinstance(item, dict) else {}
        listed = item if isinstance(item, str) else _first(entry, _NAME_KEYS)
        if not isinstance(listed, str) or not listed.strip():
            raise SourceError(path, f"its {name} lists a file without a name ({key}[{i}] = {json.dumps(item)[:80]})")
        files.append(listed.strip())
        if (count := _count(_first(entry, _ROW_KEYS))) is not None:
            rows[base_name(listed.strip()).lower()] = count
    return tuple(files), rows


def read_manifest(path: Path, archive: zipfile.ZipFile, name: str) -> Manifest:
    """Read the archive's manifest member ``name``; a manifest that is not a JSON object fails the archive."""
    try:
        with archive.open(name) as fh:
            raw = fh.read(MANIFEST_BYTES + 1)
    except UNREADABLE as exc:
        raise SourceError(path, f"its {name} cannot be decompressed: {exc}") from exc
    if len(raw) > MANIFEST_BYTES:
        raise SourceError(path, f"its {name} is larger than {MANIFEST_BYTES} bytes: not a manifest")
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SourceError(path, f"its {name} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise SourceError(path, f"its {name} is not a JSON object (a {type(doc).__name__})")
    files, rows = _listed(path, name, doc)
    notes, times = [], {}
    for label, keys in (
        ("created", _TIME_KEYS),
        ("start", ("period_start", "periodStart")),
        ("end", ("period_end", "periodEnd")),
    ):
        value = _first(doc, keys)
        times[label] = None if value is None else _moment(value)
        if value is not None and times[label] is None:
            notes.append(
                f"its {name} gives {next(k for k in keys if doc.get(k) is not None)} as {value!r}, not a time: ignored"
            )
    start, end = times["start"], times["end"]
    period = (start, end) if start is not None and end is not None and start < end else None
    return Manifest(files, rows, _count(_first(doc, _ROW_KEYS)), times["created"], period, tuple(notes))


def ordered(path: Path, csvs: list[str], manifest: Manifest, others: list[str]) -> tuple[list[str], list[str]]:
    """Return the CSV members to read, in order, and notes; fail when a part is missing from the archive."""
    notes = [f"not read (only CSV parts and {MANIFEST} are): {', '.join(others)}"] if others else []
    order = list(csvs)
    if manifest.files is not None:
        by_base = {}
        for member in csvs:
            by_base.setdefault(base_name(member).lower(), []).append(member)
        order, missing = [], []
        for listed in manifest.files:
            found = listed if listed in csvs else (by_base.get(base_name(listed).lower()) or [None])[0]
            (missing if found is None else order).append(listed if found is None else found)
        unread = [m for m in missing if base_name(m).lower() in {base_name(o).lower() for o in others}]
        if unread:
            raise SourceError(path, f"its {MANIFEST} lists {', '.join(unread)}, not a CSV part this reader reads: an "
                                    "export read in part is not loaded")  # fmt: skip
        if missing:
            raise SourceError(
                path,
                f"{', '.join(missing)} missing from the archive (its {MANIFEST} lists it): an "
                "incomplete export is not loaded; download the export again",
            )
        extra = [m for m in csvs if m not in order]
        order = list(dict.fromkeys(order)) + extra
        if extra:
            notes.append(f"{', '.join(extra)} not listed in its {MANIFEST}: read after the listed parts")
    named = [(int(hit[1]), int(hit[2])) for hit in (_PART.match(base_name(m)) for m in csvs) if hit]
    held = {(i, n) for i, n in named}
    missing = [f"part-{i}-of-{n}.csv" for n in sorted({n for _, n in named}) for i in range(1, n + 1)
               if (i, n) not in held]  # fmt: skip
    if missing:
        raise SourceError(
            path,
            f"{', '.join(missing)} missing from the archive (its parts are named part-i-of-n): "
            "an incomplete export is not loaded; download the export again",
        )
    return order, notes
