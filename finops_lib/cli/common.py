"""What the ``finops`` commands share: the workspace (one warehouse and its config), ingest into it, print a table.

The workspace model (``docs/workspace.md``). Every data command finds its warehouse the same way: ``--warehouse``,
else ``$FINOPS_WAREHOUSE``, else ``data/warehouse/`` (:func:`finops_lib.engine.warehouse_path`). ``--data FOLDER``
ingests the folder into that warehouse first (files already ingested are a no-op), then the command reads the
whole warehouse; without ``--data`` the warehouse is read as it is, and a warehouse holding nothing is an error
(exit 2) rather than an empty answer. One exception keeps the demo apart: ``--data`` naming the committed sample,
without ``--warehouse``, reads the sample's own warehouse under ``build/warehouses/`` (:func:`open_data`), never
the user's workspace (not even the one ``$FINOPS_WAREHOUSE`` names).

Config files (``docs/config.md``) are looked up in the workspace's ``config/`` folder (beside the warehouse file),
then in ``<data>/config/`` when ``--data`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from ibis.backends import BaseBackend

from finops_lib import engine, paths
from finops_lib.errors import FinopsError
from finops_lib.share import atomic_write
from finops_lib.sources.mapped import register_mapping
from finops_lib.warehouse import ingest, open_data, pending
from finops_lib.warehouse.status import ingested_count

__all__ = ["CONFIG_DIR", "NothingIngested", "Workspace", "ingest_into", "not_loaded", "open_workspace", "print_frame",
           "register_mappings", "resolve_workspace"]  # fmt: skip

#: The folder of config files, inside the workspace folder and inside a data folder.
CONFIG_DIR = "config"
#: Fix printed under each file that is in no table, by status (the reason says what the file looks like).
FIXES = {
    "skipped": "pass --format NAME or --mapping FILE.yaml for an in-house CSV (see `finops formats`)",
    "failed": "correct the file at the place named, or force another format with --format NAME "
              "(see `finops formats`)",
}  # fmt: skip
EMPTY_FIX = "nothing to load: export the file again, or remove it from the folder"


class NothingIngested(FinopsError):
    """The workspace's warehouse holds no file: a command would answer about nothing."""


@dataclass(frozen=True)
class Workspace:
    """Where a command reads and writes: one warehouse, its config folders, the data folder it was given.

    Attributes
    ----------
    warehouse
        The DuckDB file; None for the committed sample's own warehouse (``open_data`` chooses it).
    data
        The ``--data`` folder, absolute; None when not given.
    demo
        True when ``--data`` is the committed sample read in its own warehouse (nothing reaches the workspace).
    engine_url
        ``--engine`` (an ibis URL), None for the DuckDB file (``$FINOPS_ENGINE`` still applies).
    """

    warehouse: Path | None
    data: str | None = None
    demo: bool = False
    engine_url: str | None = None

    @property
    def folder(self) -> Path | None:
        """The workspace folder: the one holding the warehouse file (None for the sample's demo)."""
        return None if self.warehouse is None else self.warehouse.parent

    @property
    def config_roots(self) -> tuple[Path, ...]:
        """Folders whose ``config/`` applies, in lookup order: the workspace, then the data folder."""
        roots = [] if self.folder is None else [self.folder]
        if self.data and Path(self.data) not in roots:
            roots.append(Path(self.data))
        return tuple(roots)

    @property
    def config_dirs(self) -> tuple[Path, ...]:
        """The ``config/`` folders of :attr:`config_roots`, in lookup order (existing or not)."""
        return tuple(root / CONFIG_DIR for root in self.config_roots)

    def config_file(self, name: str) -> Path | None:
        """Return the first ``config/<name>`` of the lookup order that exists, else None."""
        return next((d / name for d in self.config_dirs if (d / name).is_file()), None)

    @property
    def log(self) -> Path | None:
        """The file recording the workspace's files not loaded (``finops status`` lists them)."""
        return None if self.warehouse is None else self.warehouse.with_suffix(".ingest.json")

    def describe(self) -> str:
        """One line naming the warehouse read."""
        if self.warehouse is None:
            return f"the sample's own warehouse under {paths.BUILD_DIR / 'warehouses'} (demo: --data {self.data})"
        url = self.engine_url or os.environ.get("FINOPS_ENGINE")
        return f"{url} (config beside {self.warehouse})" if url else str(self.warehouse)


def resolve_workspace(args: argparse.Namespace) -> Workspace:
    """Return the workspace a command's arguments name, without opening or creating anything.

    ``--warehouse``, else ``$FINOPS_WAREHOUSE``, else ``data/warehouse/``; ``--data`` naming the committed sample
    without ``--warehouse`` is the demo (the sample's own warehouse).

    Examples
    --------
    >>> ws = resolve_workspace(argparse.Namespace(data=str(paths.SAMPLE_DIR), warehouse=None))
    >>> ws.demo, ws.warehouse, [str(p.relative_to(paths.PROJECT_ROOT)) for p in ws.config_dirs]
    (True, None, ['data/sample/config'])
    """
    data = getattr(args, "data", None) or None
    folder = str(Path(data).expanduser().resolve()) if data else None
    named = getattr(args, "warehouse", None) or None
    url = getattr(args, "engine", None) or None
    if folder and paths.is_sample(folder) and not named:
        return Workspace(None, folder, demo=True, engine_url=url)
    base = Path(named).expanduser().resolve() if named else paths.warehouse_dir()
    file = base if base.suffix in {".duckdb", ".db"} else base / engine.WAREHOUSE_FILE
    return Workspace(file, folder, engine_url=url)


def _uses_file(ws: Workspace) -> bool:
    return not (ws.engine_url or os.environ.get("FINOPS_ENGINE"))


def open_workspace(args: argparse.Namespace, *, quiet: bool = False,
                   writable: bool = False) -> tuple[BaseBackend, Workspace]:  # fmt: skip
    """Open the workspace's warehouse, ingesting ``--data`` first; the caller disconnects it.

    Parameters
    ----------
    args
        The command's arguments (``data``, ``warehouse``, optionally ``engine``).
    quiet
        Do not print the files of ``--data`` that are in no table (they are still recorded for ``finops status``).
    writable
        Open the warehouse for writing even without ``--data`` (else it is opened read-only, so that several
        commands can read it at once).

    Raises
    ------
    NothingIngested
        Without ``--data``, when the warehouse holds no file (the message says what to run).
    """
    ws = resolve_workspace(args)
    if ws.demo:
        return open_data(ws.data), ws
    assert ws.warehouse is not None
    if ws.data:
        con = engine.connect(ws.engine_url, warehouse=ws.warehouse)
        try:
            summary = ingest_into(con, ws, [ws.data])
        except BaseException:
            con.disconnect()
            raise
        if not quiet:
            for line in not_loaded(summary):
                print(line, file=sys.stderr)
        return con, ws
    if _uses_file(ws) and not ws.warehouse.is_file():
        raise _nothing(ws)
    con = engine.connect(ws.engine_url, warehouse=ws.warehouse, read_only=not writable)
    if con.name == "duckdb" and pending.interrupted(con):  # an ingest killed mid-file: its rows never count
        con.disconnect()
        con = engine.connect(ws.engine_url, warehouse=ws.warehouse)
        pending.recover(con)
        if not writable:
            con.disconnect()
            con = engine.connect(ws.engine_url, warehouse=ws.warehouse, read_only=True)
    if not ingested_count(con):
        con.disconnect()
        raise _nothing(ws)
    return con, ws


def _nothing(ws: Workspace) -> NothingIngested:
    demo = paths.SAMPLE_DIR.relative_to(paths.PROJECT_ROOT)
    return NothingIngested(f"nothing ingested in {ws.warehouse}: run `finops ingest <folder>` first, or pass "
                           f"--data {demo} for the demo")  # fmt: skip


def ingest_into(con: BaseBackend, ws: Workspace, sources: list[str], *, format: str | None = None) -> pd.DataFrame:
    """Ingest files or folders into the workspace's warehouse; record the files in no table for ``finops status``.

    Returns
    -------
    pandas.DataFrame
        :func:`finops_lib.warehouse.ingest`'s summary, one row per file.
    """
    summary = ingest(sources, con=con, format=format)
    if ws.log is not None and len(summary):
        _record(ws.log, summary)
    return summary


def _record(log: Path, summary: pd.DataFrame) -> None:
    """Keep, per file, the last skip or failure and its reason; a file loaded since leaves the list."""
    known = json.loads(log.read_text(encoding="utf-8")) if log.is_file() else {}
    files = known.get("files", {})
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for row in summary.itertuples():
        if row.status in FIXES:
            files[row.path] = {"status": row.status, "format": row.format if isinstance(row.format, str) else "",
                               "reason": row.message,
                               "fix": fix_for(row.status, row.message), "at": now}  # fmt: skip
        else:
            files.pop(row.path, None)
    log.parent.mkdir(parents=True, exist_ok=True)  # with $FINOPS_ENGINE the warehouse file's folder may not exist
    atomic_write(log, json.dumps({"files": files}, indent=1, sort_keys=True))


def fix_for(status: str, reason: str) -> str:
    """Return what to do about a file in no table (``status`` ``skipped`` or ``failed``)."""
    if status == "skipped" and reason.startswith("empty file"):
        return EMPTY_FIX
    return FIXES.get(status, "")


def not_loaded(summary: pd.DataFrame) -> list[str]:
    """Return two lines per file of an ingest summary that is in no table: the file and reason, then the fix.

    A skipped file's reason says what it looks like (:func:`finops_lib.sources.explain_unrecognised`); a failed
    file's reason is the reader's error (file, line, column).
    """
    lines = []
    for row in summary[summary["status"].isin(list(FIXES))].itertuples():
        lines += [f"{row.status.upper()} {row.path}: {row.message}", f"  fix: {fix_for(row.status, row.message)}"]
    return lines


def print_frame(frame: pd.DataFrame) -> None:
    """Print a table without its index, wide enough for a terminal."""
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.max_colwidth", 70):
        print(frame.to_string(index=False))


def register_mappings(files: list[str] | None) -> None:
    """Register user column mappings (``--mapping``) as source formats."""
    for file in files or ():
        print(f"mapping {file}: format {register_mapping(file)}")
