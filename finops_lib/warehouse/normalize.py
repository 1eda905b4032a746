"""Files -> one Parquet file of a declared table, without a warehouse (``finops normalize``).

The same readers, keys and settling as :func:`finops_lib.warehouse.ingest`; records that cannot be loaded go to a
rejects file beside the output.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from finops_lib import engine
from finops_lib.errors import SourceError
from finops_lib.schema import TABLES
from finops_lib.sources import get_source
from finops_lib.warehouse.ingestion import discover
from finops_lib.warehouse.loading import insert_rejects, insert_rows, settle

__all__ = ["normalize"]


def normalize(
    paths: Iterable[str | Path], out: str | Path, *, format: str | None = None, table: str | None = None
) -> dict[str, int | str]:
    """Convert files to one Parquet file of the declared ``table``, without a warehouse.

    Records that cannot be loaded go to ``<out stem>.rejects.parquet`` beside ``out`` with file,
    line, column, value and reason.

    Parameters
    ----------
    paths
        Files or folders; all must be of formats that fill ``table``.
    out
        Target Parquet file.
    format
        Force a registered format.
    table
        ``costs`` or ``requests``; default: the table the (first) format mainly fills.

    Returns
    -------
    dict
        ``table``, ``rows`` written, ``records_read``, ``records_rejected``, ``rejects`` path.

    Raises
    ------
    SourceError
        When no file is recognised, or a file cannot be read at all.
    """
    files = discover(paths)
    con = engine.memory()
    sources = [get_source(p, format) for p in files]
    if not sources:
        raise SourceError(", ".join(map(str, paths)), "no file to normalize")
    table = table or sources[0].table
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage, rejected_stage = f"_normalized_{table}", "_normalized_rejects"
    con.create_table(stage, schema=TABLES[table].ibis_schema(), temp=True)
    con.create_table(rejected_stage, schema=TABLES["rejects"].ibis_schema(), temp=True)
    read = 0
    for source, path in zip(sources, files, strict=True):
        result = source.read(path, con)
        expr = getattr(result, table)
        if expr is None:
            raise SourceError(path, f"format {source.name!r} produces no {table!r} rows")
        insert_rows(con, stage, expr, line_id=source.line_id, numbered_from=result.numbered_from,
                    path=str(path))
        parsed = settle(con, stage, str(path), result, rejects=rejected_stage)
        if result.rejects is not None:
            insert_rejects(con, result.rejects, table=rejected_stage)
        read += result.rows_read if result.rows_read is not None else parsed
    rejects_path = out.with_name(out.name.removesuffix(".parquet") + ".rejects.parquet")
    con.con.execute(f"COPY {stage} TO '{_sql_path(out)}' (FORMAT parquet)")
    con.con.execute(f"COPY {rejected_stage} TO '{_sql_path(rejects_path)}' (FORMAT parquet)")
    written = int(con.con.execute(f"SELECT count(*) FROM {stage}").fetchone()[0])
    n_rejected = int(con.con.execute(f"SELECT count(*) FROM {rejected_stage}").fetchone()[0])
    con.disconnect()
    return {"table": table, "rows": written, "records_read": read, "records_rejected": n_rejected,
            "rejects": str(rejects_path)}


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
