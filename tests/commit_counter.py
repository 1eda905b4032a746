"""A DuckDB connection wrapper counting the COMMIT statements an ingest runs (how its files were grouped)."""

from __future__ import annotations


class CommitCounter:
    """Stands in for ``con.con``: runs every statement on the real connection, counting the COMMITs."""

    def __init__(self, raw: object) -> None:
        self._raw, self.commits = raw, 0

    def execute(self, sql: str, *args: object) -> object:
        self.commits += sql.strip().upper() == "COMMIT"
        return self._raw.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._raw, name)
