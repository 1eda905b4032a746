"""Data overview: what is loaded, what it covers, what was rejected, and where the money goes.

All heavy work is ibis over the warehouse; pandas appears only on aggregated results.

Money and tokens follow one rule so nothing is counted twice when a vendor has both an invoiced
feed (OpenAI Costs API) and a token feed (OpenAI Usage API): per provider and day, **money** comes
from invoiced rows when there are any (else from priced estimates), and **tokens** come from
estimated/usage rows when there are any (else from the invoiced rows' quantities). Rows without a
cost (unpriced) never count as zero: they are left out of money totals and reported with their
token counts by :func:`quality_flags`.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from finops_lib import paths
from finops_lib.errors import ParameterError
from finops_lib.schema import QUALITY_FLAGS, REQUEST_TOKEN_COLUMNS

#: Group-by dimensions offered to users -> column in ``costs``.
DIMENSIONS: dict[str, str] = {
    "provider": "ProviderName",
    "model": "x_Model",
    "team": "x_Team",
    "application": "x_Application",
    "environment": "x_Environment",
    "service_tier": "x_ServiceTier",
    "token_type": "x_TokenType",
    "sub_account": "SubAccountId",
    "api_key": "x_ApiKeyId",
    "service": "ServiceName",
    "source_format": "x_SourceFormat",
}
UNATTRIBUTED = "(unattributed)"
#: Label of rows without a value, per dimension where "(unattributed)" would mislead: a charge without a
#: model is cloud infrastructure, a platform fee or provisioned capacity, not spend nobody owns.
MISSING_LABELS: dict[str, str] = {"model": "(no model: cloud, fees, capacity)"}


def _missing(by: str) -> str:
    return MISSING_LABELS.get(by, UNATTRIBUTED)
Basis = Literal["invoiced", "estimated"]


def _column(dimension: str) -> str:
    try:
        return DIMENSIONS[dimension]
    except KeyError:
        raise ParameterError(f"unknown dimension {dimension!r}; choose one of {', '.join(DIMENSIONS)}") from None


def filter_costs(
    costs: ir.Table,
    *,
    start_date: str | date | None = None,
    end_date: str | date | None = None,
    provider: str | None = None,
) -> ir.Table:
    """Return the rows of ``costs`` charged in [start_date, end_date] (inclusive days, UTC).

    Parameters
    ----------
    costs
        The ``costs`` table.
    start_date, end_date
        ISO dates; empty or None means unbounded.
    provider
        A ProviderName, or None / ``""`` / ``"all"`` for every provider.
    """
    out = costs
    if start_date:
        out = out.filter(out.ChargePeriodStart.date() >= pd.Timestamp(start_date).date())
    if end_date:
        out = out.filter(out.ChargePeriodStart.date() <= pd.Timestamp(end_date).date())
    if provider and provider.lower() != "all":
        out = out.filter(out.ProviderName == provider)
    return out


def _prefer(rows: ir.Table, first: Basis) -> ir.Table:
    """Per provider and day, keep rows of basis ``first`` when there are any, else the others."""
    day = rows.ChargePeriodStart.date()
    has_first = (rows.x_CostBasis == first).cast("int8").max().over(group_by=[rows.ProviderName, day])
    return rows.filter((rows.x_CostBasis == first) | (has_first == 0))


def money_rows(costs: ir.Table) -> ir.Table:
    """Rows that make up money totals: invoiced first, priced estimates where no invoice exists."""
    priced = costs.filter(costs.BilledCost.notnull())
    return _prefer(priced, "invoiced")


def token_rows(costs: ir.Table) -> ir.Table:
    """Token rows for token totals: usage feeds first, invoiced quantities where no usage feed exists."""
    tokens = costs.filter((costs.x_TokenType != "non_token") & costs.ConsumedQuantity.notnull())
    return _prefer(tokens, "estimated")


def in_currency(costs: ir.Table, currency: str, *, rates: pd.DataFrame | None = None) -> tuple[ir.Table, pd.DataFrame]:
    """Return ``costs`` with every money column in ``currency`` and the exchange rates used.

    Each row is converted at the rate of its charge day (:func:`finops_lib.fx.to_currency`); rows
    already in ``currency`` are unchanged. A report shows the returned rates table, so a reader sees
    which rates (and which derived inverses) turned, say, EUR invoices into USD.

    Parameters
    ----------
    costs
        ``costs`` rows.
    currency
        Target ISO 4217 code.
    rates
        FX table (:func:`finops_lib.fx.load_rates`); default the shipped rates.

    Raises
    ------
    ParameterError
        When a row needs a rate the table does not have (the message names the pair and the day).
    """
    from finops_lib import fx  # analyses sit above fx; imported late to keep start-up light

    return fx.to_currency(costs, currency, rates=fx.load_rates() if rates is None else rates)


def daily_spend(costs: ir.Table, *, by: str, currency: str = "USD", top: int = 8) -> pd.DataFrame:
    """Daily cost per group: columns ``day``, the dimension, ``cost`` (float, in ``currency``).

    Groups beyond the ``top`` largest are summed into ``Other``; missing values show as
    ``(unattributed)``. Only rows billed in ``currency`` are included (see :func:`currency_totals`).

    Parameters
    ----------
    costs
        ``costs`` rows (already filtered).
    by
        A key of :data:`DIMENSIONS`.
    currency
        Billing currency to show.
    top
        Number of groups kept by name.
    """
    col = _column(by)
    rows = money_rows(costs).filter(lambda t: t.BillingCurrency == currency)
    agg = (rows.mutate(day=rows.ChargePeriodStart.date(), grp=rows[col].fill_null(_missing(by)))
           .group_by(["day", "grp"]).aggregate(cost=lambda t: t.BilledCost.sum()).to_pandas())
    return top_groups(agg, "cost", by, top)


def daily_tokens(costs: ir.Table, *, by: str, top: int = 8) -> pd.DataFrame:
    """Daily tokens per group: columns ``day``, the dimension, ``tokens`` (int)."""
    col = _column(by)
    rows = token_rows(costs)
    agg = (rows.mutate(day=rows.ChargePeriodStart.date(), grp=rows[col].fill_null(_missing(by)))
           .group_by(["day", "grp"]).aggregate(tokens=lambda t: t.ConsumedQuantity.sum()).to_pandas())
    return top_groups(agg, "tokens", by, top)


def top_groups(agg: pd.DataFrame, value: str, by: str, top: int) -> pd.DataFrame:
    """Keep the ``top`` largest groups of a ``day, grp, <value>`` frame by name, sum the rest into ``Other``.

    The input is not changed; the result has columns ``day``, ``<by>``, ``<value>``.
    """
    agg = agg.copy()
    if agg.empty:
        return pd.DataFrame({"day": pd.Series(dtype="datetime64[s]"), by: pd.Series(dtype=str),
                             value: pd.Series(dtype=float)})
    agg[value] = agg[value].astype(float)
    totals = agg.groupby("grp")[value].sum().sort_values(ascending=False)
    keep = set(totals.index[:top])
    agg["grp"] = agg["grp"].where(agg["grp"].isin(keep), "Other")
    out = agg.groupby(["day", "grp"], as_index=False)[value].sum().rename(columns={"grp": by})
    out["day"] = pd.to_datetime(out["day"])
    if value == "tokens":
        out[value] = out[value].round().astype("int64")
    return out.sort_values(["day", by]).reset_index(drop=True)


def currency_totals(costs: ir.Table) -> pd.DataFrame:
    """Money totals per billing currency (exact decimals as text and float), invoiced-first rule applied."""
    rows = money_rows(costs)
    out = rows.group_by("BillingCurrency").aggregate(cost=rows.BilledCost.sum(), rows=rows.count()).to_pandas()
    out["cost_text"] = out["cost"].astype(str)
    out["cost"] = out["cost"].astype(float)
    return out.sort_values("cost", ascending=False).reset_index(drop=True)


def top_movers(costs: ir.Table, *, by: str, currency: str = "USD", window_days: int = 7,
               end_date: str | date | None = None, top: int = 10) -> pd.DataFrame:
    """Return the groups whose spend changed most between the last ``window_days`` and the window before.

    Returns
    -------
    pandas.DataFrame
        Columns: the dimension, ``previous``, ``current``, ``change``, ``change_pct`` (a fraction:
        ``0.25`` is +25 %, as :func:`finops_lib.charts.plot_top_movers` expects; NaN when the
        previous window had no spend), sorted by absolute change, ``top`` rows.
    """
    col = _column(by)
    rows = money_rows(costs).filter(lambda t: t.BillingCurrency == currency)
    if end_date:
        last = pd.Timestamp(end_date).date()
    else:
        latest = rows.ChargePeriodStart.max().to_pyarrow().as_py()
        if latest is None:
            return pd.DataFrame(columns=[by, "previous", "current", "change", "change_pct"])
        last = latest.date()
    cur_start = last - timedelta(days=window_days - 1)
    prev_start = cur_start - timedelta(days=window_days)
    day = rows.ChargePeriodStart.date()
    window = ibis.cases((day >= cur_start, "current"), (day >= prev_start, "previous"), else_=None)
    agg = (rows.filter((day >= prev_start) & (day <= last))
           .mutate(window=window, grp=rows[col].fill_null(_missing(by)))
           .group_by(["grp", "window"]).aggregate(cost=lambda t: t.BilledCost.sum()).to_pandas())
    wide = agg.pivot_table(index="grp", columns="window", values="cost", aggfunc="sum", fill_value=0)
    wide = wide.reindex(columns=["previous", "current"], fill_value=0).astype(float)
    wide["change"] = wide["current"] - wide["previous"]
    wide["change_pct"] = wide["change"] / wide["previous"].where(wide["previous"] > 0)
    wide = wide.reindex(wide["change"].abs().sort_values(ascending=False).index).head(top)
    return wide.reset_index().rename(columns={"grp": by}).rename_axis(columns=None)


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
        inv = t.filter(t.x_CostBasis == "invoiced")
        money = inv.group_by(["x_SourceFormat", "BillingCurrency"]).aggregate(cost=inv.BilledCost.sum()).to_pandas()
        text = (money.sort_values(["x_SourceFormat", "BillingCurrency"])
                .assign(text=lambda f: f.BillingCurrency + " " + f.cost.map(lambda v: f"{float(v):,.2f}"))
                .groupby("x_SourceFormat")["text"].agg("; ".join))
        span["invoiced"] = span["x_SourceFormat"].map(text).fillna("")
    return span.assign(table=table)


def unpriced_models(con: BaseBackend, *, catalog: object = None) -> pd.DataFrame:
    """Models and token buckets that have tokens but no price in the catalog, with their token counts.

    Usage-feed rows of ``costs`` and gateway/trace ``requests`` are priced with the catalog
    (:func:`finops_lib.prices.price_costs`, :func:`finops_lib.prices.estimate_requests`); whatever stays
    without a price is listed here. Such tokens are left out of every money total, never counted as $0.

    Parameters
    ----------
    con
        The warehouse.
    catalog
        A :class:`finops_lib.prices.Catalog`; default the shipped catalog.

    Returns
    -------
    pandas.DataFrame
        ``table, provider, model, bucket, tier, tokens, rows, first_day, last_day``; empty when every
        token has a price.
    """
    from finops_lib import fx, prices  # pricing sits beside the analyses; imported late to keep start-up light

    catalog = catalog or prices.load_catalog()
    rates = fx.load_rates()  # catalog prices in USD, rows billed in EUR: prices converted at the day's rate
    frames = [
        prices.unpriced_summary(prices.price_costs(con.table("costs"), catalog, rates=rates)).to_pandas()
        .assign(table="costs"),
        prices.unpriced_summary(prices.estimate_requests(con.table("requests"), catalog, rates=rates)).to_pandas()
        .assign(table="requests"),
    ]
    out = pd.concat(frames, ignore_index=True).rename(columns={
        "ProviderName": "provider", "x_Model": "model", "x_TokenType": "bucket", "x_ServiceTier": "tier"})
    out["tokens"] = out["tokens"].astype(float)
    return out[["table", "provider", "model", "bucket", "tier", "tokens", "rows", "first_day", "last_day"]]


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


def date_range(costs: ir.Table) -> tuple[date | None, date | None]:
    """First and last charge day in ``costs``."""
    stats = costs.aggregate(lo=costs.ChargePeriodStart.min(), hi=costs.ChargePeriodStart.max()).to_pandas()
    lo, hi = stats.lo.iloc[0], stats.hi.iloc[0]
    return (None if pd.isna(lo) else lo.date()), (None if pd.isna(hi) else hi.date())


# --- notebook support: parameter checks, spend totals, skipped files, results.json -----------

_ISO_CURRENCY = re.compile(r"[A-Z]{3}")


def _iso_day(name: str, value: str | date | None) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ParameterError(f"{name} must be an ISO date such as '2026-06-01' or empty, got {value!r}") from None


def providers(costs: ir.Table) -> list[str]:
    """Return the distinct ``ProviderName`` values of ``costs``, sorted."""
    names = costs.select("ProviderName").distinct().to_pandas()["ProviderName"].dropna()
    return sorted(names.astype(str))


def check_parameters(
    costs: ir.Table,
    *,
    group_by: str,
    provider: str = "all",
    currency: str = "USD",
    start_date: str | date | None = None,
    end_date: str | date | None = None,
    top_n: int = 8,
    movers_window_days: int = 7,
) -> dict[str, object]:
    """Check a notebook's overview parameters against the data; return them normalized.

    Providers match case-insensitively and come back spelled as in the data. A currency that no
    row is billed in is accepted (other notebooks of a report may need it); charts are then empty.

    Parameters
    ----------
    costs
        The ``costs`` table (unfiltered: providers are looked up in it).
    group_by, provider, currency, start_date, end_date, top_n, movers_window_days
        The notebook parameters of the same names.

    Returns
    -------
    dict
        ``start_date``/``end_date`` (ISO text or None), ``provider``, ``group_by``, ``currency``,
        ``top_n``, ``movers_window_days``: the filters as applied.

    Raises
    ------
    ParameterError
        On an unknown ``group_by`` or ``provider``, a malformed date or currency code, a start
        after the end, or a non-positive ``top_n``/``movers_window_days``.
    """
    if group_by not in DIMENSIONS:
        raise ParameterError(f"group_by must be one of {', '.join(DIMENSIONS)}; got {group_by!r}")
    known = providers(costs)
    wanted = (provider or "all").strip()
    matches = [name for name in known if name.lower() == wanted.lower()]
    if wanted.lower() != "all" and not matches:
        raise ParameterError(f"unknown provider {provider!r}; the data has {', '.join(known) or 'no provider'} "
                             "(or use 'all')")
    if not isinstance(currency, str) or not _ISO_CURRENCY.fullmatch(currency):
        raise ParameterError(f"currency must be an ISO 4217 code such as 'USD', got {currency!r}")
    first, last = _iso_day("start_date", start_date), _iso_day("end_date", end_date)
    if first and last and first > last:
        raise ParameterError(f"start_date {first} is after end_date {last}")
    for name, value in (("top_n", top_n), ("movers_window_days", movers_window_days)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    return {"start_date": first and first.isoformat(), "end_date": last and last.isoformat(),
            "provider": matches[0] if matches else "all", "group_by": group_by, "currency": currency,
            "top_n": top_n, "movers_window_days": movers_window_days}


def spend_totals(daily: pd.DataFrame, *, by: str) -> pd.DataFrame:
    """Total and share of cost per group of a :func:`daily_spend` frame, largest first, ``Other`` last.

    Examples
    --------
    >>> daily = pd.DataFrame({"day": ["d1", "d2", "d1"], "team": ["a", "a", "Other"], "cost": [1.0, 2.0, 5.0]})
    >>> spend_totals(daily, by="team")
        team  cost  share
    0      a   3.0  0.375
    1  Other   5.0  0.625
    """
    totals = daily.groupby(by, as_index=False)["cost"].sum()
    totals["share"] = totals["cost"] / totals["cost"].sum() if len(totals) else 0.0
    totals["_other"] = totals[by] == "Other"
    return (totals.sort_values(["_other", "cost", by], ascending=[True, False, True]).drop(columns="_other")
            .reset_index(drop=True))


def skipped_files(data_dir: str | Path | None = None) -> pd.DataFrame:
    """Files of a data folder that no registered format recognises (ingest skips them), per folder.

    Returns
    -------
    pandas.DataFrame
        Columns ``folder`` (first level under ``data_dir``), ``files`` and ``example`` (a file name).
    """
    from finops_lib.ingest import discover  # analyses sit above ingest; imported late to keep start-up light
    from finops_lib.sources import detect_format

    root = Path(data_dir).expanduser().resolve() if data_dir else paths.SAMPLE_DIR
    rows = [(path.relative_to(root).parts[0] if len(path.relative_to(root).parts) > 1 else ".", path.name)
            for path in discover([root]) if detect_format(path) is None]
    frame = pd.DataFrame(rows, columns=["folder", "example"])
    out = frame.groupby("folder", as_index=False).agg(files=("example", "count"), example=("example", "first"))
    return out[["folder", "files", "example"]].sort_values("folder").reset_index(drop=True)


def write_results(output_dir: str | Path, results: dict[str, object]) -> Path:
    """Write a notebook's ``results.json`` into ``output_dir`` and return its path.

    A relative ``output_dir`` is taken from the project root (``build/00_data_overview`` lands in
    :data:`finops_lib.paths.BUILD_DIR`), never from the working directory; the report passes an
    absolute folder. Dates and decimals are written as text.
    """
    folder = Path(output_dir).expanduser()
    folder = folder if folder.is_absolute() else paths.PROJECT_ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "results.json"
    target.write_text(json.dumps(results, indent=2, default=str, ensure_ascii=False) + "\n", encoding="utf-8")
    return target
