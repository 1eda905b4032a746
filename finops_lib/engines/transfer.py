"""Copy a warehouse's tables from one ibis backend to another (DuckDB -> Spark): the interim "publish to Spark".

Batch-wise through Arrow, keeping the declared types (DECIMAL(38, 12) money, UTC timestamps).
"""

from __future__ import annotations

import ibis
import pyarrow as pa
from ibis.backends import BaseBackend

from finops_lib.engines.spark import write_table

TABLES = ("costs", "requests", "metrics", "rejects", "ingested_files", "ingested_windows")


def copy_tables(source: BaseBackend, target: BaseBackend, *, tables: tuple[str, ...] = TABLES) -> dict[str, int]:
    """Copy ``tables`` from ``source`` to ``target`` (replacing them), returning the rows copied per table.

    Parameters
    ----------
    source, target
        ibis connections (e.g. DuckDB, Spark).
    tables
        Table names; those missing in ``source`` are skipped.

    Returns
    -------
    dict[str, int]
        Rows copied per table.
    """
    present = set(source.list_tables())
    copied = {}
    for name in tables:
        if name not in present:
            continue
        table = source.table(name)
        data = table.to_pyarrow()
        if source.name == "pyspark":
            data = _utc(data)
        if target.name == "pyspark":
            # ibis's pyspark create_table goes through pandas, which cannot hold a NULL Decimal: Arrow straight in
            write_table(target._session, name, _spark_frame(target._session, data))
        else:
            target.create_table(name, data, schema=ibis.Schema.from_pyarrow(data.schema), overwrite=True)
        copied[name] = data.num_rows
    return copied


def _spark_frame(session, data: pa.Table):
    """Return ``data`` as a Spark DataFrame; an empty table keeps its columns (Spark cannot infer them from no rows)."""
    if data.num_rows:
        return session.createDataFrame(data)
    from pyspark.sql.pandas.types import from_arrow_schema

    return session.createDataFrame([], schema=from_arrow_schema(data.schema))


def _utc(data: pa.Table) -> pa.Table:
    """Label Spark's timestamps UTC: a Spark TIMESTAMP is an instant, read in the session's UTC, but arrives naive."""
    fields = [pa.field(f.name, pa.timestamp(f.type.unit, tz="UTC"), f.nullable)
              if pa.types.is_timestamp(f.type) and f.type.tz is None else f for f in data.schema]  # fmt: skip
    return data.cast(pa.schema(fields, metadata=data.schema.metadata))
