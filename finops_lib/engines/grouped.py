"""A pandas function run per group of rows on a Spark session's workers (``groupBy(...).applyInPandas``).

The engine half of work the analyses spread over Spark (many forecast fits, :mod:`finops_lib.forecast.spark_fits`):
the rows go to Spark as Arrow, each group is handed to the function as a pandas frame on a worker, and the result
comes back as Arrow. What the rows mean stays with the caller.

A local session's workers run the driver's own Python (:func:`finops_lib.engines.spark.open_session` sees to it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["map_groups", "spark_session"]


def spark_session(con: Any) -> Any | None:
    """Return the Spark session behind ``con``: an ibis PySpark backend's, or ``con`` when it is a Spark session.

    Parameters
    ----------
    con
        An ibis backend, a ``pyspark.sql.SparkSession`` (classic or Spark Connect), or None.

    Returns
    -------
    pyspark.sql.SparkSession or None
        None for any other engine (DuckDB...) and for None.

    Examples
    --------
    >>> import ibis
    >>> spark_session(ibis.duckdb.connect()) is None, spark_session(None) is None
    (True, True)
    """
    if con is None:
        return None
    if getattr(con, "name", None) == "pyspark":
        return con._session
    kind = type(con)
    if kind.__name__ == "SparkSession" and kind.__module__.startswith("pyspark."):
        return con
    return None


def map_groups(session: Any, rows: pa.Table, *, by: str, fn: Callable[[pd.DataFrame], pd.DataFrame], schema: str,
               partitions: int | None = None) -> pa.Table:  # fmt: skip
    """Run ``fn`` on every group of ``rows`` (one value of ``by``) on the session's workers; return all results.

    Parameters
    ----------
    session
        A Spark session (:func:`spark_session`).
    rows
        The input rows; ``by`` one of its columns.
    by
        The column whose values are the groups.
    fn
        ``group frame -> result frame`` with the columns of ``schema``. It is pickled with what it refers to
        (cloudpickle): a function of an importable module by reference, data and local functions by value.
    schema
        The result's Spark DDL schema (``"task long, day timestamp_ntz, ..."``).
    partitions
        Spark tasks to spread the groups over; default four per core of the session (a slow group then holds up
        a quarter of a core's share, not all of it), at most one per group.

    Returns
    -------
    pyarrow.Table
        Every group's result rows, in no particular order.
    """
    groups = len(pc.unique(rows[by])) if len(rows) else 0
    parts = max(1, min(partitions or 4 * _cores(session), groups))
    frame = session.createDataFrame(rows)
    return frame.repartition(parts, by).groupBy(by).applyInPandas(fn, schema=schema).toArrow()


def _cores(session: Any) -> int:
    try:
        return int(session.sparkContext.defaultParallelism)
    except Exception:  # Spark Connect has no SparkContext: its server decides; its shuffle partitions stand in
        return int(session.conf.get("spark.sql.shuffle.partitions", "4"))

