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
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from ibis.backends import BaseBackend

from finops_lib.sources import Window

__all__ = ["delivered", "newer_windows", "record_windows", "recount", "replace_older", "supersede"]

#: Order of deliveries: delivery time (ingest time for warehouses written before it was recorded), then path.
_ORDER = "(coalesce(x_DeliveredAt, x_IngestedAt), x_SourceFile)"


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


def record_windows(con: BaseBackend, path: str, fmt: str, windows: tuple[Window, ...]) -> None:
    """Remember the windows ``path`` restates (replacing what an earlier version of the file declared)."""
    con.con.execute("DELETE FROM ingested_windows WHERE x_SourceFile = ?", [path])
    for w in windows:
        con.con.execute("INSERT INTO ingested_windows VALUES (?, ?, ?, ?, ?, ?)",
                        [path, fmt, w.column, w.start, w.end, json.dumps(dict(w.scope), sort_keys=True)])


def newer_windows(con: BaseBackend, path: str, fmt: str, at: datetime) -> list[Window]:
    """Return the windows of format ``fmt`` declared by deliveries newer than ``(at, path)``."""
    rows = con.con.execute(f"""SELECT w.x_WindowColumn, w.x_WindowStart, w.x_WindowEnd, w.x_WindowScope
        FROM ingested_windows w JOIN ingested_files f USING (x_SourceFile)
        WHERE w.x_SourceFormat = ? AND w.x_SourceFile <> ? AND {_ORDER} > (?::TIMESTAMPTZ, ?)
        ORDER BY ALL""", [fmt, path, at, path]).fetchall()
    return [Window(_utc(start), _utc(end), tuple(sorted(json.loads(scope or "{}").items())), column)
            for column, start, end, scope in rows]


def _utc(value: datetime) -> datetime:
    """Return the time in UTC (a zone-less time is UTC)."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _newer_files_sql() -> str:
    return f"SELECT x_SourceFile FROM ingested_files WHERE x_SourceFile <> ? AND {_ORDER} > (?::TIMESTAMPTZ, ?)"


def supersede(con: BaseBackend, table: str, path: str, fmt: str, at: datetime) -> None:
    """Remove rows of ``path`` that newer deliveries restate (the caller counts the records it lost)."""
    for window in newer_windows(con, path, fmt, at):
        where, params = _window_where(window)
        con.con.execute(f'DELETE FROM "{table}" WHERE x_SourceFile = ? AND {where}', [path, *params])
    con.con.execute(f"""DELETE FROM "{table}" WHERE x_SourceFile = ? AND x_RowHash IN (
        SELECT x_RowHash FROM "{table}" WHERE x_SourceFile IN ({_newer_files_sql()}))""", [path, path, at, path])


def replace_older(con: BaseBackend, table: str, path: str, fmt: str, at: datetime,
                  windows: tuple[Window, ...]) -> int:
    """Remove rows of older deliveries that ``path`` restates (its windows, its keys); return the rows removed."""
    newer = f"x_SourceFile NOT IN ({_newer_files_sql()})"
    removed = 0
    for window in windows:
        where, params = _window_where(window)
        removed += _deleted(con, f'DELETE FROM "{table}" WHERE x_SourceFormat = ? AND x_SourceFile <> ? '
                                 f"AND {newer} AND {where}", [fmt, path, path, at, path, *params])
    removed += _deleted(con, f"""DELETE FROM "{table}" WHERE x_SourceFile <> ? AND {newer} AND x_RowHash IN (
        SELECT x_RowHash FROM "{table}" WHERE x_SourceFile = ?)""", [path, path, at, path, path])
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
