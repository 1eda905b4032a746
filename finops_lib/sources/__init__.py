"""Source formats: one module per vendor format, all in one registry.

A source format is registered with :func:`register_source`. It has a content-based detector
(``detect(path, head) -> bool`` on the first bytes of the file, decompressed) and a reader
(``read(path, con) -> ReadResult``) that returns ibis expressions on ``con`` for the normalized
rows and the rejects. Readers never raise on a bad row: the row goes to rejects with file, line,
column, value and reason. They raise :class:`~finops_lib.errors.SourceError` only when the file as
a whole cannot be read.

Examples
--------
>>> {"litellm_spend_logs", "openai_costs", "focus"} <= set(SOURCES)
True
"""

from __future__ import annotations

import functools
import importlib
import json
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import ibis
from ibis.backends import BaseBackend

from finops_lib.errors import UnknownFormatError
from finops_lib.registry import Registry
from finops_lib.sources._common import window_bounds, window_reason
from finops_lib.sources._compressed import open_input
from finops_lib.sources._sql import quote

__all__ = [
    "HEAD_BYTES",
    "REJECT_MARK",
    "SOURCES",
    "ReadResult",
    "Source",
    "Window",
    "detect_format",
    "explain_unrecognised",
    "get_source",
    "parquet_columns",
    "read_head",
    "register_source",
]

HEAD_BYTES = 65536
#: Prefix of ``x_DataQualityFlags`` on a row that is in fact a reject:
#: ``REJECT<US>column<US>reason<US>value`` (US = unit separator, chr(31)).
REJECT_MARK = "REJECT\x1f"


@dataclass(frozen=True)
class Window:
    """A slice of a source that a file restates in full (a re-pulled billing period or export window).

    When a file declares a window, rows of the same format already in the warehouse from *other*
    files, whose ``column`` lies in ``[start, end)`` and whose ``scope`` columns equal the given
    values, are replaced by the file's rows (counted as replaced), instead of being kept beside them.

    Attributes
    ----------
    start, end
        Bounds (UTC), end exclusive.
    scope
        ``(column, value)`` pairs that must match too (e.g. ``(("BillingAccountId", "123"),)``).
    column
        The timestamp column the bounds apply to.
    parts
        When the file is one part of a delivery split in several files (Azure ``part_0_0001.csv``,
        ``part_1_0001.csv`` of one run; CUR ``-00001``, ``-00002`` of one assembly; GCP shards
        ``-000000000000`` of one extract): globs naming the files of that delivery, the folder escaped
        (``/exports/run-7/part_*_*.csv``, or each file a manifest lists). Two files are parts of one
        delivery when each one's globs name the other: they restate the window *together*, never each
        other's rows (by window or natural key), whatever the ingest order; a later delivery restates all of
        them. Empty for a file that is a whole delivery. A window with ``start == end`` restates nothing and
        only names the parts (a format that restates by natural key alone declares one for its parts).
    """

    start: datetime
    end: datetime
    scope: tuple[tuple[str, str], ...] = ()
    column: str = "ChargePeriodStart"
    parts: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReadResult:
    """What a reader produced from one file.

    Attributes
    ----------
    format
        Source format name.
    path
        The file read.
    costs, requests, metrics
        Normalized rows (ibis expressions, conformed to the schema), or None.
    rejects
        Rejected records (conformed to the ``rejects`` table).
    rows_read
        Input records read from the file (each either loaded or rejected); None when only known
        once the rows have been evaluated (streaming readers: then it is loaded + rejected, and
        the CSV reader's own count of malformed lines is part of rejected).
    inline_rejects
        True when rejected records travel inside ``costs``/``requests`` with an
        ``x_DataQualityFlags`` value starting with :data:`REJECT_MARK` (one pass over a big file);
        :func:`finops_lib.warehouse.loading.settle` moves them to ``rejects``.
    csv_rejects
        Name of the engine table where DuckDB's CSV reader stored malformed lines, if any.
    windows
        Slices of the source this file restates in full (see :class:`Window`); empty when rows are
        only replaced one by one through their natural key (``x_RowHash``).
    delivered_at
        When the vendor produced the file, if the file or its manifest says (an export's run time);
        None lets the file's modification time stand in. Where two files restate the same rows, the
        newer delivery wins whatever the order they are ingested in.
    numbered_from
        When set, the rows come in file order with ``x_SourceRow`` null, and the loader numbers them by position
        as it inserts them, the first one with this number (a CSV's first record is line 2): one pass over a big
        file, where numbering inside the query would run it on one thread.
    lines_final
        The rows' ``x_SourceRow`` and the ``csv_rejects`` lines are already the lines of the whole file (a CSV read
        in ranges on Spark's workers, :func:`finops_lib.engines.workers.read_csv`): the loader does not move the
        rows past the rejected lines again.
    notes
        What the reader has to say about the file as a whole, not about a row, for the ingest summary's
        ``message``: a part of a split delivery whose manifest lists parts not found beside it (until they
        arrive, the window it restates holds this part's rows only).
    """

    format: str
    path: str
    costs: ibis.Table | None
    requests: ibis.Table | None
    rejects: ibis.Table | None
    rows_read: int | None
    inline_rejects: bool = False
    csv_rejects: str | None = None
    windows: tuple[Window, ...] = field(default_factory=tuple)
    delivered_at: datetime | None = None
    notes: tuple[str, ...] = ()
    numbered_from: int | None = None
    lines_final: bool = False
    metrics: ibis.Table | None = None


Reader = Callable[[Path, BaseBackend], ReadResult]
#: Reads several files of one format at once: one result per file, in order, each what ``read`` gives for it.
ManyReader = Callable[[list[Path], BaseBackend], list[ReadResult]]
Detector = Callable[[Path, str], bool]


@dataclass(frozen=True)
class Source:
    """A registered source format."""

    name: str
    table: str
    description: str
    detect: Detector
    read: Reader
    line_id: str | None = None
    read_many: ManyReader | None = None


SOURCES: Registry[Source] = Registry("source format")


def register_source(
    name: str, *, table: str, description: str, detect: Detector, line_id: str | None = None,
    many: ManyReader | None = None,
) -> Callable[[Reader], Reader]:
    """Register a reader under ``name`` (decorator).

    Parameters
    ----------
    name
        Format name (``x_SourceFormat`` of the rows it produces).
    table
        The table the format mainly fills (``costs``, ``requests`` or ``metrics``).
    description
        One line for ``finops formats`` and the README.
    detect
        Content detector: ``detect(path, head)`` with the decompressed head of the file as text
        (binary formats such as Parquet may open the file's metadata).
    line_id
        The field the vendor documents as a unique id of each record (LiteLLM ``request_id``, an
        OpenTelemetry span id), when there is one; the reader's ``x_RowHash`` is then that id. Two
        records of one file with the same id *and* the same content are one record delivered twice
        (the second is rejected as a duplicate). Without a documented id, records identical in every
        field are separate charges, each kept and counted (see
        :func:`finops_lib.warehouse.loading.settle`). Records that differ in any field are never
        merged either way.
    many
        Optionally, a reader of several files of the format at once (:data:`ManyReader`), for a folder of many
        small files: the ingest reads a group's new files of the format with it when given.
    """
    dated_many = None if many is None else _dated_many(many)
    return SOURCES.register(name, make=lambda read: Source(name, table, description, detect, _dated(read), line_id,
                                                           dated_many))


def _checked(result: ReadResult) -> ReadResult:
    """Return a reader's result with the rows it marks inline also rejected when dated outside the window."""
    if not result.inline_rejects:
        return result
    return replace(result, costs=_reject_outside_window(result.costs),
                   requests=_reject_outside_window(result.requests), metrics=_reject_outside_window(result.metrics))


def _dated_many(read_many: ManyReader) -> ManyReader:
    """Wrap a reader of many files as :func:`_dated` wraps a reader of one."""

    @functools.wraps(read_many)
    def checked(paths: list[Path], con: BaseBackend) -> list[ReadResult]:
        return [_checked(result) for result in read_many(paths, con)]

    return checked


def _dated(read: Reader) -> Reader:
    """Wrap a reader: rows it marks inline are also rejected when dated outside the plausible window.

    Python readers check each record's times as they parse them (``_common.plausible_time``); readers that
    work inside the engine parse times that never overflow there (year 1 to 294247), so the window is
    applied to their rows here, in one place: a row whose ``ChargePeriodStart`` lies outside
    :func:`~finops_lib.sources._common.date_window` is rejected (one row per record in those readers),
    naming the column, the value and the window.
    """

    @functools.wraps(read)
    def checked(path: Path, con: BaseBackend) -> ReadResult:
        return _checked(read(path, con))

    return checked


def _reject_outside_window(rows: ibis.Table | None) -> ibis.Table | None:
    """Mark rows dated outside the window as inline rejects (rows already rejected keep their reason)."""
    if rows is None:
        return None
    return rows.mutate(x_DataQualityFlags=window_mark(rows))


def window_mark(rows: ibis.Table) -> ibis.Value:
    """Return ``x_DataQualityFlags`` of ``rows`` with the inline reject mark of a row dated outside the window.

    :func:`window_mark_sql` writes the same value as SQL text (ingest selects rows of the engine without
    compiling them); a test holds the two equal.
    """
    start, end = window_bounds()
    moment = rows.ChargePeriodStart
    shown = moment.cast("string")
    before, after = _reason_around_value()
    reason = ibis.literal(before) + shown + ibis.literal(after)
    mark = ibis.literal(f"{REJECT_MARK}ChargePeriodStart\x1f") + reason + ibis.literal("\x1f") + shown
    outside = ((moment < ibis.literal(start)) | (moment >= ibis.literal(end))).fill_null(False)
    rejected = rows.x_DataQualityFlags.startswith(REJECT_MARK).fill_null(False)
    return ibis.ifelse(outside & ~rejected, mark, rows.x_DataQualityFlags)


def window_mark_sql(moment: str, flags: str) -> str:
    """Return DuckDB SQL of :func:`window_mark` over the SQL expressions ``moment`` (a UTC timestamp) and ``flags``."""
    start, end = window_bounds()
    shown = f"CAST({moment} AS VARCHAR)"
    before, after = _reason_around_value()
    head, tail = quote(f"{REJECT_MARK}ChargePeriodStart\x1f{before}"), quote(f"{after}\x1f")
    mark = f"{head} || {shown} || {tail} || {shown}"
    outside = (f"coalesce({moment} < TIMESTAMPTZ '{start.isoformat()}' "
               f"OR {moment} >= TIMESTAMPTZ '{end.isoformat()}', false)")
    rejected = f"coalesce(starts_with({flags}, {quote(REJECT_MARK)}), false)"
    return f"CASE WHEN {outside} AND NOT {rejected} THEN {mark} ELSE {flags} END"


def _reason_around_value() -> tuple[str, str]:
    """Return the window reason of ``ChargePeriodStart`` before and after its value (:func:`window_reason`'s text)."""
    before, after = window_reason("ChargePeriodStart", "\x00").split("\x00")
    return before, after


def read_head(path: Path, size: int = HEAD_BYTES) -> str:
    """Return the first ``size`` bytes of a file as text, decompressing ``.gz``."""
    with open_input(path) as fh:
        return fh.read(size).decode("utf-8", errors="replace")


def parquet_columns(path: Path) -> list[str] | None:
    """Return the column names of a Parquet file's schema, or None when it is not a readable Parquet file.

    For detectors: a head starting with ``PAR1`` is offered to every detector, and a damaged file must
    make each of them say "not mine", never raise.
    """
    try:
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    except Exception:  # pyarrow raises several types for damaged or foreign files
        return None


def detect_format(path: str | Path) -> Source | None:
    """Return the source format whose detector accepts the file, or None.

    Parameters
    ----------
    path
        The file.
    """
    p = Path(path)
    try:
        head = read_head(p)
    except (OSError, EOFError):
        return None
    for source in SOURCES.values():
        if source.detect(p, head):
            return source
    return None


def explain_unrecognised(path: str | Path) -> str:
    r"""Say what a file no format recognises looks like, and what to do about it (for skipped-file lists).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "x.csv"
    ...     _ = p.write_text("when,amount\n2026-05-01,3\n")
    ...     print(explain_unrecognised(p))  # doctest: +NORMALIZE_WHITESPACE
    CSV with 2 columns (when, amount), which no registered format reads; see `finops formats`, force one with
    `finops ingest --format NAME` to see what it misses, or map the columns with a YAML mapping (`--mapping`)
    """
    p = Path(path)
    hint = ("see `finops formats`, force one with `finops ingest --format NAME` to see what it misses, or map the "
            "columns with a YAML mapping (`--mapping`)")
    try:
        size = p.stat().st_size
        head = read_head(p)
    except (OSError, EOFError) as exc:
        return f"cannot be opened ({exc.__class__.__name__}: {exc})"
    if size == 0:
        return "empty file (0 bytes): nothing to load"
    return f"{_shape(p, head)}, which no registered format reads; {hint}"


def _names(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(str(n) for n in names[:limit])
    return f"{shown}, ..." if len(names) > limit else shown


def _shape(p: Path, head: str) -> str:
    """Return what a file's head looks like: Parquet, JSON, JSON lines, CSV or other text."""
    if head.startswith("PAR1"):
        columns = parquet_columns(p)
        return f"Parquet with {len(columns)} columns ({_names(columns)})" if columns else "unreadable Parquet"
    if "\ufffd" in head[:4096] and not head.lstrip().startswith(("{", "[")):
        return "binary content (not text, Parquet or gzip)"
    text = head.lstrip("\ufeff").lstrip()
    first = text.split("\n", 1)[0].strip()
    if text.startswith(("{", "[")):
        per_line = first.startswith("{") and first.endswith("}") and len(text.strip().splitlines()) > 1
        try:
            value = json.loads(first if per_line else text)
        except ValueError:
            return "JSON (only its first 64 KiB were looked at)"
        kind = "JSON lines" if per_line else "JSON"
        if isinstance(value, list):
            keys = sorted({k for item in value[:20] if isinstance(item, dict) for k in item})
            return f"{kind} array of {len(value)} items with keys ({_names(keys)})"
        return f"{kind} object with keys ({_names(list(value))})"
    for sep, label in ((",", "CSV"), ("\t", "tab-separated text"), (";", "semicolon-separated text")):
        if sep in first:
            names = [n.strip().strip('"') for n in first.split(sep)]
            return f"{label} with {len(names)} columns ({_names(names)})"
    return f"text starting {first[:60]!r}"


def get_source(path: str | Path, format: str | None = None) -> Source:
    """Return the named format, or the detected one.

    Raises
    ------
    UnknownFormatError
        When ``format`` is not registered or no detector accepts the file.
    """
    if format is not None:
        if format not in SOURCES:
            raise UnknownFormatError(path, f"unknown format {format!r}; registered: {', '.join(sorted(SOURCES))}")
        return SOURCES[format]
    source = detect_format(path)
    if source is None:
        raise UnknownFormatError(path, f"no registered format recognises this file ({', '.join(sorted(SOURCES))})")
    return source


def _register_all() -> None:
    """Import every public module of this package: importing a module registers its formats.

    Modules whose names start with ``_`` are helpers. Registration order is module-name order, and
    detectors must not overlap (a test offers every sample and fixture file to every detector).
    """
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_register_all()
