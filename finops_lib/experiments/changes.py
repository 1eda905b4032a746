"""Before/after analysis around a change date: what a prompt or model change did to tokens and cost.

A change is an ad-hoc experiment: the same application before and after a date. :func:`find_changes` scans the
request logs for the day at which a per-request metric (input tokens per request by default) shifts most, per
group (application and feature by default); :func:`before_after` measures a given change on equal windows on
both sides: tokens per request by bucket, cost per request, requests per day and cost per day, each with a
day-level bootstrap 95% interval and a Welch test on the daily values, and the change of cost decomposed
exactly into volume, mix, tokens per request, price and other (:mod:`finops_lib.decompose`).

Statistics are floats (means of daily sums); the decomposition is exact Decimal in the logs' currency.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import stats

from finops_lib.decompose import Decomposition, decompose
from finops_lib.errors import ParameterError
from finops_lib.experiments import metered as bf
from finops_lib.facts.requests import cells_from_requests
from finops_lib.schema import REQUEST_TOKEN_COLUMNS

__all__ = ["BeforeAfter", "before_after", "daily_requests", "find_change", "find_changes", "per_request_value"]

INPUT_BUCKETS = ("input_uncached", "input_cache_read", "input_cache_write_5m", "input_cache_write_1h")
#: Per-request metrics: numerator columns of :func:`daily_requests` over ``requests``.
RATIO_METRICS: dict[str, tuple[str, ...]] = {
    "input_tokens_per_request": tuple(f"{b}_tokens" for b in INPUT_BUCKETS),
    "output_tokens_per_request": ("output_tokens",),
    "tokens_per_request": tuple(f"{b}_tokens" for b in REQUEST_TOKEN_COLUMNS),
    "cost_per_request": ("cost",),
    **{f"{b}_per_request": (f"{b}_tokens",) for b in REQUEST_TOKEN_COLUMNS},
}
#: Per-day metrics (means of daily values).
DAY_METRICS = ("requests", "cost")


def _filtered(requests: ir.Table, scope: Mapping[str, str | None]) -> ir.Table:
    t = requests
    for column, value in scope.items():
        if value not in (None, "", "all"):
            if column not in t.columns:
                raise ParameterError(f"unknown scope column {column!r}")
            t = t.filter(t[column] == value)
    return t


def daily_requests(requests: ir.Table, *, scope: Mapping[str, str | None] | None = None,
                   by: Sequence[str] = ()) -> pd.DataFrame:  # fmt: skip
    """Aggregate request logs per UTC day (and ``by`` groups): requests, failures, tokens per bucket, cost.

    Parameters
    ----------
    requests : ibis Table
        The ``requests`` table (one currency).
    scope : mapping, optional
        Column -> value filters (``{"x_Application": "code-assistant"}``); empty values are ignored.
    by : sequence of str
        Extra group columns.

    Returns
    -------
    DataFrame
        ``date`` (datetime64), ``by...``, ``requests``, ``failures``, ``<bucket>_tokens``, ``cost`` (float,
        logged cost; failures without a cost count 0), ``currency``. Days without requests are absent.
    """
    t = _filtered(requests, scope or {})
    money = ibis.cases((t.x_ReportedCost.isnull() & (t.x_Status == "failure"), 0), else_=t.x_ReportedCost)
    aggs = {f"{b}_tokens": t[c].sum() for b, c in REQUEST_TOKEN_COLUMNS.items()}
    df = t.group_by([t.ChargePeriodStart.date().name("date"), *by]).aggregate(
        requests=t.count(), failures=(t.x_Status == "failure").cast("int64").sum(), **aggs,
        cost=money.cast("float64").sum(), currency=t.BillingCurrency.max(),
    ).to_pandas()  # fmt: skip
    df["date"] = pd.to_datetime(df["date"])
    return df.sort_values([*by, "date"]).reset_index(drop=True)


def _ratio(days: pd.DataFrame, metric: str) -> np.ndarray:
    if metric not in RATIO_METRICS:
        raise ParameterError(f"unknown metric {metric!r}; expected one of {sorted(RATIO_METRICS)}")
    return days[list(RATIO_METRICS[metric])].sum(axis=1).to_numpy(float)


def per_request_value(days: pd.DataFrame, metric: str = "input_tokens_per_request") -> pd.Series:
    """Return a per-request metric of each day of :func:`daily_requests` (NaN on days without requests).

    Parameters
    ----------
    days : DataFrame
        :func:`daily_requests` (or :attr:`BeforeAfter.daily`).
    metric : str
        A key of :data:`RATIO_METRICS`.

    Returns
    -------
    Series
        Aligned with ``days``.
    """
    return pd.Series(_ratio(days, metric), index=days.index) / days["requests"].where(days["requests"] > 0)


def _welch(after: np.ndarray, before: np.ndarray) -> tuple[float, float]:
    """Welch t statistic and p-value; NaN when a side has fewer than two values or neither side varies."""
    after, before = np.asarray(after, float), np.asarray(before, float)
    if after.size < 2 or before.size < 2 or (np.ptp(after) == 0 and np.ptp(before) == 0):
        return np.nan, np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # near-constant days: the statistic is still defined
        test = stats.ttest_ind(after, before, equal_var=False)
    return float(test.statistic), float(test.pvalue)


def find_change(days: pd.DataFrame, *, metric: str = "input_tokens_per_request", min_days: int = 7) -> dict:
    """Find the day at which a per-request metric shifts most (one step change, least squares).

    Every candidate day splits the daily series in two; the split that minimizes the request-weighted squared
    error of the daily per-request values around each side's mean wins. Its size is the ratio of the sums
    after and before (e.g. input tokens over requests), over the whole series.

    Parameters
    ----------
    days : DataFrame
        :func:`daily_requests` of one group.
    metric : str
        A key of :data:`RATIO_METRICS`.
    min_days : int
        Fewest days with requests on each side.

    Returns
    -------
    dict
        ``change_date``, ``before``, ``after`` (per-request values), ``ratio`` (after / before),
        ``t_stat`` (Welch t of the daily values around the split), ``p_value``, ``days_before``,
        ``days_after``; ``change_date`` is None when the series is too short.
    """
    days = days[days["requests"] > 0].sort_values("date")
    num, req = _ratio(days, metric), days["requests"].to_numpy(float)
    empty = {"change_date": None, "before": np.nan, "after": np.nan, "ratio": np.nan, "t_stat": np.nan,
             "p_value": np.nan, "days_before": 0, "days_after": len(days)}  # fmt: skip
    if len(days) < 2 * min_days:
        return empty
    cn, cr = np.cumsum(num), np.cumsum(req)
    value = num / req
    best, best_k = np.inf, None
    for k in range(min_days, len(days) - min_days + 1):
        m0, m1 = cn[k - 1] / cr[k - 1], (cn[-1] - cn[k - 1]) / (cr[-1] - cr[k - 1])
        sse = float((req[:k] * (value[:k] - m0) ** 2).sum() + (req[k:] * (value[k:] - m1) ** 2).sum())
        if sse < best:
            best, best_k = sse, k
    k = int(best_k)  # type: ignore[arg-type]
    before, after = cn[k - 1] / cr[k - 1], (cn[-1] - cn[k - 1]) / (cr[-1] - cr[k - 1])
    t_stat, p_value = _welch(value[k:], value[:k])
    return {"change_date": days["date"].iloc[k].date(), "before": float(before), "after": float(after),
            "ratio": float(after / before) if before else np.nan, "t_stat": t_stat, "p_value": p_value,
            "days_before": k, "days_after": len(days) - k}  # fmt: skip


def find_changes(requests: ir.Table | pd.DataFrame, *, by: Sequence[str] | None = None,
                 metric: str = "input_tokens_per_request", min_days: int = 7,
                 scope: Mapping[str, str | None] | None = None) -> pd.DataFrame:  # fmt: skip
    """Run :func:`find_change` on every group of the request logs; largest shifts first.

    Parameters
    ----------
    requests : ibis Table or DataFrame
        The ``requests`` table, or the daily cell facts of every source
        (:func:`finops_lib.facts.cells.build_facts`; metered cells only, see :mod:`finops_lib.experiments.metered`).
    by : sequence of str, optional
        Group columns (one change is looked for per group); default application and feature for request logs,
        team and application for facts.
    metric, min_days
        As in :func:`find_change`.
    scope : mapping, optional
        Filters applied first.

    Returns
    -------
    DataFrame
        ``by...`` and the :func:`find_change` fields, sorted by ``|t_stat|`` descending (groups too short to
        split last).

    Examples
    --------
    >>> days = pd.date_range("2026-01-01", periods=20, tz="UTC")
    >>> req = pd.DataFrame({"ChargePeriodStart": days, "x_Application": "a", "x_Status": "success",
    ...     "x_ReportedCost": 1.0, "BillingCurrency": "USD", "x_InputUncachedTokens": [100] * 12 + [150] * 8,
    ...     **{c: 0 for c in list(REQUEST_TOKEN_COLUMNS.values())[1:]}})
    >>> row = find_changes(ibis.memtable(req), by=["x_Application"]).iloc[0]
    >>> str(row["change_date"]), round(float(row["ratio"]), 2)
    ('2026-01-13', 1.5)
    """
    if bf.is_facts(requests):
        by = [bf.FACT_SCOPE.get(b, b) for b in (by or ("x_Team", "x_Application"))]
        days = bf.daily_facts(requests, scope=scope, by=by)
    else:
        by = list(by or ("x_Application", "x_Feature"))
        days = daily_requests(requests, scope=scope, by=by)
    rows = [{**dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
             **find_change(group, metric=metric, min_days=min_days)}
            for key, group in days.groupby(list(by), dropna=False, sort=True)]  # fmt: skip
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["metric"] = metric
    order = out["t_stat"].abs().fillna(-1).sort_values(ascending=False).index
    return out.loc[order].reset_index(drop=True)


@dataclass(frozen=True)
class BeforeAfter:
    """Result of :func:`before_after`.

    Attributes
    ----------
    change_date : date
        First day of the "after" window.
    window : tuple of date
        ``(before_start, change_date, after_end)``, after_end exclusive; both windows have ``days`` days.
    days : int
        Days in each window.
    metrics : DataFrame
        One row per metric: ``metric``, ``kind`` (per request or per day), ``before``, ``after``, ``change``,
        ``rel_change``, ``rel_ci_low``, ``rel_ci_high`` (95% bootstrap over days), ``p_welch`` (daily values).
    daily : DataFrame
        :func:`daily_requests` of both windows with a ``period`` column (``before``/``after``).
    decomposition : Decomposition
        The change of the window's cost (after - before), exact, in ``currency``.
    currency : str
    verdict : str
    """

    change_date: dt.date
    window: tuple[dt.date, dt.date, dt.date]
    days: int
    metrics: pd.DataFrame
    daily: pd.DataFrame
    decomposition: Decomposition
    currency: str
    verdict: str

    def per_day(self) -> pd.DataFrame:
        """Return the decomposition's components per day (amount divided by the window's days, float)."""
        comp = self.decomposition.components
        return comp.assign(per_day=[float(a) / self.days for a in comp["amount"]])


def _boot(before: pd.DataFrame, after: pd.DataFrame, fn, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    i0 = rng.integers(0, len(before), size=(n_boot, len(before)))
    i1 = rng.integers(0, len(after), size=(n_boot, len(after)))
    with np.errstate(divide="ignore", invalid="ignore"):
        return fn(after, i1) / fn(before, i0) - 1


def _metric_row(name: str, kind: str, before: pd.DataFrame, after: pd.DataFrame, n_boot: int,
                rng: np.random.Generator) -> dict:  # fmt: skip
    if kind == "per request":
        cols = list(RATIO_METRICS[name])

        def fn(d, idx):
            num, den = d[cols].sum(axis=1).to_numpy(float), d["requests"].to_numpy(float)
            return num[idx].sum(axis=-1) / den[idx].sum(axis=-1)

        daily0, daily1 = _ratio(before, name) / before["requests"], _ratio(after, name) / after["requests"]
    else:

        def fn(d, idx):
            return d[name].to_numpy(float)[idx].mean(axis=-1)

        daily0, daily1 = before[name].astype(float), after[name].astype(float)
    all0, all1 = np.arange(len(before)), np.arange(len(after))
    v0, v1 = float(fn(before, all0)), float(fn(after, all1))
    rel = _boot(before, after, fn, n_boot, rng)
    welch = _welch(np.asarray(daily1, float), np.asarray(daily0, float))[1]
    return {"metric": name, "kind": kind, "before": v0, "after": v1, "change": v1 - v0,
            "rel_change": v1 / v0 - 1 if v0 else np.nan, "rel_ci_low": float(np.nanpercentile(rel, 2.5)),
            "rel_ci_high": float(np.nanpercentile(rel, 97.5)), "p_welch": float(welch)}  # fmt: skip


def _windows(days: pd.DataFrame, change: dt.date, window_days: int) -> tuple[dt.date, dt.date, int]:
    first, last = days["date"].min().date(), days["date"].max().date()
    span = min(window_days, (change - first).days, (last - change).days + 1)
    if span < 7:
        raise ParameterError(f"change date {change} leaves {span} day(s) on one side (data {first} to {last}); "
                             "need at least 7")  # fmt: skip
    return change - dt.timedelta(days=span), change + dt.timedelta(days=span), span


def _money(x: float) -> str:
    """Signed amount with cents, or 3 significant digits below a dollar (gateway costs are often tiny)."""
    return f"{x:+,.2f}" if abs(x) >= 1 else f"{x:+.3g}"


def _verdict(metrics: pd.DataFrame, decomp: Decomposition, metric: str, days: int, currency: str) -> str:
    row = metrics.set_index("metric").loc[metric]
    cost = metrics.set_index("metric").loc["cost"]
    per_day = float(decomp.total) / days
    parts = ", ".join(f"{c.replace('_', ' ')} {_money(float(a) / days)}" for c, a in
                      zip(decomp.components["component"], decomp.components["amount"], strict=True) if a)  # fmt: skip
    return (f"{metric.replace('_', ' ')} {row['rel_change'] * 100:+.1f}% (95% CI {row['rel_ci_low'] * 100:+.1f}% to "
            f"{row['rel_ci_high'] * 100:+.1f}%); cost per day {cost['rel_change'] * 100:+.1f}% (95% CI "
            f"{cost['rel_ci_low'] * 100:+.1f}% to {cost['rel_ci_high'] * 100:+.1f}%), {_money(per_day)} {currency}/day "
            f"over {days} days on each side: {parts}.")  # fmt: skip


def before_after(requests: ir.Table, change_date: str | dt.date, *, scope: Mapping[str, str | None] | None = None,
                 window_days: int = 28, metric: str = "input_tokens_per_request", keys: Sequence[str] = ("x_Model",),
                 n_boot: int = 2000, seed: int = 0, catalog: object = None,
                 currency: str | None = None) -> BeforeAfter:  # fmt: skip
    """Measure a change on equal windows before and after ``change_date``.

    Parameters
    ----------
    requests : ibis Table or DataFrame
        The ``requests`` table (one currency after ``scope``), or the daily cell facts of every source
        (:func:`finops_lib.facts.cells.build_facts`): then only cells with a request count are measured
        (:mod:`finops_lib.experiments.metered`) and ``scope`` may use facts or schema column names.
    change_date : date or ISO string
        First day of the new behaviour.
    scope : mapping, optional
        Column -> value filters (application, feature, model, key...).
    window_days : int
        Days on each side (shortened to the data available, equal on both sides, at least 7).
    metric : str
        Headline per-request metric of the verdict (a key of :data:`RATIO_METRICS`).
    keys : sequence of str
        Cells of the mix in the decomposition.
    n_boot, seed
        Bootstrap resamples (of days, within each window) and seed.
    catalog : Catalog, optional
        Price catalog used to split logged cost over token buckets.
    currency : str, optional
        Currency of the facts (they carry none; default USD, as ``build_facts``); request logs say theirs.

    Returns
    -------
    BeforeAfter

    Raises
    ------
    ParameterError
        No requests in scope, several currencies, or a window shorter than 7 days.
    """
    change = dt.date.fromisoformat(str(change_date))
    facts = bf.is_facts(requests)
    days = bf.daily_facts(requests, scope=scope) if facts else daily_requests(requests, scope=scope)
    if days.empty:
        raise ParameterError(f"no requests (with a request count) in scope {dict(scope or {})}")
    if days["currency"].nunique() > 1:
        raise ParameterError("requests in scope are in several currencies; add BillingCurrency to the scope")
    start, end, span = _windows(days, change, window_days)
    d = days[(days["date"] >= pd.Timestamp(start)) & (days["date"] < pd.Timestamp(end))]
    full = pd.DataFrame({"date": pd.date_range(start, end - dt.timedelta(days=1))})
    d = full.merge(d, on="date", how="left").fillna({c: 0 for c in d.columns if c not in ("date", "currency")})
    d["period"] = np.where(d["date"] < pd.Timestamp(change), "before", "after")
    before, after = d[d["period"] == "before"], d[d["period"] == "after"]
    rng = np.random.default_rng(seed)
    names = [metric, *(m for m in ("tokens_per_request", "input_tokens_per_request", "output_tokens_per_request",
                                    "cost_per_request", *(f"{b}_per_request" for b in REQUEST_TOKEN_COLUMNS))
                       if m != metric)]  # fmt: skip
    names = [n for n in names if _ratio(d, n).sum() > 0]  # buckets never used on either side say nothing
    rows = [_metric_row(n, "per request", before[before.requests > 0], after[after.requests > 0], n_boot, rng)
            for n in names] + [_metric_row(n, "per day", before, after, n_boot, rng) for n in DAY_METRICS]  # fmt: skip
    metrics = pd.DataFrame(rows)
    if facts:
        cells = [bf.cells_from_facts(requests, start=a, end=b, keys=keys, scope=scope) for a, b in ((start, change),
                                                                                                   (change, end))]
    else:
        scoped = _filtered(requests, scope or {})
        cells = [cells_from_requests(scoped, start=a, end=b, keys=keys, catalog=catalog) for a, b in ((start, change),
                                                                                                      (change, end))]
    decomp = decompose(*cells, keys=keys)
    logged = days["currency"].dropna()
    currency = str(logged.iloc[0]) if len(logged) else (currency or "USD")
    verdict = _verdict(metrics, decomp, metric, span, currency)
    if facts:
        window = requests[(requests["day"] >= pd.Timestamp(start)) & (requests["day"] < pd.Timestamp(end))]
        left_out = bf.unmetered_cost(window, scope)
        if left_out:
            verdict += f" Cost of cells without a request count, left out: {float(left_out):,.2f} {currency}."
    return BeforeAfter(change, (start, change, end), span, metrics, d, decomp, currency, verdict)
