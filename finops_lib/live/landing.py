"""The landing area: every raw response page kept unchanged, so every number traces to a file and a line.

Layout under the data folder::

    landing/<vendor>/<endpoint>/<run>/page-0001.json    one file per response page, as the vendor sent it
    landing/.partial/<run>/...                           pages of an endpoint whose pagination is not finished
    landing/.rejected/<vendor>/<endpoint>/<run>-page-0001.json   a page that stayed unreadable, and rejects.jsonl
    landing/.state/                                      the pull state and its lock (:mod:`finops_lib.live.state`)

An endpoint's pages are written to ``.partial`` first and moved into place in one rename when its last page has
arrived: a run killed mid-pagination leaves no half window in the landing area (the next run sweeps ``.partial``).
Hidden folders are never offered to the readers (:func:`finops_lib.warehouse.ingestion.discover`).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from finops_lib.share import atomic_write

__all__ = ["LANDING", "Landing", "Staged"]

#: Folder of the landing area inside a data folder.
LANDING = "landing"


@dataclass
class Staged:
    """The pages of one endpoint being landed in this run."""

    folder: Path
    final: Path
    pages: int = 0
    files: list[Path] = field(default_factory=list)

    def write(self, body: bytes) -> None:
        """Keep one response page, byte for byte."""
        self.pages += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"page-{self.pages:04d}.json"
        atomic_write(path, body)
        self.files.append(path)


@dataclass
class Landing:
    """The landing area of one data folder, for one run (``run`` names its folders: sortable by time)."""

    data_dir: Path
    run: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ"))

    @property
    def root(self) -> Path:
        """``<data>/landing``."""
        return self.data_dir / LANDING

    def stage(self, vendor: str, endpoint: str) -> Staged:
        """Start landing an endpoint's pages (in ``.partial`` until :meth:`commit`)."""
        return Staged(self.root / ".partial" / self.run / vendor / endpoint, self.root / vendor / endpoint / self.run)

    def commit(self, staged: Staged) -> list[Path]:
        """Move a finished endpoint's pages into place in one rename; return the landed files."""
        if not staged.files:
            return []
        staged.final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged.folder, staged.final)
        return [staged.final / f.name for f in staged.files]

    def reject(self, vendor: str, endpoint: str, body: bytes, reason: str, *, params: list[tuple[str, str]]) -> Path:
        """Keep an unreadable page and why, outside what the readers see; return where it went."""
        folder = self.root / ".rejected" / vendor / endpoint
        folder.mkdir(parents=True, exist_ok=True)
        count = len(list(folder.glob(f"{self.run}-page-*.json"))) + 1
        path = folder / f"{self.run}-page-{count:04d}.json"
        atomic_write(path, body)
        record = {"file": str(path), "reason": reason, "endpoint": f"{vendor}/{endpoint}", "run": self.run,
                  "query": [[k, v] for k, v in params], "at": datetime.now(UTC).isoformat(timespec="seconds")}
        with open(self.root / ".rejected" / "rejects.jsonl", "a", encoding="utf-8") as log:
            log.write(json.dumps(record, sort_keys=True) + "\n")
        return path

    def sweep(self) -> int:
        """Remove what runs that died left in ``.partial`` (call with the pull lock held); return folders removed."""
        partial = self.root / ".partial"
        if not partial.is_dir():
            return 0
        gone = 0
        for folder in partial.iterdir():
            if folder.name != self.run:
                shutil.rmtree(folder, ignore_errors=True)
                gone += 1
        return gone

    def discard(self) -> None:
        """Drop this run's unfinished pages (an endpoint that failed lands nothing)."""
        shutil.rmtree(self.root / ".partial" / self.run, ignore_errors=True)
