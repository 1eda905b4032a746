"""What the warehouse holds: sources loaded, coverage, ingest times, rejects, quality flags, skipped files.

Read-only summaries: nothing here writes to the warehouse.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import ibis
import pandas as pd
from ibis.backends import BaseBackend

from finops_lib.cost_datasets import merge_cost_datasets
from finops_lib.schema import QUALITY_FLAGS, REQUEST_TOKEN_COLUMNS
from finops_lib.sources import detect_format, explain_unrecognised
from finops_lib.warehouse.ingestion import discover
from finops_lib.warehouse.ledger import file_sha256


def sources(con: BaseBackend) -> pd.DataFrame:
    """Return the loaded sources: per format, files, rows read/loaded/rejected and coverage.

    Returns
    -------
    pandas.DataFrame
        One row per source format and table: ``source``, ``table``, ``files``, ``rows_read``,
        ``rows_loaded``, ``rows_rejected``, ``reject_rate`` (rejected / read), ``providers``,
        ``start``, ``end`` (first and last day charged), ``days`` (days with at least one row),
        ``tokens`` (token rows only) and ``invoiced`` (invoiced money per billing currency, as text
        such as ``"USD 1,234.56; EUR 99.00"``; empty for sources that carry no invoice).
    """
    files = con.table("ingested_files")
    per = files.group_by("x_SourceFormat").aggregate(
        files=files.count(), rows_read=files.x_RowsRead.sum(), rows_loaded=files.x_RowsLoaded.sum(),
        rows_rejected=files.x_RowsRejected.sum()).to_pandas()
    coverage = pd.concat([_coverage(con, "costs"), _coverage(con, "requests")], ignore_index=True)
    out = per.merge(coverage, on="x_SourceFormat", how="left").rename(columns={"x_SourceFormat": "source"})
    out["reject_rate"] = (out["rows_rejected"] / out["rows_read"].where(out["rows_read"] > 0)).fillna(0.0)
    out["invoiced"] = out["invoiced"].fillna("")
    out["providers"] = out["providers"].fillna("")
    cols = ["source", "table", "files", "rows_read", "rows_loaded", "rows_rejected", "reject_rate", "providers",
            "start", "end", "days", "tokens", "invoiced"]
    return out[cols].sort_values(["source", "table"]).reset_index(drop=True)


def _coverage(con: BaseBackend, table: str) -> pd.DataFrame:
    """Per source format of one table: providers, first/last/distinct days, tokens, invoiced money."""
    t = con.table(table)
    day = t.ChargePeriodStart.date()
    if table == "costs":
        tokens = (t.x_TokenType != "non_token").ifelse(t.ConsumedQuantity, 0).sum().cast("float64")
    else:
        tokens = sum((t[c] for c in REQUEST_TOKEN_COLUMNS.values()), ibis.literal(0)).sum().cast("float64")
    span = t.group_by("x_SourceFormat").aggregate(
        start=day.min(), end=day.max(), days=day.nunique(), tokens=tokens,
        providers=t.ProviderName.collect(distinct=True)).to_pandas()
    span["providers"] = span["providers"].map(lambda names: ", ".join(sorted(names)) if names is not None else "")
    span["invoiced"] = ""
    if table == "costs":
        merged = merge_cost_datasets(t)  # actual and amortized exports of the same charges count once
        inv = merged.filter(merged.x_CostBasis == "invoiced")
        money = inv.group_by(["x_SourceFormat", "BillingCurrency"]).aggregate(cost=inv.BilledCost.sum()).to_pandas()
        text = (money.sort_values(["x_SourceFormat", "BillingCurrency"])
                .assign(text=lambda f: f.BillingCurrency + " " + f.cost.map(lambda v: f"{float(v):,.2f}"))
                .groupby("x_SourceFormat")["text"].agg("; ".join))
        span["invoiced"] = span["x_SourceFormat"].map(text).fillna("")
    return span.assign(table=table)


def ingested_count(con: BaseBackend) -> int:
    """Return how many files the warehouse holds (0 for a new or empty warehouse, which has no tables yet)."""
    if "ingested_files" not in con.list_tables():
        return 0
    return int(con.table("ingested_files").count().to_pyarrow().as_py())


def ingested_paths(con: BaseBackend) -> set[str]:
    """Return the files the warehouse holds (their paths as ingested); empty for a new warehouse."""
    if "ingested_files" not in con.list_tables():
        return set()
    return set(con.table("ingested_files").select("x_SourceFile").to_pandas()["x_SourceFile"].astype(str))


def ingest_times(con: BaseBackend) -> pd.DataFrame:
    """Return per source format the files held and when they were first and last ingested.

    Returns
    -------
    pandas.DataFrame
        ``source``, ``files``, ``first_ingest`` and ``last_ingest`` (UTC timestamps), sorted by source; empty
        when nothing is ingested.
    """
    columns = ["source", "files", "first_ingest", "last_ingest"]
    if not ingested_count(con):
        return pd.DataFrame(columns=columns)
    t = con.table("ingested_files")
    out = t.group_by("x_SourceFormat").aggregate(files=t.count(), first_ingest=t.x_IngestedAt.min(),
                                                 last_ingest=t.x_IngestedAt.max()).to_pandas()  # fmt: skip
    return out.rename(columns={"x_SourceFormat": "source"})[columns].sort_values("source").reset_index(drop=True)


def rejects_by_reason(con: BaseBackend, *, files: Iterable[str] | None = None) -> pd.DataFrame:
    """Count rejected records per file and reason (every reject, no limit), most frequent first.

    Parameters
    ----------
    con
        The warehouse.
    files
        Only these source files (``x_SourceFile``, as ingested); None: every file.

    Returns
    -------
    pandas.DataFrame
        ``source``, ``path`` (the file as ingested), ``reason``, ``rows``, ``first_line``.
    """
    columns = ["source", "path", "reason", "rows", "first_line"]
    if "rejects" not in con.list_tables():
        return pd.DataFrame(columns=columns)
    r = con.table("rejects")
    if files is not None:
        r = r.filter(r.x_SourceFile.isin(list(files)))
    out = (r.group_by(["x_SourceFormat", "x_SourceFile", "x_Reason"])
           .aggregate(rows=r.count(), first_line=r.x_SourceRow.min()).to_pandas())  # fmt: skip
    out = out.rename(columns={"x_SourceFormat": "source", "x_SourceFile": "path", "x_Reason": "reason"})[columns]
    return out.sort_values(["rows", "path", "reason"], ascending=[False, True, True]).reset_index(drop=True)


def rejects_summary(con: BaseBackend, *, limit: int = 20) -> pd.DataFrame:
    """Rejected records grouped by file, column and reason, with the first line and an example value."""
    r = con.table("rejects")
    out = (r.group_by(["x_SourceFormat", "x_SourceFile", "x_Column", "x_Reason"])
           .aggregate(rows=r.count(), first_line=r.x_SourceRow.min(), example=r.x_Value.arbitrary())
           .order_by(ibis.desc("rows")).limit(limit).to_pandas())
    out["file"] = out.pop("x_SourceFile").str.rsplit("/", n=1).str[-1]
    return out.rename(columns={"x_SourceFormat": "source", "x_Column": "column", "x_Reason": "reason"})[
        ["source", "file", "first_line", "column", "reason", "rows", "example"]]


def quality_flags(con: BaseBackend) -> pd.DataFrame:
    """Rows, tokens and cost carrying each data-quality flag, per table.

    Returns
    -------
    pandas.DataFrame
        Columns ``table``, ``flag``, ``meaning``, ``rows``, ``tokens`` (token rows only), ``cost``
        (float; NaN where the flagged rows have no cost, as for ``unpriced``).
    """
    frames = []
    for table, qty in (("costs", "ConsumedQuantity"), ("requests", None)):
        t = con.table(table)
        exploded = t.mutate(flag=t.x_DataQualityFlags.split(",")).unnest("flag").filter(lambda x: x.flag != "")
        metrics = {"rows": exploded.count()}
        if qty:
            metrics["tokens"] = exploded[qty].sum()
            metrics["cost"] = exploded.BilledCost.sum()
        frames.append(exploded.group_by("flag").aggregate(**metrics).to_pandas().assign(table=table))
    out = pd.concat(frames, ignore_index=True)
    for col in ("tokens", "cost"):
        out[col] = out.get(col, pd.Series(dtype=float)).astype(float)
    out["meaning"] = out["flag"].map(QUALITY_FLAGS).fillna("")
    return out[["table", "flag", "meaning", "rows", "tokens", "cost"]].sort_values(["table", "flag"]) \
        .reset_index(drop=True)


def skipped_files(data_dir: str | Path | None = None, con: BaseBackend | None = None) -> pd.DataFrame:
    """Files of a data folder whose rows are in no table: unrecognised (skipped) or unreadable (failed), largest first.

    Parameters
    ----------
    data_dir
        The data folder; None (a warehouse read without its folder) lists nothing.
    con
        The warehouse the folder was ingested into: a file it recognises but the warehouse does not hold (and
        no held file has its bytes) failed to load. Without it only unrecognised files are listed.

    Returns
    -------
    pandas.DataFrame
        Columns ``file`` (path under ``data_dir``), ``status`` (``skipped`` or ``failed``), ``bytes`` and
        ``reason`` (what the file looks like and what to do about it), sorted by size, largest first.
    """
    columns = ["file", "status", "bytes", "reason"]
    if not data_dir:
        return pd.DataFrame(columns=columns)
    root = Path(data_dir).expanduser().resolve()
    held: set[str] = set()
    hashes: set[str] = set()
    if con is not None and "ingested_files" in con.list_tables():
        files = con.table("ingested_files").select("x_SourceFile", "x_FileSha256").to_pandas()
        held, hashes = set(files.x_SourceFile), set(files.x_FileSha256)
    rows = []
    for path in discover([root]):
        source = detect_format(path)
        if source is None:
            rows.append((str(path.relative_to(root)), "skipped", path.stat().st_size, explain_unrecognised(path)))
        elif con is not None and str(path) not in held and file_sha256(path) not in hashes:
            rows.append((str(path.relative_to(root)), "failed", path.stat().st_size,
                         f"recognised as {source.name} but could not be read: `finops ingest {path.name}` says why"))
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["bytes", "file"], ascending=[False, True]).reset_index(drop=True)
