"""Many files -> one warehouse: detection, de-duplication, provenance and rejects.

Every record read ends up in ``costs``/``requests``, in ``rejects``, or restated by a newer delivery
(read = loaded + rejected + superseded, per file, checked on every load). Re-ingesting never double
counts, at four levels:

1. a file whose bytes were already ingested (same SHA-256, any path) is skipped;
2. a file at a path ingested before with other bytes (a new version of the file) replaces that file's rows;
3. a file that declares the windows it restates in full (a re-delivered billing period, a re-pulled
   export window: :class:`~finops_lib.sources.Window`) restates the rows of the same format, window
   and scope (cost dataset included) from other files;
4. a row whose natural key (``x_RowHash``, :mod:`finops_lib.warehouse.keys`) another file holds too
   restates it. Keys never merge rows that differ in money; rows identical in every field are separate
   charges unless the format documents a unique line id.

In 3 and 4 the newer *delivery* wins (:mod:`finops_lib.warehouse.delivery`), not the later ingest, so
the tables do not depend on the order files are ingested in. Every replaced row is counted
(``rows_replaced`` on the newer file, ``rows_superseded`` on the older).

Examples
--------
>>> from finops_lib import engine
>>> con = engine.memory()
>>> summary = ingest([], con=con)
>>> len(summary)
0
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
from ibis.backends import BaseBackend

from finops_lib import engine, paths
from finops_lib.engines import workers
from finops_lib.engines.publish import ingest_warehouse, needs_publish, publish
from finops_lib.errors import FinopsError, SourceError
from finops_lib.schema import TABLES
from finops_lib.sources import (
    SOURCES,
    get_source,
)
from finops_lib.warehouse import pending, privacy
from finops_lib.warehouse.grouping import groups, load_group
from finops_lib.warehouse.ledger import (
    Ledger,
)
from finops_lib.warehouse.loading import FileResult
from finops_lib.warehouse.staging import sql_type

#: Files a folder walk never offers to the detectors (documentation, manifests, ground truth).
IGNORED_NAMES = {"README.md", "manifest.json", "_manifest.json", "PROVENANCE.md"}


#: Name endings a folder walk leaves out too: delivery manifests the readers read beside their parts (CUR).
IGNORED_ENDINGS = ("Manifest.json",)


IGNORED_DIRS = {"truth", "config", ".git", "__pycache__", ".ipynb_checkpoints"}


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders (recursively, sorted) into the files to offer to the detectors.

    Hidden files, ``truth/`` and ``config/`` folders (ground truth; allocation rules, budgets and other
    settings that live beside the data) and documentation files are left out of folder walks; a file
    named explicitly is always kept.

    Raises
    ------
    SourceError
        When a path does not exist.
    """
    out: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path).parts
                if child.is_file() and not any(p.startswith(".") or p in IGNORED_DIRS for p in rel) \
                        and child.name not in IGNORED_NAMES and not child.name.endswith(IGNORED_ENDINGS):
                    out.append(child)
        elif path.is_file():
            out.append(path)
        else:
            raise SourceError(raw, "no such file or folder")
    return list(dict.fromkeys(out))


def ensure_tables(con: BaseBackend) -> None:
    """Create the declared warehouse tables that do not exist yet; add columns declared since.

    A warehouse written by an older version keeps its rows: a newly declared column is added
    (null on the old rows), so the declared schema and the warehouse never disagree.
    """
    existing = set(con.list_tables())
    for name, spec in TABLES.items():
        if name not in existing:
            con.create_table(name, schema=spec.ibis_schema())
            continue
        have = set(con.table(name).columns)
        for column in spec.columns:
            if column.name not in have:
                kind = column.ibis_type.copy(nullable=True)
                con.con.execute(f'ALTER TABLE "{name}" ADD COLUMN "{column.name}" {sql_type(kind)}')


def _in_sample(path: str | Path) -> bool:
    return Path(path).resolve().is_relative_to(paths.SAMPLE_DIR.resolve())


def keep_sample_apart(con: BaseBackend, files: Iterable[Path]) -> None:
    """Refuse to put the committed sample's files and any other data in one warehouse.

    The sample is fictional, and its folder is what layers its fictional prices, rules and budgets
    (:func:`finops_lib.pricing.catalog_for`, the pages' ``config/``): in a warehouse holding a user's rows too, they
    would apply to the user's data. So a warehouse holds either the sample alone or no file of it.

    Raises
    ------
    FinopsError
        Naming the warehouse's side and the files' side when they would mix.
    """
    held = con.table("ingested_files").select("x_SourceFile").distinct().to_pandas()["x_SourceFile"]
    sides = {_in_sample(f) for f in [*held, *files]}
    if len(sides) > 1:
        raise FinopsError(f"the committed sample ({paths.SAMPLE_DIR}) and other data would share this warehouse: the "
                          "sample is fictional and never mixed with other data (its prices, rules and budgets would "
                          "apply to them); use the sample's own warehouse (no --warehouse) or another one")


def ingest(
    paths: Iterable[str | Path],
    *,
    con: BaseBackend | None = None,
    warehouse: str | Path | None = None,
    format: str | None = None,
) -> pd.DataFrame:
    """Load files and folders into the warehouse; return one summary row per file.

    Parameters
    ----------
    paths
        Files or folders (walked recursively).
    con
        An open engine; default :func:`finops_lib.engine.connect` on ``warehouse``.
    warehouse
        Warehouse folder or DuckDB file when ``con`` is not given.
    format
        Force a registered format instead of detecting it from content.

    Returns
    -------
    pandas.DataFrame
        Columns ``path, format, status, rows_read, rows_loaded, rows_rejected, rows_replaced, message``.

    Raises
    ------
    SourceError
        When a path does not exist, or a named ``format`` is unknown.
    FinopsError
        When the committed sample and other data would share the warehouse (:func:`keep_sample_apart`).
    """
    if format is not None and format not in SOURCES:
        get_source("-", format)
    files = discover(paths)
    if con is not None and con.name == "pyspark":
        return _ingest_for_spark(files, con, format=format)
    own = con is None
    con = con or engine.connect(warehouse=warehouse)
    try:
        return _ingest_files(con, files, format=format)
    finally:
        if own:
            con.disconnect()


def _ingest_for_spark(files: list[Path], con: BaseBackend, *, format: str | None) -> pd.DataFrame:
    """Ingest into a Spark engine: load into its DuckDB ingest warehouse, then publish the changed files' rows.

    The ingest warehouse (``_ingest.duckdb`` in a local session's catalog folder; for a Spark Connect engine, the
    warehouse named by ``$FINOPS_WAREHOUSE``) holds the ledger and the rows, so every guarantee of :func:`ingest`
    holds as on DuckDB; :func:`finops_lib.engines.publish.publish` then rewrites the Parquet file of each source file
    whose rows changed. A run that changed nothing publishes nothing. On a local session the run offers the
    session's workers to the readers (:mod:`finops_lib.engines.workers`): a big LiteLLM Parquet dump is then read by
    Spark's Parquet reader there, and its rows settled here like any reader's.
    """
    local = ingest_warehouse(con)  # None for a Spark Connect engine
    stage_file = engine.warehouse_path(local)  # resolved, its folder created
    stage = engine.connect(f"duckdb://{stage_file}")  # DuckDB, whatever $FINOPS_ENGINE says
    try:
        # A local session's workers read the big Parquet dumps (finops_lib.engines.workers); a remote one's
        # cannot be assumed to share a folder with this machine.
        offer = workers.offered(con._session, stage_file.parent / workers.STAGING) if local else nullcontext()
        with offer:
            summary = _ingest_files(stage, files, format=format)
        if needs_publish(con) or summary["status"].isin(["loaded", "replaced"]).any():
            publish(stage, con)
    finally:
        stage.disconnect()
    return summary


def _ingest_files(con: BaseBackend, files: list[Path], *, format: str | None) -> pd.DataFrame:
    """Ingest ``files`` into an open DuckDB warehouse, one transaction each; return the summary (see :func:`ingest`)."""
    ensure_tables(con)
    pending.recover(con)  # rows of a load killed between its two commits (see finops_lib.warehouse.pending)
    privacy.prepare(con, privacy.pseudonym_key())  # outside any file's transaction (see privacy.prepare)
    keep_sample_apart(con, files)
    ledger = Ledger.read(con)
    results = [r for group in groups(files) for r in load_group(con, group, format=format, ledger=ledger)]
    return pd.DataFrame([asdict(r) for r in results], columns=list(FileResult.__dataclass_fields__))


def summarize(summary: pd.DataFrame) -> pd.DataFrame:
    """Totals per format and status (files, rows read, loaded, rejected) for the CLI and notebooks."""
    if summary.empty:
        return pd.DataFrame(columns=["format", "status", "files", "rows_read", "rows_loaded", "rows_rejected",
                                     "rows_replaced", "rows_superseded"])
    out = (summary.fillna({"format": "(unrecognised)"})
           .groupby(["format", "status"], as_index=False)
           .agg(files=("path", "count"), rows_read=("rows_read", "sum"), rows_loaded=("rows_loaded", "sum"),
                rows_rejected=("rows_rejected", "sum"), rows_replaced=("rows_replaced", "sum"),
                rows_superseded=("rows_superseded", "sum")))
    return out.sort_values(["format", "status"]).reset_index(drop=True)


def _demo_engine(warehouse: Path) -> str:
    """Return the engine URL for the demo sample: ``$FINOPS_ENGINE`` only when it opens the demo's own file read-only.

    ``finops report`` names a read-only snapshot of the sample's warehouse for its notebooks (nothing is written
    there; the snapshot keeps the warehouse's file name). Any other engine named in ``$FINOPS_ENGINE``, writable or
    read-only, is a user's: the fictional sample is never read from or written to it, and stays in its own file
    under ``build/warehouses/``.
    """
    named = os.environ.get("FINOPS_ENGINE", "")
    if named and "read_only=true" in named.lower() and _names_file(named, warehouse.name):
        return named
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    return f"duckdb:///{warehouse.resolve()}"


def _names_file(url: str, name: str) -> bool:
    """Whether a DuckDB URL opens a file called ``name`` (the demo's warehouse, or a snapshot of it).

    >>> _names_file("duckdb:///tmp/x/sample-1a2b3c4d.duckdb?read_only=true", "sample-1a2b3c4d.duckdb")
    True
    >>> _names_file("duckdb:///srv/finops/finops.duckdb?read_only=true", "sample-1a2b3c4d.duckdb")
    False
    """
    parts = urlparse(url)
    return parts.scheme == "duckdb" and Path(parts.path).name == name


def open_data(data_dir: str | Path | None = None, *, warehouse: str | Path | None = None,
              engine_url: str | None = None) -> BaseBackend:
    """Ingest a data folder (a no-op for files already ingested) and return the open warehouse.

    This is what notebooks call first.

    Parameters
    ----------
    data_dir
        Folder of exports. Empty: the committed sample (``data/sample/``) when no ``warehouse`` is named
        either; with a warehouse of your own, nothing is ingested (the sample never enters it).
    warehouse
        Warehouse folder or file; default a warehouse of its own for this data folder under
        ``build/warehouses/``, so sample data and your own exports never mix.

    Returns
    -------
    ibis.backends.BaseBackend
        A connection with the ``costs``, ``requests``, ``rejects`` and ``ingested_files`` tables: to a private
        snapshot of the warehouse file taken after the ingest (:func:`finops_lib.engine.reader`), so a notebook
        left open never blocks ``finops ingest``; call again for newer data. The ingest itself holds the file
        only while it runs, and waits for another writer (``$FINOPS_LOCK_TIMEOUT``). The demo sample stays in
        its own warehouse even when ``$FINOPS_ENGINE`` names a writable engine (a user's).
    engine_url
        An engine named explicitly (a notebook's ``engine`` parameter, e.g. ``pyspark:///catalog/folder``): the
        data folder is ingested into it and the connection returned as it is (a Spark session is no file to
        snapshot); default ``$FINOPS_ENGINE``, else the DuckDB warehouse.
    """
    folder = paths.data_folder(data_dir, warehouse or engine_url)
    url = engine_url
    if not warehouse and not engine_url:
        tag = hashlib.sha1(str(folder).encode()).hexdigest()[:8]
        warehouse = paths.BUILD_DIR / "warehouses" / f"{Path(folder).name}-{tag}.duckdb"
        if paths.is_sample(folder):
            url = _demo_engine(Path(warehouse))
    con = engine.connect(url, warehouse=warehouse)
    try:
        if folder:
            ingest([folder], con=con)
    except BaseException as exc:
        con.disconnect()
        refused = engine.storage_error(exc)
        if refused is not None:
            raise refused from exc
        raise
    finally:
        engine.remove_stages()
    return engine.reader(con)
