"""Outputs of an allocation: showback, chargeback CSV, coverage, hierarchy totals and the unallocated keys.

Money stays :class:`~decimal.Decimal` in every table (shares and changes are floats) and is never summed
across currencies: every table has a ``currency`` column.
"""

from __future__ import annotations

import csv
import decimal
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd

from finops_lib import facts
from finops_lib.allocation.allocator import Allocation, allocate, nulls_as_none
from finops_lib.errors import ParameterError
from finops_lib.rules.match import FIELDS, value_expr
from finops_lib.rules.model import OWNER_FIELDS, Rules
from finops_lib.rules.owners import attribute
from finops_lib.rules.resolve import resolve_rules

#: Allocation kinds, in the order tables and charts show them.
KINDS: tuple[str, ...] = ("direct", "metered", "shared", "spread", "unallocated")


#: Ownership keys proposed for mapping, most specific first (a row is credited to the first it has).
KEY_FIELDS: tuple[str, ...] = ("resource_group", "sub_account", "user", "api_key", "resource", "service")


NONE_LABEL = "(none)"


_ZERO = Decimal(0)


def _dsum(values: object) -> Decimal:
    return sum(values, _ZERO)  # type: ignore[call-overload]


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
    wide = (frame.groupby(["month", "currency", "_by", "_class"])[amount].agg(_dsum).unstack("_class")
            .reindex(columns=["direct", "shared", "unallocated"]) if len(frame) else
            pd.DataFrame(columns=["direct", "shared", "unallocated"]))  # fmt: skip
    wide = wide.map(lambda v: _ZERO if v is None or v != v else v).reset_index().rename(columns={"_by": by})
    wide.columns.name = None
    wide["total"] = [d + s + u for d, s, u in zip(wide["direct"], wide["shared"], wide["unallocated"], strict=True)]
    month_total = wide.groupby(["month", "currency"])["total"].transform(_dsum)
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


def _round_lines(values: list[Decimal], places: Decimal) -> list[Decimal]:
    """Round each value so the rounded lines add up to the rounded total (largest remainder)."""
    rounded = [v.quantize(places, decimal.ROUND_HALF_EVEN) for v in values]
    if not values:
        return rounded
    rest = _dsum(values).quantize(places, decimal.ROUND_HALF_EVEN) - _dsum(rounded)
    steps = int(rest / places)
    order = sorted(range(len(values)), key=lambda i: -abs(values[i] - rounded[i]))
    for i in order[: abs(steps)]:
        rounded[i] += places if steps > 0 else -places
    return rounded


def chargeback(allocation: Allocation, *, decimals: int | None = 2) -> pd.DataFrame:
    """Return the chargeback lines for finance: one per month, currency, business unit, cost center and team.

    Parameters
    ----------
    allocation
        A cost allocation.
    decimals
        Round amounts to this many places so that lines add up to the rounded month total (largest
        remainder); None keeps the exact amounts.

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
    grouped = frame.groupby([*keys, "_class"])[amount].agg(_dsum).unstack("_class") if len(frame) else None
    if grouped is None:
        return pd.DataFrame(columns=[*keys, "direct", "shared", "unallocated", "total"])
    out = grouped.reindex(columns=["direct", "shared", "unallocated"]).map(
        lambda v: _ZERO if v is None or v != v else v).reset_index()
    out.columns.name = None
    if decimals is not None:
        places = Decimal(1).scaleb(-decimals)
        for col in ("direct", "shared", "unallocated"):
            out[col] = out.groupby(["month", "currency"])[col].transform(lambda s: _round_lines(list(s), places))
    out["total"] = [d + s + u for d, s, u in zip(out["direct"], out["shared"], out["unallocated"], strict=True)]
    out["month"] = out["month"].dt.strftime("%Y-%m")
    return out.sort_values(["month", "currency", "business_unit", "team"]).reset_index(drop=True)


def write_chargeback(allocation: Allocation, path: str | Path, *, decimals: int | None = 2) -> Path:
    """Write :func:`chargeback` as CSV (amounts as plain decimal text) and return the path."""
    frame = chargeback(allocation, decimals=decimals)
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(frame.columns)
        for row in frame.itertuples(index=False):
            writer.writerow([format(v, "f") if isinstance(v, Decimal) else v for v in row])
    return target


def write_chargeback_csv(con: object, path: str | Path, *, rules_file: str | Path | None = "",
                         data_dir: str | Path | None = None, start_date: str | date | None = None,
                         end_date: str | date | None = None, decimals: int | None = 2) -> Path:  # fmt: skip
    """Allocate a warehouse's cost with its rules and write the chargeback CSV (for ``finops chargeback``).

    Parameters
    ----------
    con
        An open warehouse (:func:`finops_lib.warehouse.ingestion.open_data`), with ``costs`` and ``requests``.
    path
        Output CSV.
    rules_file, data_dir
        As :func:`resolve_rules` (default: the data folder's ``config/allocation_rules.yaml``).
    start_date, end_date
        Inclusive UTC days.
    decimals
        Rounding of the amounts (None: exact).

    Returns
    -------
    Path
        The CSV written.
    """
    rules = resolve_rules(rules_file, data_dir)
    tables = con.list_tables()  # type: ignore[attr-defined]
    requests = con.table("requests") if "requests" in tables else None  # type: ignore[attr-defined]
    result = allocate(con.table("costs"), rules, requests=requests, start_date=start_date,  # type: ignore[attr-defined]
                      end_date=end_date)  # fmt: skip
    return write_chargeback(result, path, decimals=decimals)


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
    wide = (both.groupby(["currency", "provider", "kind"])[amount].agg(_dsum).unstack("kind")
            .reindex(columns=list(KINDS)) if len(both) else pd.DataFrame(columns=list(KINDS)))  # fmt: skip
    wide = wide.map(lambda v: _ZERO if v is None or v != v else v).reset_index()
    wide.columns.name = None
    wide["total"] = wide[list(KINDS)].apply(lambda r: _dsum(r), axis=1) if len(wide) else []
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
    out = frame.groupby([*levels, "kind"], as_index=False)[amount].agg(_dsum)
    out["cost"] = out.pop(amount).map(float)
    return out.sort_values(["cost", *levels], ascending=[False, *[True] * len(levels)]).reset_index(drop=True)


def _unowned(costs: ir.Table, rules: Rules) -> ir.Table:
    t = attribute(facts.money_rows(costs), rules)
    spread = [i for i, s in enumerate(rules.shared) if s.applies_to == "untagged"]
    keep = t.x_Team.isnull() & (t.x_AllocationPool.isnull() | t.x_AllocationPool.isin(spread or [-1]))
    t = t.filter(keep)
    keys = {name: value_expr(t, "costs", FIELDS[name], None) for name in KEY_FIELDS}
    return t.mutate(**keys, sub_account_name=t.SubAccountName.cast("string").nullif(""))


def unallocated_keys(costs: ir.Table, rules: Rules | None = None, *, start_date: str | date | None = None,
                     end_date: str | date | None = None, top: int = 10) -> pd.DataFrame:  # fmt: skip
    """Rank the raw keys that would cover most of the unallocated cost if they were tagged or mapped.

    Each unowned row is credited to its most specific ownership key: Azure resource group, then sub-account
    (OpenAI project, Anthropic workspace, AWS account, Azure subscription, GCP project), user or IAM
    principal, API key, resource, and the service as a last resort; keys are ranked by the cost they cover,
    per currency.

    Returns
    -------
    pandas.DataFrame
        ``currency``, ``provider``, ``key`` (a match field), ``value``, ``name`` (sub-account name when known),
        ``cost`` (Decimal), ``rows``, ``share`` and ``cumulative_share`` (of the currency's unowned cost) and
        ``rule`` (a ``match`` for the rules file); at most ``top`` rows per currency, largest first.
    """
    rules = rules or Rules.default()
    t = _unowned(facts.filter_costs(costs, start_date=start_date, end_date=end_date), rules)
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
    total = _dsum(part["cost"])
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
