"""Request logs as cells: tokens, requests and logged cost per cell and token bucket."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

import ibis
import pandas as pd

from finops_lib.decompose import NON_TOKEN, round_fraction
from finops_lib.errors import ParameterError
from finops_lib.pricing import BUCKET_COST_COLUMNS, estimate_requests
from finops_lib.schema import REQUEST_TOKEN_COLUMNS


def _bound(value: str | dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
    return _bound(dt.date.fromisoformat(str(value)))


def cells_from_requests(requests: ibis.Table, *, start: str | dt.date | dt.datetime, end: str | dt.date | dt.datetime,
                        keys: Sequence[str] = ("x_Model",), cost: str = "x_ReportedCost",
                        catalog: object = None) -> pd.DataFrame:  # fmt: skip
    """Aggregate request logs of ``[start, end)`` into :func:`decompose`'s cell frame.

    The logs carry one cost per request, not per bucket: each cell's cost is split over its buckets in
    proportion to the catalog's cost of those buckets (:func:`finops_lib.pricing.estimate_requests`), with the
    rounding remainder on the largest bucket, so the cell total is the logged total exactly. Failed requests
    count as requests (cost 0 when the log has none). Successful requests without a cost (unpriced) are left
    out, tokens and count, and counted in the ``unpriced_requests`` column.

    Parameters
    ----------
    requests : ibis Table
        The ``requests`` table, one currency (filter ``BillingCurrency`` first).
    start, end : date, datetime or ISO string
        Window, UTC, end exclusive.
    keys : sequence of str
        Cell columns of the ``requests`` table.
    cost : str
        ``x_ReportedCost`` (what the logs say) or ``x_EstimatedCost`` (the catalog's estimate).
    catalog : Catalog, optional
        Price catalog for the bucket split (default: the shipped one).

    Returns
    -------
    DataFrame
        ``keys...``, ``bucket``, ``tokens``, ``cost`` (Decimal), ``requests``, ``unpriced_requests``.
    """
    t = requests.filter((requests.ChargePeriodStart >= _bound(start)) & (requests.ChargePeriodStart < _bound(end)))
    if t.BillingCurrency.nunique().to_pandas() > 1:  # counted in the engine, not pulled row by row
        raise ParameterError("cells_from_requests needs one currency: filter BillingCurrency first")
    est = estimate_requests(t, catalog, detail=True)  # type: ignore[arg-type]
    money = ibis.cases((est[cost].isnull() & (est.x_Status == "failure"), 0), else_=est[cost])
    est = est.mutate(_cost=money, _unpriced=money.isnull())
    priced = est.filter(~est._unpriced)
    aggs = {f"tok_{b}": priced[c].sum() for b, c in REQUEST_TOKEN_COLUMNS.items()}
    aggs |= {f"est_{b}": priced[c].sum() for b, c in BUCKET_COST_COLUMNS.items() if b in REQUEST_TOKEN_COLUMNS}
    df = priced.group_by(list(keys)).aggregate(requests=priced.count(), total=priced._cost.sum(), **aggs).to_pandas()
    gone = est.filter(est._unpriced)
    skipped = gone.group_by(list(keys)).aggregate(unpriced_requests=gone.count()).to_pandas()
    rows = [row for rec in df.to_dict("records") for row in _cell_rows(rec, keys)]
    out = pd.DataFrame(rows, columns=[*keys, "bucket", "tokens", "cost", "requests"])
    out = out.merge(skipped, on=list(keys), how="outer") if not skipped.empty else out.assign(unpriced_requests=0)
    out["unpriced_requests"] = out["unpriced_requests"].fillna(0).astype("int64")
    return out.dropna(subset=["bucket"]).reset_index(drop=True)


def _cell_rows(rec: dict, keys: Sequence[str]) -> list[dict]:
    total = Decimal(str(rec["total"] or 0))
    tokens = {b: int(rec[f"tok_{b}"] or 0) for b in REQUEST_TOKEN_COLUMNS}
    weights = {b: Decimal(str(rec.get(f"est_{b}") or 0)) for b in REQUEST_TOKEN_COLUMNS}
    weight_sum = sum(weights.values())
    live = [b for b in REQUEST_TOKEN_COLUMNS if tokens[b]]
    if not weight_sum:  # no catalog split available: spread by tokens
        weights, weight_sum = {b: Decimal(tokens[b]) for b in REQUEST_TOKEN_COLUMNS}, Decimal(sum(tokens.values()))
    share = {b: round_fraction(Fraction(total) * Fraction(weights[b]) / Fraction(weight_sum)) if weight_sum
             else Decimal(0) for b in live}  # fmt: skip
    if live:
        share[max(live, key=lambda b: share[b])] += total - sum(share.values())
    base = {k: rec[k] for k in keys}
    rows = [{**base, "bucket": b, "tokens": tokens[b], "cost": share[b], "requests": int(rec["requests"])}
            for b in live]  # fmt: skip
    if not live:  # requests without tokens (failures): their cost, if any, is not per token
        rows.append({**base, "bucket": NON_TOKEN, "tokens": 0, "cost": total, "requests": int(rec["requests"])})
    return rows
