"""Deliveries: when two files hold the same rows, the newer delivery wins, whatever the ingest order.

A file restates rows of other files in two ways: it declares windows it restates in full (a re-delivered
billing period of one account and dataset, :class:`~finops_lib.sources.Window`), or it holds rows whose
natural key (``x_RowHash``) another file holds too. Which side wins is decided by the deliveries, not by the
order the files were ingested in, so ingesting a folder in any order gives the same tables:

* each file has a delivery time (``x_DeliveredAt``): the vendor's stated export time when the file or its
  manifest carries one, else the file's modification time; ties go to the later path;
* rows of *older* deliveries that the new file restates are removed (counted on the new file as
  ``rows_replaced``);
* rows of the new file that a *newer* delivery already restates are kept out (counted on the new file as
  ``rows_superseded``).

Windows are remembered in ``ingested_windows``, so a restatement holds even once its rows are replaced.
Two files of *different* cost datasets (Azure actual and amortized) never restate each other: their windows
are scoped by ``x_CostDataset``.

A delivery split in parts (Azure ``part_0_0001.csv`` and ``part_1_0001.csv`` of one run, CUR ``-00001`` and
``-00002`` of one assembly, GCP shards of one extract) is one delivery: each part's windows name the files of
its delivery (:attr:`Window.parts <finops_lib.sources.Window>`, globs), and two files that name each other
(:func:`siblings`) never restate each other, by window or by natural key, whatever the order they are ingested
in or their delivery times. Together they restate the window: a later delivery (another run, assembly, extract)
restates every part of an earlier one. The globs are kept in the window's ``x_WindowScope`` under
``x_Parts`` (not a column: never matched against rows).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path, PurePath

from ibis.backends import BaseBackend

from finops_lib.sources import Window

__all__ = ["delivered", "is_part", "newer_windows", "record_windows", "recount", "replace_older", "restates_nothing",
           "siblings", "supersede"]

#: Order of deliveries: delivery time (ingest time for warehouses written before it was recorded), then path.
_ORDER = "(coalesce(x_DeliveredAt, x_IngestedAt), x_SourceFile)"
#: Key of ``x_WindowScope`` that holds the globs of the window's parts (not a column: never matched against rows).
PARTS_KEY = "x_Parts"


def delivered(path: Path, stated: datetime | None) -> datetime:
    """Return the delivery time of ``path``: ``stated`` (the vendor's), else its modification time, UTC.

    Examples
    --------
    >>> delivered(Path("x"), datetime(2026, 5, 1, tzinfo=UTC)).isoformat()
    '2026-05-01T00:00:00+00:00'
    """
    if stated is not None:
        return _utc(stated)
    return datetime.fromtimestamp(path.stat().st_mtime_ns / 1e9, tz=UTC)


def _deleted(con: BaseBackend, sql: str, params: list) -> int:
    row = con.con.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def _window_where(window: Window, alias: str = "") -> tuple[str, list]:
    prefix = f"{alias}." if alias else ""
    scope = "".join(f' AND {prefix}"{column}" = ?' for column, _ in window.scope)
    sql = f'{prefix}"{window.column}" >= ? AND {prefix}"{window.column}" < ?{scope}'
    return sql, [window.start, window.end, *(value for _, value in window.scope)]


#: A batch with more windows to test than this is settled file by file (:func:`restates_nothing` answers False).
MAX_BATCH_WINDOWS = 200


def restates_nothing(con: BaseBackend, table: str, fmt: str, windows: dict[str, tuple[Window, ...]]) -> bool:
    """Return whether settling a batch of new files leaves every row of ``table`` where it is.

    ``windows``: the batch's files (new files of format ``fmt``, their rows inserted, none settled yet) and the
    windows each restates. True when no row of a batch file shares its natural key with a row of another file,
    none lies in a window another file of ``fmt`` declared (recorded, or of the batch), and no row of another
    file of ``fmt`` lies in a batch file's window: then neither :func:`supersede` nor :func:`replace_older` can
    remove a row, whatever the deliveries' order or parts, and the batch's files need not ask them one by one.
    Rows only leave the table while a batch settles, so what holds before its first file holds to its last.
    False also when the batch and the recorded windows are too many to test in one statement
    (:data:`MAX_BATCH_WINDOWS`): the files are then settled the long way, with the same result.
    """
    paths = list(windows)
    batch = "list_contains(?::VARCHAR[], x_SourceFile)"
    recorded = con.con.execute(
        f"SELECT x_SourceFile, x_WindowColumn, x_WindowStart, x_WindowEnd, x_WindowScope FROM ingested_windows "
        f"WHERE x_SourceFormat = ? AND NOT {batch}", [fmt, paths]).fetchall()
    tests: list[tuple[str, list]] = [(f"""SELECT 1 FROM "{table}" WHERE x_RowHash IN (
        SELECT x_RowHash FROM "{table}" WHERE {batch}) GROUP BY x_RowHash HAVING count(DISTINCT x_SourceFile) > 1""",
                                      [paths])]
    for path, own in windows.items():  # a batch file's window holding a row of another file of the format
        for window in (w for w in own if w.start < w.end):
            where, params = _window_where(window)
            tests.append((f'SELECT 1 FROM "{table}" WHERE (x_SourceFormat = ? OR {batch}) AND x_SourceFile <> ? '
                          f"AND {where}", [fmt, paths, path, *params]))
    for _, *row in recorded:  # a recorded window of another file holding a batch file's row
        window = _window(*row)
        if window.start < window.end:
            where, params = _window_where(window)
            tests.append((f'SELECT 1 FROM "{table}" WHERE {batch} AND {where}', [paths, *params]))
    if len(tests) - 1 > MAX_BATCH_WINDOWS:
        return False
    sql = " OR ".join(f"EXISTS ({test})" for test, _ in tests)
    return not con.con.execute(f"SELECT {sql}", [p for _, params in tests for p in params]).fetchone()[0]


def record_windows(con: BaseBackend, path: str, fmt: str, windows: tuple[Window, ...]) -> None:
    """Remember the windows ``path`` restates (replacing what an earlier version of the file declared)."""
    con.con.execute("DELETE FROM ingested_windows WHERE x_SourceFile = ?", [path])
    for w in windows:
        scope = {**dict(w.scope), **({PARTS_KEY: list(w.parts)} if w.parts else {})}
        con.con.execute("INSERT INTO ingested_windows VALUES (?, ?, ?, ?, ?, ?)",
                        [path, fmt, w.column, w.start, w.end, json.dumps(scope, sort_keys=True)])


def _window(column: str, start: datetime, end: datetime, scope: str | None) -> Window:
    """Rebuild a recorded window (the globs of its parts taken out of the scope)."""
    pairs = json.loads(scope or "{}")
    pairs.pop(PARTS_KEY, None)
    return Window(_utc(start), _utc(end), tuple(sorted(pairs.items())), column, _parts(scope))


def _parts(scope: str | None) -> tuple[str, ...]:
    """Return the globs of the parts kept in a recorded window's scope (empty for a whole delivery)."""
    globs = json.loads(scope or "{}").get(PARTS_KEY) or ()
    return (globs,) if isinstance(globs, str) else tuple(str(g) for g in globs)


def is_part(path: str, globs: tuple[str, ...]) -> bool:
    """Return whether the file ``path`` is one a delivery's ``globs`` name (a glob matches at the same folder depth).

    Examples
    --------
    >>> is_part("/x/run-1/part_1_0001.csv", ("/x/run-1/part_*_*.csv",))
    True
    >>> is_part("/x/run-2/part_1_0001.csv", ("/x/run-1/part_*_*.csv",)), is_part("/x/a.csv", ())
    (False, False)
    """
    depth = len(PurePath(path).parts)
    return any(len(PurePath(glob).parts) == depth and fnmatchcase(path, glob) for glob in globs)


def _depth(sql: str) -> str:
    """Return SQL of the number of ``/`` in a path or glob (a glob names files at its own folder depth)."""
    return f"(length({sql}) - length(replace({sql}, '/', '')))"


def siblings(con: BaseBackend, path: str, parts: tuple[str, ...] | None = None) -> list[str]:
    """Return the ingested files that are other parts of the delivery ``path`` is one part of.

    A sibling's recorded windows name ``path`` among their parts, and ``parts`` (``path``'s own globs, when
    known) name the sibling: both must agree, so a stale part left beside a later delivery (a CUR overwritten
    in place with fewer parts, its manifest listing the current ones) is no sibling of it. Matched in the
    engine (``GLOB``, the rule of :func:`is_part`), so a warehouse of many files costs one query.
    """
    own = "" if parts is None else (f"AND EXISTS (SELECT 1 FROM unnest(?::VARCHAR[]) o(g) WHERE w.x_SourceFile "
                                    f"GLOB o.g AND {_depth('w.x_SourceFile')} = {_depth('o.g')})")
    rows = con.con.execute(f"""SELECT DISTINCT w.x_SourceFile FROM ingested_windows w,
        unnest(CAST(json_extract(w.x_WindowScope, '$.{PARTS_KEY}') AS VARCHAR[])) t(g)
        WHERE w.x_SourceFile <> ? AND ? GLOB t.g AND {_depth('?')} = {_depth('t.g')} {own}
        ORDER BY 1""", [path, path, path, path, *([] if parts is None else [list(parts)])]).fetchall()
    return [file for (file,) in rows]


@dataclass(frozen=True)
class Apart:
    """The other parts of a file's own delivery (:func:`siblings`), asked once for all of a file's settling.

    ``named``: the ingested files whose windows name the file among their parts; ``agreed``: those of them the
    file's own globs name too.
    """

    named: tuple[str, ...]
    agreed: tuple[str, ...]


def apart(con: BaseBackend, path: str, windows: tuple[Window, ...]) -> Apart:
    """Return the other parts of ``path``'s delivery (``windows``: its own), in one query when it has none."""
    named = tuple(siblings(con, path))
    agreed = tuple(siblings(con, path, _own_parts(windows))) if named else ()  # a subset of named
    return Apart(named, agreed)


def _own_parts(windows: tuple[Window, ...]) -> tuple[str, ...]:
    """Return the globs of the parts a file's own windows name (empty: a whole delivery)."""
    return tuple(dict.fromkeys(glob for w in windows for glob in w.parts))


def newer_windows(con: BaseBackend, path: str, fmt: str, at: datetime, *, parts: Apart | None = None,
                  ) -> list[Window]:
    """Return the windows of format ``fmt`` declared by deliveries newer than ``(at, path)``.

    Windows of the other parts of ``path``'s own delivery (:func:`siblings`; ``parts.named`` when known) are left
    out: parts of one delivery never restate each other.
    """
    named = list(parts.named) if parts is not None else siblings(con, path)
    rows = con.con.execute(f"""SELECT w.x_WindowColumn, w.x_WindowStart, w.x_WindowEnd, w.x_WindowScope
        FROM ingested_windows w JOIN ingested_files f USING (x_SourceFile)
        WHERE w.x_SourceFormat = ? AND w.x_SourceFile <> ? AND {_ORDER} > (?::TIMESTAMPTZ, ?)
        AND NOT list_contains(?::VARCHAR[], w.x_SourceFile)
        ORDER BY ALL""", [fmt, path, at, path, named]).fetchall()
    return [window for window in (_window(*row) for row in rows) if window.start < window.end]


def _utc(value: datetime) -> datetime:
    """Return the time in UTC (a zone-less time is UTC)."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _newer_files_sql() -> str:
    return f"SELECT x_SourceFile FROM ingested_files WHERE x_SourceFile <> ? AND {_ORDER} > (?::TIMESTAMPTZ, ?)"


def supersede(con: BaseBackend, table: str, path: str, fmt: str, at: datetime, *,
              windows: tuple[Window, ...] | None = None, parts: Apart | None = None) -> None:
    """Remove rows of ``path`` that newer deliveries restate (the caller counts the records it lost).

    The other parts of ``path``'s delivery (:func:`siblings`) restate none of its rows. ``windows`` are
    ``path``'s own, when the caller passes them (then its globs must name the siblings too); ``parts``, the
    siblings when the caller asked already (:func:`apart` of those windows).
    """
    if parts is None:
        agreed = siblings(con, path, None if windows is None else _own_parts(windows))
    else:
        agreed = list(parts.agreed)
    for window in newer_windows(con, path, fmt, at, parts=parts):
        where, params = _window_where(window)
        con.con.execute(f'DELETE FROM "{table}" WHERE x_SourceFile = ? AND {where}', [path, *params])
    con.con.execute(f"""DELETE FROM "{table}" WHERE x_SourceFile = ? AND x_RowHash IN (
        SELECT x_RowHash FROM "{table}" WHERE x_SourceFile IN ({_newer_files_sql()})
        AND NOT list_contains(?::VARCHAR[], x_SourceFile))""",
                    [path, path, at, path, agreed])


def replace_older(con: BaseBackend, table: str, path: str, fmt: str, at: datetime,
                  windows: tuple[Window, ...], *, unsettled: tuple[str, ...] = (), parts: Apart | None = None) -> int:
    """Remove rows of older deliveries that ``path`` restates (its windows, its keys); return the rows removed.

    Rows of the other parts of ``path``'s own delivery (:func:`siblings`; ``parts.agreed`` when known) are never
    removed, nor rows of the ``unsettled`` files (inserted with ``path``'s rows, settled after it: they are judged
    in their turn).
    """
    newer = f"x_SourceFile NOT IN ({_newer_files_sql()}) AND NOT list_contains(?::VARCHAR[], x_SourceFile)"
    agreed = list(parts.agreed) if parts is not None else siblings(con, path, _own_parts(windows))
    exempt = [path, at, path, [*agreed, *unsettled]]
    removed = 0
    for window in (w for w in windows if w.start < w.end):
        where, params = _window_where(window)
        removed += _deleted(con, f'DELETE FROM "{table}" WHERE x_SourceFormat = ? AND x_SourceFile <> ? '
                                 f"AND {newer} AND {where}", [fmt, path, *exempt, *params])
    removed += _deleted(con, f"""DELETE FROM "{table}" WHERE x_SourceFile <> ? AND {newer} AND x_RowHash IN (
        SELECT x_RowHash FROM "{table}" WHERE x_SourceFile = ?)""", [path, *exempt, path])
    return removed


def recount(con: BaseBackend, path: str, fmt: str) -> None:
    """Bring the loaded and superseded counts of ``fmt``'s other files up to date after ``path`` restated rows.

    ``ingested_files`` then always says what each file holds now: read = loaded + rejected + superseded.
    """
    held = " UNION ".join(f'SELECT x_SourceFile, x_SourceRow FROM "{t}" WHERE x_SourceFormat = ?'
                          for t in ("costs", "requests"))  # fmt: skip
    con.con.execute(f"""UPDATE ingested_files SET
        x_RowsLoaded = coalesce(h.n, 0), x_RowsSuperseded = x_RowsRead - x_RowsRejected - coalesce(h.n, 0)
        FROM (SELECT f.x_SourceFile AS file, (SELECT count(*) FROM ({held}) r WHERE r.x_SourceFile = f.x_SourceFile)
              AS n FROM ingested_files f WHERE f.x_SourceFormat = ? AND f.x_SourceFile <> ?) h
        WHERE ingested_files.x_SourceFile = h.file""", [fmt, fmt, fmt, path])
