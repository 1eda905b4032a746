"""What the warehouse holds: sources loaded, coverage, rejects, quality flags, skipped files."""

from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd
from ibis.backends import BaseBackend

from finops_lib.schema import QUALITY_FLAGS, REQUEST_TOKEN_COLUMNS
from finops_lib.sources import detect_format
from finops_lib.warehouse.datasets import merge_cost_datasets
from finops_lib.warehouse.ingestion import discover


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


def skipped_files(data_dir: str | Path | None = None) -> pd.DataFrame:
    """Files of a data folder that no registered format recognises (ingest skips them), per folder.

    Returns
    -------
    pandas.DataFrame
        Columns ``folder`` (first level under ``data_dir``), ``files`` and ``example`` (a file name).
    """
    if not data_dir:  # a warehouse read without its folder: no files to look at
        return pd.DataFrame(columns=["folder", "files", "example"])
    root = Path(data_dir).expanduser().resolve()
    rows = [(path.relative_to(root).parts[0] if len(path.relative_to(root).parts) > 1 else ".", path.name)
            for path in discover([root]) if detect_format(path) is None]
    frame = pd.DataFrame(rows, columns=["folder", "example"])
    out = frame.groupby("folder", as_index=False).agg(files=("example", "count"), example=("example", "first"))
    return out[["folder", "files", "example"]].sort_values("folder").reset_index(drop=True)
