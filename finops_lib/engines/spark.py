"""The Spark session builder: ``pyspark://`` (local), ``pyspark:///dir`` (local, catalog in ``dir``), ``sc://``.

Local sessions run with the session time zone UTC (timestamps are stored and read as UTC), the web UI off, four
shuffle partitions (the warehouse is small per query; the default 200 makes every group-by slow), quiet logs, and
tables stored as Parquet under the catalog folder. ANSI mode stays on (Spark 4's default): an overflowing
DECIMAL(38, 12) sum or a bad cast fails instead of silently becoming NULL, which is what money needs.

``sc://host:15002`` opens a Spark Connect session against a running server; its catalog and settings are the
server's.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

SPARK_SCHEMES = ("pyspark", "sc")


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
        return SparkSession.builder.remote(target.remote).getOrCreate()
    builder = (
        SparkSession.builder.master("local[*]")
        .appName("finops")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.ansi.enabled", "true")
        .config("spark.sql.sources.default", "parquet")
    )
    if target.catalog is not None:
        target.catalog.mkdir(parents=True, exist_ok=True)
        builder = builder.config("spark.sql.warehouse.dir", str(target.catalog.resolve()))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
