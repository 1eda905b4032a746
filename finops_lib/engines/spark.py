"""The Spark session builder: ``pyspark://`` (local), ``pyspark:///dir`` (local, catalog in ``dir``), ``sc://``.

Local sessions run with the session time zone UTC (timestamps are stored and read as UTC), the web UI off, four
shuffle partitions (the warehouse is small per query; the default 200 makes every group-by slow), quiet logs, and
tables stored as Parquet under the catalog folder. ANSI mode stays on (Spark 4's default): an overflowing
DECIMAL(38, 12) sum or a bad cast fails instead of silently becoming NULL, which is what money needs; decimal
products keep every decimal place (:data:`SQL_SETTINGS`).

``sc://host:15002`` opens a Spark Connect session against a running server; its catalog and settings are the
server's.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

SPARK_SCHEMES = ("pyspark", "sc")
#: SQL settings every session gets (a Spark Connect server's too: they are per-session settings). Money needs the
#: last one: with Spark's default, DECIMAL(38,12) x DECIMAL(38,12) is typed DECIMAL(38,6) and a currency
#: conversion silently loses six decimal places (a sample's total moved by $0.0003); without precision loss it is
#: DECIMAL(38,24), exact, as on DuckDB.
SQL_SETTINGS: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
}


@dataclass(frozen=True)
class SparkUrl:
    """A parsed Spark URL: ``kind`` is ``local`` or ``connect``; ``catalog`` a folder or None; ``remote`` for sc://."""

    kind: str
    catalog: Path | None = None
    remote: str | None = None


def is_spark_url(url: str | None) -> bool:
    """Return True when ``url`` names a Spark engine.

    Examples
    --------
    >>> is_spark_url("pyspark://"), is_spark_url("sc://localhost:15002"), is_spark_url("duckdb://")
    (True, True, False)
    """
    return bool(url) and urlparse(url).scheme in SPARK_SCHEMES


def parse_url(url: str) -> SparkUrl:
    """Parse a Spark URL without ibis (ibis's own parser fails on ``pyspark:///dir``).

    Parameters
    ----------
    url
        ``pyspark://``, ``pyspark:///some/dir`` or ``sc://host:port``.

    Returns
    -------
    SparkUrl
        What to open.

    Raises
    ------
    ValueError
        When the URL is not a Spark URL.

    Examples
    --------
    >>> parse_url("pyspark:///tmp/wh")
    SparkUrl(kind='local', catalog=PosixPath('/tmp/wh'), remote=None)
    >>> parse_url("sc://localhost:15002").remote
    'sc://localhost:15002'
    """
    parts = urlparse(url)
    if parts.scheme == "sc":
        return SparkUrl("connect", remote=url)
    if parts.scheme != "pyspark":
        raise ValueError(f"not a Spark URL: {url!r}")
    folder = parts.netloc + parts.path
    return SparkUrl("local", catalog=Path(folder) if folder else None)


def _listening(remote: str, *, timeout: float = 2.0) -> bool:
    parts = urlparse(remote)
    try:
        with socket.create_connection((parts.hostname or "localhost", parts.port or 15002), timeout=timeout):
            return True
    except OSError:
        return False


def open_session(url: str):
    """Open (or reuse) the Spark session a Spark URL names.

    Parameters
    ----------
    url
        A Spark URL (see :func:`parse_url`).

    Returns
    -------
    pyspark.sql.SparkSession
        The session; wrap it with ``ibis.pyspark.connect(session)``.

    Raises
    ------
    ConnectionError
        When a Spark Connect URL names a port where nothing listens.
    ImportError
        When pyspark is not installed.
    """
    target = parse_url(url)
    from pyspark.sql import SparkSession

    if target.kind == "connect":
        if not _listening(target.remote):
            raise ConnectionError(f"no Spark Connect server listens at {target.remote}")
        _arrow_memtables()
        remote = SparkSession.builder.remote(target.remote).getOrCreate()
        for key, value in SQL_SETTINGS.items():
            remote.conf.set(key, value)
        return remote
    # Workers run this interpreter unless PYSPARK_PYTHON names another: PySpark's default is the first python3 on
    # the PATH, not the virtual environment when .venv/bin/python runs unactivated (no pandas, no workbench there).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    active = SparkSession.getActiveSession()
    if active is not None and target.catalog is not None and catalog_folder(active) != target.catalog.resolve():
        active.stop()  # one local session per process, and its catalog folder is fixed when it starts
    builder = (
        SparkSession.builder.master("local[*]")
        .appName("finops")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.sources.default", "parquet")
    )
    for key, value in SQL_SETTINGS.items():
        builder = builder.config(key, value)
    if target.catalog is not None:
        target.catalog.mkdir(parents=True, exist_ok=True)
        builder = builder.config("spark.sql.warehouse.dir", str(target.catalog.resolve()))
    _arrow_memtables()
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    _quiet(session)
    register_tables(session)
    return session


def _arrow_memtables() -> None:
    """Register ibis in-memory tables with Spark through Arrow; timestamps back in microseconds (ibis 12 defects).

    ibis's PySpark backend turns a memtable into pandas and maps decimal columns through ``Decimal``, which fails
    on the first missing value (``conversion from NoneType to Decimal``): any small frame with a nullable money
    column (rates, prices, budgets) could not reach Spark. PySpark 4 takes Arrow directly, types kept.
    """
    from ibis.backends.pyspark import Backend

    if getattr(Backend._register_in_memory_table, "_finops", False):
        return

    def register(self, op) -> None:
        table = op.data.to_pyarrow(op.schema)
        self._session.createDataFrame(table).createOrReplaceTempView(op.name)

    register._finops = True  # type: ignore[attr-defined]
    Backend._register_in_memory_table = register
    Backend.execute = _microseconds(Backend.execute)


def _as_us(values):
    """Return a pandas column of timestamps in microseconds (Spark's pandas results are in nanoseconds)."""
    import pandas as pd

    if isinstance(values.dtype, pd.DatetimeTZDtype) and values.dtype.unit != "us":
        return values.astype(pd.DatetimeTZDtype("us", values.dtype.tz))
    if str(values.dtype) == "datetime64[ns]":
        return values.astype("datetime64[us]")
    return values


def _microseconds(execute):
    """Wrap ibis's PySpark ``execute`` so timestamps come back in microseconds, as DuckDB's do.

    Spark's ``toPandas`` yields ``datetime64[ns]``, DuckDB ``datetime64[us]``: the same figures in two dtypes made
    every frame comparison and concatenation across engines differ. Microseconds are what both engines store.
    """
    import pandas as pd

    def run(self, expr, /, **kwargs):
        result = execute(self, expr, **kwargs)
        if isinstance(result, pd.DataFrame):
            return result.assign(**{name: _as_us(result[name]) for name in result.columns
                                    if str(result[name].dtype).startswith("datetime64")})  # fmt: skip
        if isinstance(result, pd.Series):
            return _as_us(result)
        return result

    return run


def _quiet(session) -> None:
    """Silence Spark's JSON dump of a failed query's context on stderr (the same error is raised to the caller)."""
    try:
        jvm = session._jvm
        level = jvm.org.apache.logging.log4j.Level.OFF
        jvm.org.apache.logging.log4j.core.config.Configurator.setLevel("SQLQueryContextLogger", level)
    except Exception:  # logging is cosmetic: a session without log4j still works
        pass


def catalog_folder(session) -> Path:
    """Return the folder holding the local session's tables (``spark.sql.warehouse.dir``)."""
    raw = session.conf.get("spark.sql.warehouse.dir")
    return Path(raw.removeprefix("file:"))


def register_tables(session) -> list[str]:
    """Register every table folder of the catalog folder with the session; return their names.

    A local session keeps its catalog in memory, so a new session starts knowing no table although the Parquet
    folders of the last one are still there. Each folder holding Parquet files becomes an external table of the
    same name (replacing a registration of the same name).
    """
    folder = catalog_folder(session)
    names = []
    if not folder.is_dir():
        return names
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() and entry.name.isidentifier() and any(entry.glob("*.parquet")):
            register_table(session, entry.name, entry)
            names.append(entry.name)
    return names


def register_table(session, name: str, location: Path) -> None:
    """(Re-)register the Parquet folder ``location`` as the session's external table ``name``."""
    session.sql(f"DROP TABLE IF EXISTS `{name}`")
    session.catalog.createTable(name, path=str(location), source="parquet")


def write_table(session, name: str, frame) -> Path:
    """Write a Spark DataFrame as the table ``name``: a Parquet folder in the catalog folder, replaced whole.

    Parameters
    ----------
    session
        A local Spark session (:func:`open_session`).
    name
        Table name (an identifier).
    frame
        The rows (``pyspark.sql.DataFrame``).

    Returns
    -------
    Path
        The table's folder.
    """
    if not name.isidentifier():
        raise ValueError(f"not a table name: {name!r}")
    location = catalog_folder(session) / name
    session.sql(f"DROP TABLE IF EXISTS `{name}`")
    frame.write.mode("overwrite").parquet(str(location))
    register_table(session, name, location)
    return location
