"""FOCUS cost and usage parts delivered in one zip archive (Pinecone's cost-usage export), read as one delivery.

Pinecone's Admin API (``POST /admin/cost-usage-exports``, API version 2026-07) writes a zip archive holding the
cost records as one or more CSV files whose columns follow the FOCUS 1.4 Cost and Usage dataset, beside a
``manifest.json`` describing the archive; each CSV starts with a header line and holds at most 800,000 rows, the
files named ``part-1-of-3.csv`` to ``part-3-of-3.csv`` and ordered by those names; rows are ordered by
``ChargePeriodStart, SubAccountName, ResourceName, ChargeDescription, SkuId, ResourceId`` across the archive as a
whole; ``x_`` columns are Pinecone's extensions (docs.pinecone.io, API reference 2026-07, "Create a cost usage
export"). The FOCUS reader (:mod:`finops_lib.sources.focus`) reads such an archive as one file:

* detection peeks at the member names and the first line of the first CSV member, never extracting (:func:`detect`);
* the CSV members are read in part order (the manifest's order when it lists them), each extracted in turn with the
  expansion limits counted over the whole archive (:func:`~finops_lib.sources._compressed.extract_member`), staged
  by the FOCUS reader and deleted (:func:`read_export`). Rows are numbered through the archive: ``x_SourceRow`` is
  the record's ordinal (1, 2, ... over the parts in order) and ``x_SourceLocator`` names the member and its line
  (``part-2-of-3.csv line 17``), in the rows, in the rows the reader rejects and in the lines the CSV scanner could
  not parse (:func:`rows_sql`, :func:`rejects_sql`);
* never silently partial: a part missing from the archive (:mod:`~finops_lib.sources._zip_manifest`), a part
  holding other than the records the manifest counts, a bad manifest, a part without the mandatory FOCUS columns,
  each fails the archive as a whole, naming the archive and the member: loaded, a partial export would restate
  (replace) the complete one of the same period;
* the manifest's export time (``created_at``) is the delivery time (the newer export of a period wins, whatever the
  ingest order); the period it covers (``period_start`` to ``period_end``, end exclusive) clips the billing-period
  windows the archive restates (:func:`clipped`): a later export of the same period restates the earlier one, the
  exports of two halves of a month do not restate each other.

UNCONFIRMED: the manifest's fields (see :mod:`~finops_lib.sources._zip_manifest`), and what Pinecone writes when a
part holds more rows than its manifest says (an error here).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
from ibis.backends import BaseBackend

from finops_lib import engine
from finops_lib.errors import SourceError
from finops_lib.sources import Window
from finops_lib.sources._compressed import extract_member
from finops_lib.sources._csv import MISSING, PADDED
from finops_lib.sources._sql import ident, quote
from finops_lib.sources._zip_manifest import MANIFEST, UNREADABLE, Manifest, base_name, members, ordered, read_manifest

__all__ = ["Export", "Part", "clipped", "detect", "is_zip", "read_export", "rejects_sql", "rows_sql", "zipped"]

#: Bytes of the first CSV member read by :func:`detect`.
HEAD_BYTES = 65536
#: The first bytes of a zip archive (a local file header).
MAGIC = b"PK\x03\x04"
#: Stages one extracted CSV member: its path -> (SQL of its rows as text, its column names, its CSV reject table).
Stager = Callable[[Path], tuple[str, list[str], str | None]]


def is_zip(head: str) -> bool:
    r"""Return whether a file's head is a zip archive's (a local file header first).

    Examples
    --------
    >>> is_zip("PK\x03\x04..."), is_zip("BilledCost,...")
    (True, False)
    """
    return head.startswith(MAGIC.decode("ascii"))


def zipped(path: Path) -> bool:
    """Return whether the file ``path`` is a zip archive (its first bytes, not decompressed)."""
    with Path(path).open("rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


def detect(path: Path, accepts: Callable[[str], bool]) -> bool:
    """Return whether ``accepts`` takes the head of the first CSV member of the zip ``path`` (False when none).

    Reads the archive's directory and at most :data:`HEAD_BYTES` of one member: cheap enough for every file of a
    folder. A damaged or foreign archive is simply not one.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            csvs, _, _ = members(archive)
            if not csvs:
                return False
            with archive.open(csvs[0]) as fh:
                head = fh.read(HEAD_BYTES)
    except UNREADABLE:
        return False
    return accepts(head.decode("utf-8", errors="replace"))


# --- reading -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One CSV member of an archive, staged as text.

    Attributes
    ----------
    name
        The member's name in the archive.
    rows
        SQL of its rows as text, each with ``__line``: its parsed record's number (the first is 2).
    names
        Its column names.
    offset
        Records of the members before it.
    malformed
        Lines the CSV scanner could not parse (header = 1), each a record rejected.
    csv_rejects
        The engine table holding those lines, or None.
    parsed
        Records parsed.
    """

    name: str
    rows: str
    names: list[str]
    offset: int
    malformed: tuple[int, ...]
    csv_rejects: str | None
    parsed: int

    @property
    def records(self) -> int:
        """Records of the member: parsed and malformed."""
        return self.parsed + len(self.malformed)


@dataclass(frozen=True)
class Export:
    """An archive read: its rows, numbered through it, with what the load needs (see :func:`read_export`)."""

    path: Path
    rows: str
    names: list[str]
    rejects: str | None
    records: int
    delivered_at: datetime | None
    period: tuple[datetime, datetime] | None
    notes: tuple[str, ...]


def read_export(con: BaseBackend, path: Path, stage: Stager, *, fmt: str) -> Export:
    """Read a zip of FOCUS CSV parts: each member extracted in turn, staged by ``stage``, checked and numbered.

    Parameters
    ----------
    con
        The engine.
    path
        The archive.
    stage
        The FOCUS reader's staging of one extracted CSV file, showing its rows as rows of ``path``.
    fmt
        Format name of the rejects.

    Raises
    ------
    SourceError
        When the archive cannot be read, its manifest is bad, a part is missing or holds other than the records the
        manifest counts, or a member cannot be read as FOCUS (naming the archive and the member).
    """
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise SourceError(path, f"not a readable zip file: {exc}") from exc
    with archive:
        csvs, manifest_name, others = members(archive)
        manifest = read_manifest(path, archive, manifest_name) if manifest_name else Manifest()
        order, notes = ordered(path, csvs, manifest, others)
        if not order:
            raise SourceError(path, "the archive holds no CSV file")
        folder, parts, expanded = engine.stage_folder(), [], 0
        for i, member in enumerate(order):
            target = folder / f"member-{i:05d}.csv"  # never the member's own name: it may hold a path
            expanded = extract_member(path, archive, member, target, before=expanded)
            parts.append(_part(con, path, member, target, stage, sum(p.records for p in parts)))
            target.unlink()
            stated = manifest.rows.get(base_name(member).lower())
            if stated is not None and stated != parts[-1].records:
                raise SourceError(
                    path,
                    f"{member} holds {parts[-1].records} records, its {MANIFEST} says {stated}: "
                    "an incomplete export is not loaded; download the export again",
                )
    records = sum(p.records for p in parts)
    if manifest.total is not None and manifest.total != records:
        raise SourceError(
            path,
            f"its {len(parts)} CSV part(s) hold {records} records, its {MANIFEST} says "
            f"{manifest.total}: an incomplete export is not loaded; download the export again",
        )
    names = list(dict.fromkeys(n for p in parts for n in p.names))
    return Export(
        path,
        rows_sql(parts, names),
        names,
        rejects_sql(parts, path, fmt),
        records,
        manifest.created,
        manifest.period,
        (*manifest.notes, *notes),
    )


def _part(con: BaseBackend, path: Path, member: str, file: Path, stage: Stager, offset: int) -> Part:
    """Stage one extracted member; its faults are the archive's, naming the member (not the extracted file)."""
    try:
        rows, names, csv_rejects = stage(file)
        parsed = int(con.con.execute(f"SELECT count(*) FROM {rows}").fetchone()[0])
        lines = con.con.execute(f"SELECT DISTINCT line FROM {csv_rejects} ORDER BY line").fetchall() \
            if csv_rejects else []  # fmt: skip
    except SourceError as exc:
        where = str(exc)[len(exc.path) :] if str(exc).startswith(exc.path) else f": {exc}"
        raise SourceError(path, f"{member}{where}".replace(str(file), member)) from exc
    except duckdb.Error as exc:
        raise SourceError(path, f"{member}: cannot be read: {str(exc).splitlines()[0]}") from exc
    return Part(member, rows, names, offset, tuple(int(line) for (line,) in lines), csv_rejects, parsed)


def _member_line(malformed: tuple[int, ...]) -> str:
    """Return SQL of a parsed record's line in its member: its number moved down by the malformed lines before it."""
    shift = " + ".join(f"(__line - 1 >= {line - i})::BIGINT" for i, line in enumerate(malformed, start=1))
    return f"(__line + {shift})" if shift else "__line"


def rows_sql(parts: list[Part], names: list[str]) -> str:
    """Return SQL of an archive's rows: every part's, under ``names`` (a column a part lacks is null).

    ``__line`` is the record's ordinal through the archive, ``__locator`` its member and line there.
    """
    selects = []
    for part in parts:
        present = set(part.names)
        columns = ", ".join(ident(n) if n in present else f"NULL::VARCHAR AS {ident(n)}" for n in names)
        line = _member_line(part.malformed)
        selects.append(
            f"SELECT {columns}, {PADDED}, {MISSING}, __file, {part.offset} + {line} - 1 AS __line, "
            f"{quote(part.name + ' line ')} || CAST({line} AS VARCHAR) AS __locator FROM {part.rows}"
        )
    return "(" + " UNION ALL ".join(selects) + ")"


def rejects_sql(parts: list[Part], path: Path, fmt: str) -> str | None:
    """Return SQL of the ``rejects`` rows of the lines the CSV scanner could not parse, or None when there are none.

    Worded as :func:`finops_lib.warehouse.loading.settle` words a CSV file's, numbered and located as the rows are.
    """
    selects = [
        f"SELECT {quote(fmt)} AS x_SourceFormat, {quote(str(path))} AS x_SourceFile, "
        f"CAST({part.offset} + line - 1 AS BIGINT) AS x_SourceRow, "
        f"{quote(part.name + ' line ')} || CAST(line AS VARCHAR) AS x_SourceLocator, "
        "CASE WHEN error_type IN ('MISSING COLUMNS', 'TOO MANY COLUMNS') THEN 'record' "
        "ELSE coalesce(column_name, 'record') END AS x_Column, left(csv_line, 200) AS x_Value, "
        "lower(error_type) || ': ' || error_message AS x_Reason, 'costs' AS x_TargetTable "
        "FROM (SELECT line, min(column_name) AS column_name, first(csv_line) AS csv_line, first(error_type) AS "
        f"error_type, first(error_message) AS error_message FROM {part.csv_rejects} GROUP BY line)"
        for part in parts if part.malformed and part.csv_rejects]  # fmt: skip
    return " UNION ALL ".join(selects) or None


def clipped(windows: tuple[Window, ...], period: tuple[datetime, datetime] | None) -> tuple[Window, ...]:
    """Return an export's billing-period windows clipped to the ``period`` it covers (unchanged when None).

    A clipped window restates the rows whose ``ChargePeriodStart`` lies in both.

    Examples
    --------
    >>> from datetime import UTC
    >>> month = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC), (("BillingAccountId",
    ...                "org"),), "BillingPeriodStart")
    >>> half = clipped((month,), (datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)))[0]
    >>> half.start.day, half.end.month, half.column
    (16, 12, 'ChargePeriodStart')
    """
    if period is None:
        return windows
    out = []
    for window in windows:
        start, end = max(window.start, period[0]), min(window.end, period[1])
        if start < end:
            out.append(Window(start, end, window.scope, "ChargePeriodStart"))
    return tuple(out)
