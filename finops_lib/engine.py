"""The ibis connection: embedded DuckDB by default, another backend by URL.

``FINOPS_ENGINE`` (or the ``url`` argument) picks the backend with an ibis URL, e.g.
``duckdb:///tmp/wh.duckdb`` or ``duckdb://`` (in memory). Without one, the warehouse is the
DuckDB file ``finops.duckdb`` in :func:`finops_lib.paths.warehouse_dir` (``data/warehouse/`` or
``$FINOPS_WAREHOUSE``). Callers only see an ibis backend, so a Spark or warehouse URL can be
added later without touching them.
"""

from __future__ import annotations

import os
from pathlib import Path

import ibis
from ibis.backends import BaseBackend

from finops_lib import paths
from finops_lib.errors import EngineError

WAREHOUSE_FILE = "finops.duckdb"
#: DuckDB's memory limit unless ``$FINOPS_DUCKDB_MEMORY_LIMIT`` says otherwise: big loads spill to
#: disk instead of taking most of the machine's memory.
DEFAULT_MEMORY_LIMIT = "1GB"


def warehouse_path(warehouse: str | Path | None = None) -> Path:
    """Return the DuckDB file of the warehouse.

    Parameters
    ----------
    warehouse
        A folder (the file ``finops.duckdb`` inside it) or a ``.duckdb`` file; default
        ``$FINOPS_WAREHOUSE`` or ``data/warehouse/``.

    Returns
    -------
    Path
        The database file (its folder is created).
    """
    base = Path(warehouse).expanduser().resolve() if warehouse else paths.warehouse_dir()
    path = base if base.suffix in {".duckdb", ".db"} else base / WAREHOUSE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def connect(url: str | None = None, *, warehouse: str | Path | None = None, read_only: bool = False) -> BaseBackend:
    """Open the engine.

    Parameters
    ----------
    url
        An ibis connection URL; default ``$FINOPS_ENGINE``; when neither is set, the DuckDB
        warehouse file (see :func:`warehouse_path`).
    warehouse
        Warehouse folder or file for the default DuckDB engine.
    read_only
        Open the DuckDB file read-only (several readers at once).

    Returns
    -------
    ibis.backends.BaseBackend
        The connection.

    Raises
    ------
    EngineError
        When the URL names a backend that is not installed or cannot connect.

    Examples
    --------
    >>> con = connect("duckdb://")
    >>> con.name
    'duckdb'
    """
    url = url or os.environ.get("FINOPS_ENGINE")
    try:
        con = ibis.connect(url) if url else ibis.duckdb.connect(str(warehouse_path(warehouse)), read_only=read_only)
    except Exception as exc:  # any backend failure becomes one clear error
        raise EngineError(f"cannot open engine {url or warehouse_path(warehouse)}: {exc}") from exc
    return _configure(con)


def _configure(con: BaseBackend) -> BaseBackend:
    """Set the session options the workbench relies on (DuckDB only)."""
    if con.name == "duckdb":
        con.con.execute("SET TimeZone = 'UTC'")
        con.con.execute("SET enable_progress_bar = false")
        limit = os.environ.get("FINOPS_DUCKDB_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)
        con.con.execute(f"SET memory_limit = '{limit}'")
    return con


def memory() -> BaseBackend:
    """Return a fresh in-memory DuckDB connection (for conversions and tests)."""
    return _configure(ibis.duckdb.connect())
