"""Outputs of an allocation: showback, chargeback CSV, coverage, hierarchy totals and the unallocated keys.

Money stays :class:`~decimal.Decimal` in every table (shares and changes are floats), in the allocation's one
currency (every table keeps a ``currency`` column).
"""

from __future__ import annotations

import decimal
import json
from decimal import Decimal
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd

from finops_lib.allocation.allocator import Allocation, nulls_as_none
from finops_lib.errors import ParameterError
from finops_lib.facts import Facts
from finops_lib.fx import dsum
from finops_lib.rules.match import FIELDS, value_expr
from finops_lib.rules.model import OWNER_FIELDS
from finops_lib.share import write_csv

#: Allocation kinds, in the order tables and charts show them.
KINDS: tuple[str, ...] = ("direct", "metered", "shared", "spread", "unallocated")


#: Ownership keys proposed for mapping, most specific first (a row is credited to the first it has).
KEY_FIELDS: tuple[str, ...] = ("resource_group", "sub_account", "user", "api_key", "resource", "service")


NONE_LABEL = "(none)"


_ZERO = Decimal(0)




def _label(frame: pd.DataFrame, by: str) -> pd.Series:
    if by not in OWNER_FIELDS:
        raise ParameterError(f"by must be one of {', '.join(OWNER_FIELDS)}, got {by!r}")
    return frame[by].where(frame[by].notna(), NONE_LABEL).astype(str)


def _class(kind: pd.Series) -> pd.Series:
    return kind.map({"direct": "direct", "metered": "direct", "shared": "shared", "spread": "shared",
                     "unallocated": "unallocated"})  # fmt: skip


def showback(allocation: Allocation, *, by: str = "team") -> pd.DataFrame:
    """Return the showback table: per month, currency and owner, direct, shared and total cost.

    Parameters
    ----------
    allocation
        A cost allocation (:func:`finops_lib.allocation.allocate`).
    by
        Owner level: ``team`` (default), ``business_unit``, ``application``, ``feature``, ``environment`` or
        ``cost_center``.

    Returns
    -------
    pandas.DataFrame
        ``month``, ``currency``, ``<by>``, ``direct`` (direct and metered), ``shared`` (shared pools and spread
        untagged cost), ``unallocated``, ``total`` (Decimal), ``share`` (of the month's total in the currency),
        ``change`` (total minus the previous month's, Decimal, None in the first month) and ``change_pct``
        (float, NaN without a previous month). Sorted by month, currency, total descending.
    """
    amount = allocation.amounts[0]
    frame = allocation.frame.assign(_by=lambda f: _label(f, by), _class=lambda f: _class(f["kind"]))
    wide = (frame.groupby(["month", "currency", "_by", "_class"])[amount].agg(dsum).unstack("_class")
            .reindex(columns=["direct", "shared", "unallocated"]) if len(frame) else
            pd.DataFrame(columns=["direct", "shared", "unallocated"]))  # fmt: skip
    wide = wide.map(lambda v: _ZERO if v is None or v != v else v).reset_index().rename(columns={"_by": by})
    wide.columns.name = None
    wide["total"] = [d + s + u for d, s, u in zip(wide["direct"], wide["shared"], wide["unallocated"], strict=True)]
    month_total = wide.groupby(["month", "currency"])["total"].transform(dsum)
    wide["share"] = [float(t / m) if m else float("nan") for t, m in zip(wide["total"], month_total, strict=True)]
    wide = wide.sort_values(["currency", by, "month"]).reset_index(drop=True)
    prev = wide.groupby(["currency", by])["total"].shift(1)
    prev_month = wide.groupby(["currency", by])["month"].shift(1)
    adjacent = prev_month == wide["month"] - pd.offsets.MonthBegin(1)
    wide["change"] = [t - p if ok else None for t, p, ok in zip(wide["total"], prev, adjacent, strict=True)]
    wide["change_pct"] = [float(c / p) if c is not None and p else float("nan")
                          for c, p in zip(wide["change"], prev, strict=True)]  # fmt: skip
    wide["_order"] = wide["total"].map(float)
    wide = wide.sort_values(["month", "currency", "_order", by], ascending=[True, True, False, True])
    return wide.drop(columns="_order").reset_index(drop=True)


def round_to_total(values: list[Decimal], total: Decimal, places: Decimal) -> list[Decimal]:
    """Round each value to ``places`` so the rounded values add up to ``total`` exactly (largest remainder).

    ``total`` is itself a multiple of ``places`` within ``len(values) * places`` of the values' exact sum. Each value
    moves by less than one ``places`` from its exact amount: the ones rounded the wrong way the most take the steps.

    Examples
    --------
    >>> round_to_total([Decimal("0.335"), Decimal("0.335"), Decimal("0.33")], Decimal("1.00"), Decimal("0.01"))
    [Decimal('0.33'), Decimal('0.34'), Decimal('0.33')]
    """
    rounded = [v.quantize(places, decimal.ROUND_HALF_EVEN) for v in values]
    steps = int((total - dsum(rounded)) / places)
    if not values or not steps:
        return rounded
    # a step up goes to the values rounded down the most, a step down to those rounded up the most
    order = sorted(range(len(values)), key=lambda i: (values[i] - rounded[i]) * (1 if steps > 0 else -1),
                   reverse=True)  # fmt: skip
    for i in order[: abs(steps)]:
        rounded[i] += places if steps > 0 else -places
    return rounded


def _rounded(lines: pd.DataFrame, places: Decimal) -> pd.DataFrame:
    """Round the amounts so months add up to the rounded grand total and lines add up to their month."""
    columns = ["direct", "shared", "unallocated"]
    out = lines.copy()
    months = out.groupby(["month", "currency"])[columns].agg(dsum).apply(lambda r: dsum(r), axis=1)
    grand = dsum(months).quantize(places, decimal.ROUND_HALF_EVEN)
    targets = dict(zip(months.index, round_to_total(list(months), grand, places), strict=True))
    for key, part in out.groupby(["month", "currency"]):
        cells = [v for row in part[columns].itertuples(index=False) for v in row]
        rounded = iter(round_to_total(cells, targets[key], places))
        for index in part.index:
            for column in columns:
                out.at[index, column] = next(rounded)
    return out


def chargeback(allocation: Allocation, *, decimals: int | None = 2) -> pd.DataFrame:
    """Return the chargeback lines for finance: one per month, currency, business unit, cost center and team.

    Parameters
    ----------
    allocation
        A cost allocation.
    decimals
        Round amounts to this many places (largest remainder) so that the months add up to the rounded grand
        total, the lines of a month to that month's total (within one place of its exact total) and each line's
        parts to its total; None keeps the exact amounts.

    Returns
    -------
    pandas.DataFrame
        ``month`` (``YYYY-MM``), ``currency``, ``business_unit``, ``cost_center``, ``team``, ``direct``,
        ``shared``, ``unallocated``, ``total`` (Decimal).
    """
    amount = allocation.amounts[0]
    keys = ["month", "currency", "business_unit", "cost_center", "team"]
    frame = allocation.frame.assign(_class=lambda f: _class(f["kind"]))
    for key in ("business_unit", "cost_center"):
        frame[key] = frame[key].where(frame[key].notna(), "")
    grouped = frame.groupby([*keys, "_class"])[amount].agg(dsum).unstack("_class") if len(frame) else None
    if grouped is None:
        return pd.DataFrame(columns=[*keys, "direct", "shared", "unallocated", "total"])
    out = grouped.reindex(columns=["direct", "shared", "unallocated"]).map(
        lambda v: _ZERO if v is None or v != v else v).reset_index()
    out.columns.name = None
    if decimals is not None:
        out = _rounded(out, Decimal(1).scaleb(-decimals))
    out["total"] = [d + s + u for d, s, u in zip(out["direct"], out["shared"], out["unallocated"], strict=True)]
    out["month"] = out["month"].dt.strftime("%Y-%m")
    return out.sort_values(["month", "currency", "business_unit", "team"]).reset_index(drop=True)


def write_chargeback(allocation: Allocation, path: str | Path, *, decimals: int | None = 2,
                     neutralise_text: bool = True) -> Path:  # fmt: skip
    """Write :func:`chargeback` as CSV (amounts as plain decimal text, owner names spreadsheet-safe); return the path.

    Finance opens this file in a spreadsheet: an owner named ``=HYPERLINK(...)`` is written as text
    (:func:`finops_lib.share.write_csv`); ``neutralise_text=False`` writes names as they are (for programs).
    """
    return write_csv(chargeback(allocation, decimals=decimals), path, neutralise_text=neutralise_text)


def coverage(allocation: Allocation) -> pd.DataFrame:
    """Return allocation coverage per provider and currency, plus an ``All providers`` row per currency.

    Returns
    -------
    pandas.DataFrame
        ``currency``, ``provider``, ``total`` and one Decimal column per kind (:data:`KINDS`), then
        ``direct_share`` (direct and metered over total) and ``coverage`` (direct, metered and declared shared
        pools over total: the cost the row's own keys attribute, as opposed to untagged cost spread by a
        fallback strategy or left unallocated). Floats; NaN when the total is 0.
    """
    amount = allocation.amounts[0]
    frame = allocation.frame
    parts = [frame, frame.assign(provider="All providers")] if len(frame) else [frame]
    both = pd.concat(parts, ignore_index=True)
    wide = (both.groupby(["currency", "provider", "kind"])[amount].agg(dsum).unstack("kind")
            .reindex(columns=list(KINDS)) if len(both) else pd.DataFrame(columns=list(KINDS)))  # fmt: skip
    wide = wide.map(lambda v: _ZERO if v is None or v != v else v).reset_index()
    wide.columns.name = None
    wide["total"] = wide[list(KINDS)].apply(lambda r: dsum(r), axis=1) if len(wide) else []
    direct = wide["direct"] + wide["metered"] if len(wide) else []
    covered = direct + wide["shared"] if len(wide) else []
    wide["direct_share"] = [float(d / t) if t else float("nan") for d, t in zip(direct, wide["total"], strict=True)]
    wide["coverage"] = [float(c / t) if t else float("nan") for c, t in zip(covered, wide["total"], strict=True)]
    wide["_all"] = wide["provider"] == "All providers"
    wide = wide.sort_values(["currency", "_all", "provider"]).drop(columns="_all").reset_index(drop=True)
    return wide[["currency", "provider", "total", *KINDS, "direct_share", "coverage"]]


#: Levels the hierarchy chart shows for each showback dimension: bars (two levels) and the stack below them.
HIERARCHY_LEVELS: dict[str, tuple[str, str, str]] = {
    "business_unit": ("business_unit", "team", "application"),
    "team": ("business_unit", "team", "application"),
    "application": ("team", "application", "feature"),
    "feature": ("application", "feature", "environment"),
    "environment": ("environment", "team", "application"),
    "cost_center": ("business_unit", "cost_center", "team"),
}


def hierarchy_levels(dimension: str) -> tuple[str, str, str]:
    """Return the hierarchy levels drawn for a showback ``dimension`` (see :data:`HIERARCHY_LEVELS`).

    Raises
    ------
    ParameterError
        On an unknown dimension.
    """
    if dimension not in HIERARCHY_LEVELS:
        raise ParameterError(f"dimension must be one of {', '.join(HIERARCHY_LEVELS)}, got {dimension!r}")
    return HIERARCHY_LEVELS[dimension]


def hierarchy(allocation: Allocation, *, levels: tuple[str, ...] = ("business_unit", "team", "application"),
              currency: str = "USD") -> pd.DataFrame:  # fmt: skip
    """Return total cost per owner path (``levels``) and kind class in one currency, for charts.

    Returns
    -------
    pandas.DataFrame
        The ``levels`` columns (missing values as ``(none)``), ``kind`` (``direct``, ``shared`` or
        ``unallocated``) and ``cost`` (float), largest first.
    """
    amount = allocation.amounts[0]
    frame = allocation.frame[allocation.frame["currency"] == currency]
    frame = frame.assign(**{lv: _label(frame, lv) for lv in levels}, kind=_class(frame["kind"]))
    out = frame.groupby([*levels, "kind"], as_index=False)[amount].agg(dsum)
    out["cost"] = out.pop(amount).map(float)
    return out.sort_values(["cost", *levels], ascending=[False, *[True] * len(levels)]).reset_index(drop=True)


def _unowned(facts: Facts) -> ir.Table:
    t = facts.money_rows()
    spread = [i for i, s in enumerate(facts.rules.shared) if s.applies_to == "untagged"]
    keep = t.x_Team.isnull() & (t.x_AllocationPool.isnull() | t.x_AllocationPool.isin(spread or [-1]))
    t = t.filter(keep)
    keys = {name: value_expr(t, "costs", FIELDS[name], None) for name in KEY_FIELDS}
    return t.mutate(**keys, sub_account_name=t.SubAccountName.cast("string").nullif(""))


def unallocated_keys(facts: Facts, *, top: int = 10) -> pd.DataFrame:
    """Rank the raw keys that would cover most of the unallocated cost if they were tagged or mapped.

    Each unowned money row (no owner under the facts' rules) is credited to its most specific ownership key: Azure
    resource group, then sub-account (OpenAI project, Anthropic workspace, AWS account, Azure subscription, GCP
    project), user or IAM principal, API key, resource, and the service as a last resort; keys are ranked by the
    cost they cover.

    Returns
    -------
    pandas.DataFrame
        ``currency``, ``provider``, ``key`` (a match field), ``value``, ``name`` (sub-account name when known),
        ``cost`` (Decimal), ``rows``, ``share`` and ``cumulative_share`` (of the unowned cost) and ``rule`` (a
        ``match`` for the rules file); at most ``top`` rows, largest first.
    """
    t = _unowned(facts)
    key = ibis.cases(*[(t[name].notnull(), name) for name in KEY_FIELDS], else_=ibis.null("string"))
    value = ibis.coalesce(*[t[name] for name in KEY_FIELDS])
    t = t.mutate(key=key, value=value)
    agg = (t.group_by(["BillingCurrency", "ProviderName", "key", "value"])
           .aggregate(cost=t.BilledCost.sum(), rows=t.count(), name=t.sub_account_name.max()).to_pandas())
    agg = nulls_as_none(agg.rename(columns={"BillingCurrency": "currency", "ProviderName": "provider"}))
    out = [row for _, part in agg.groupby("currency") for row in _rank(part, top)]
    columns = ["currency", "provider", "key", "value", "name", "cost", "rows", "share", "cumulative_share", "rule"]
    return pd.DataFrame(out, columns=columns)


def _rank(part: pd.DataFrame, top: int) -> list[dict]:
    total = dsum(part["cost"])
    part = part.assign(_order=part["cost"].map(float)).sort_values(["_order", "provider", "value"],
                                                                     ascending=[False, True, True])  # fmt: skip
    out, done = [], _ZERO
    for row in part.head(top).to_dict("records"):
        done += row["cost"]
        match = f"{{provider: {row['provider']}, {row['key']}: {json.dumps(row['value'])}}}" if row["key"] else ""
        out.append({
            "currency": row["currency"], "provider": row["provider"], "key": row["key"] or "(no key)",
            "value": row["value"] or "", "name": (row["name"] or "") if row["key"] == "sub_account" else "",
            "cost": row["cost"], "rows": int(row["rows"]), "share": float(row["cost"] / total) if total else 0.0,
            "cumulative_share": float(done / total) if total else 0.0, "rule": match,
        })  # fmt: skip
    return out
