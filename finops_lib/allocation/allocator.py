"""Allocate cost or tokens to owners: ownership from the rules, then shared pools split exactly.

The facts (:class:`finops_lib.facts.Facts`) already carry each row's owners (the rules' first matching ownership
rule, or the row's tags) and its shared pool, in one currency. :func:`allocate` takes their money rows (invoiced
first per provider and day, never the same spend twice) or their token rows per period, provider, model, bucket
and owner, and splits each shared pool cell by its strategy's weights in Python with :class:`~decimal.Decimal`
amounts. Each split gives its rounding remainder (at 12 decimal places) to its largest part, so allocated totals
equal input totals exactly, per period.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from finops_lib.errors import ParameterError
from finops_lib.facts import Facts
from finops_lib.rules.match import FIELDS, compile_conditions
from finops_lib.rules.model import OWNER_FIELDS, Rules, SharedRule
from finops_lib.rules.owners import OWNER_COLUMNS
from finops_lib.rules.strategies import LEVELS, OWNER_KEYS, STRATEGIES
from finops_lib.schema import REQUEST_TOKEN_COLUMNS

__all__ = ["MEASURES", "SPLIT_STRATEGIES", "UNALLOCATED", "Allocation", "allocate", "conservation"]

UNALLOCATED = "(unallocated)"
#: Values of the ``split_strategy`` parameter: ``rules`` keeps each pool's own strategy; the others need no option.
SPLIT_STRATEGIES: tuple[str, ...] = ("rules", "even", "proportional", "metric")
Measure = Literal["cost", "tokens"]
Period = Literal["month", "week", "day"]
#: Amount columns of each measure: facts measures (:data:`finops_lib.facts.MEASURES`); the first drives
#: ``basis: same``.
MEASURES: dict[str, tuple[str, ...]] = {
    "cost": ("cost", "list_cost", "effective_cost"),
    "charges": ("charges",),
    "tokens": ("tokens", "requests"),
}
_PERIOD_UNITS = {"month": "M", "week": "W", "day": "D"}
_KEYS = ["provider", "model", "token_type", "service_tier", *OWNER_FIELDS, "allocation_rule", "allocation_pool"]
_CELL = ["period", "month", "currency", "provider", "model", "token_type", "service_tier"]
_MONEY = decimal.Context(prec=60)
_PLACES = Decimal("1e-12")


@dataclass(frozen=True)
class Allocation:
    """The result of :func:`allocate`.

    Attributes
    ----------
    frame
        One row per period, currency, provider, model, token bucket, tier and owner: ``period``, ``month``
        (first days, Timestamps), ``currency``, ``provider``, ``model``, ``token_type``, ``service_tier``,
        ``business_unit``, ``team`` (``(unallocated)`` when nobody owns it), ``application``, ``feature``,
        ``environment``, ``cost_center``, ``kind`` (``direct``, ``metered``, ``shared``, ``spread``,
        ``unallocated``), ``applies_to`` (the pool's class, '' for direct rows), ``rule`` (ownership rule,
        ``tags`` or the pool's name), ``share`` (float: the owner's part of the pool, 1.0 for direct rows) and the
        measure's amount columns (:data:`MEASURES`, :class:`~decimal.Decimal`).
    inputs
        Input totals per ``month`` and ``currency`` (Decimal), for :func:`conservation`.
    currency
        The currency of every amount (the facts' currency).
    measure, period
        As passed to :func:`allocate`.
    rules
        The rules applied.
    """

    frame: pd.DataFrame
    inputs: pd.DataFrame
    measure: str
    period: str
    rules: Rules = field(repr=False)
    currency: str = "USD"

    @property
    def amounts(self) -> list[str]:
        """The amount columns of the measure."""
        return list(MEASURES[self.measure])


class _Context:
    """Usage bases for the strategies, from the facts; the request log is summed per owner once per allocation."""

    def __init__(self, facts: Facts, period: str, measure: str) -> None:
        # Who uses a pool does not depend on the currency its usage was billed in: with ``convert=False`` the
        # allocation keeps only the rows billed in the currency, but the bases see every row, converted.
        self.facts = facts if facts.options.convert else facts.with_options(convert=True)
        self.rules, self.period, self.measure = facts.rules, period, measure
        self.months: list[pd.Timestamp] = []
        self._request_sums: ir.Table | None = None
        self.basis = cache(self._basis)  # type: ignore[method-assign]

    def _basis(self, *, source: str, basis: str, match: tuple, level: str, window: bool) -> pd.DataFrame:
        owners = [OWNER_COLUMNS[name] for name in LEVELS[level]]
        if source == "requests":
            table = self._requests()
            table = table.filter(table.x_Team.notnull() & compile_conditions(table, source, match))
            keys = ([] if window else ["period"]) + (["currency"] if basis == "cost" else []) + owners
            out = table.group_by(keys).aggregate(value=table[f"_{basis}"].sum().cast("float64")).to_pandas()
        else:
            out = self._costs_basis(basis, match, list(LEVELS[level]), window=window)
        out = out.rename(columns={v: k for k, v in OWNER_COLUMNS.items()})
        if "period" in out.columns:
            out["period"] = _naive(out["period"])
        return nulls_as_none(out.dropna(subset=["value"]))

    def _costs_basis(self, basis: str, match: tuple, owners: list[str], *, window: bool) -> pd.DataFrame:
        """Sum a measure of the rows outside every pool per (period and) owner."""
        time = [] if window else [self.period]
        by = list(dict.fromkeys([*time, *owners, "team", "allocation_pool"]))
        agg = self.facts.aggregate(basis, by=by, labels=False, match=match)
        agg = agg[agg["allocation_pool"].isna() & agg["team"].notna()]
        keys = [*time, *owners]
        out = agg.groupby(keys, dropna=False, as_index=False)[basis].agg(lambda s: float(sum(s)))
        out = out.rename(columns={basis: "value", **({self.period: "period"} if time else {})})
        if basis == "cost":
            out["currency"] = self.facts.currency
        return out.rename(columns={k: OWNER_COLUMNS[k] for k in owners})

    def _requests(self) -> ir.Table:
        """Attributed requests summed per period, owner and the columns basis conditions read (once)."""
        if not self.facts.has_requests:
            raise ParameterError("a split uses source: requests, but the warehouse has no request logs")
        if self._request_sums is None:
            t = self.facts.request_rows()
            tokens = sum((t[c].fill_null(0) for c in REQUEST_TOKEN_COLUMNS.values()), ibis.literal(0))
            t = t.mutate(period=t.ChargePeriodStart.truncate(_PERIOD_UNITS[self.period]),
                         _c=ibis.coalesce(t.x_ReportedCost, t.x_EstimatedCost), _t=tokens,
                         _r=(t.x_Status == "success").cast("int64"))  # fmt: skip
            used = {FIELDS[c.field].columns.get("requests") for s in self.rules.shared
                    for c in s.options.get("basis_match", ())} - {None}  # fmt: skip
            keys = ["period", "BillingCurrency", *(OWNER_COLUMNS[k] for k in OWNER_KEYS), *sorted(used)]
            agg = t.group_by(list(dict.fromkeys(keys))).aggregate(_cost=t._c.sum().cast("float64"),
                                                                  _tokens=t._t.sum().cast("float64"),
                                                                  _requests=t._r.sum().cast("float64"))  # fmt: skip
            frame = agg.to_pandas().rename(columns={"BillingCurrency": "currency"})
            self._request_sums = ibis.memtable(frame)
        return self._request_sums

    def metric(self, name: str, *, window: bool) -> pd.DataFrame:
        frame = self.rules.metrics[name].frame
        frame = frame[frame["month"].isin(self.months)]
        if window:
            return frame.groupby("team", as_index=False)["value"].sum()
        return frame


def _naive(values: pd.Series) -> pd.Series:
    out = pd.to_datetime(values)
    return out.dt.tz_convert(None) if out.dt.tz is not None else out


def nulls_as_none(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with missing strings as None (object columns), so equality tests behave."""
    out = frame.copy()
    for col in out.columns:
        if col not in ("period", "month", "value", "weight") and not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def _aggregate(facts: Facts, measure: str, period: str) -> pd.DataFrame:
    """Sum the measure's amounts per period, month, provider, model, bucket, tier, owner, rule and pool."""
    time = [period, *(["month"] if period != "month" else [])]
    agg = facts.aggregate(list(MEASURES[measure]), by=[*time, *_KEYS], labels=False)
    agg = agg.rename(columns={period: "period", "allocation_rule": "rule", "allocation_pool": "pool"})
    if period == "month":
        agg["month"] = agg["period"]
    agg.insert(2, "currency", facts.currency)
    for name in MEASURES[measure]:
        agg[name] = [v if isinstance(v, Decimal) else Decimal(int(v)) for v in agg[name]]
    return nulls_as_none(agg)


def _parts(amount: Decimal, shares: list[float]) -> list[Decimal]:
    """Split ``amount`` by ``shares`` (summing to 1) at 12 places; the remainder goes to the largest part."""
    parts = [_MONEY.multiply(amount, Decimal(s)).quantize(_PLACES, decimal.ROUND_HALF_EVEN, _MONEY) for s in shares]
    rest = _MONEY.subtract(amount, sum(parts, Decimal(0)))
    largest = max(range(len(parts)), key=lambda i: (abs(shares[i]), -i))
    parts[largest] = _MONEY.add(parts[largest], rest)
    return parts


def _weights(rule: SharedRule, ctx: _Context) -> tuple[list[str], dict[tuple, tuple[list[float], list[dict]]]]:
    """Return (key columns, per key: the recipients' normalized weights and the recipients) of a shared rule."""
    frame = STRATEGIES[rule.strategy].fn(rule, ctx)
    among = rule.options.get("among")
    if among:
        frame = frame[frame["team"].isin(among)]
    frame = nulls_as_none(frame[frame["team"].notna() & (frame["weight"] > 0)])
    keys = [k for k in ("period", "month", "currency") if k in frame.columns]
    owners = list(OWNER_KEYS)
    summed = frame.groupby([*keys, *owners], dropna=False, as_index=False)["weight"].sum()
    if keys:
        summed["weight"] = summed["weight"] / summed.groupby(keys, dropna=False)["weight"].transform("sum")
    else:
        summed["weight"] = summed["weight"] / summed["weight"].sum()
    for col in owners:  # all-null owner columns come back as float NaN from groupby
        summed[col] = summed[col].astype(object).where(summed[col].notna(), None)
    out = {}
    for key, group in (summed.groupby(keys, dropna=False, sort=False) if keys else [((), summed)]):
        grouped = group[[*owners, "weight"]].sort_values(["weight", "team"], ascending=[False, True])
        out[key if isinstance(key, tuple) else (key,)] = (grouped["weight"].tolist(), grouped.to_dict("records"))
    return keys, out


def _split_pool(cells: pd.DataFrame, rule: SharedRule, ctx: _Context, amounts: list[str]) -> list[dict]:
    keys, weights = _weights(rule, ctx)
    teams = ctx.rules.teams
    out: list[dict] = []
    for cell in cells.to_dict("records"):
        base = {k: cell[k] for k in _CELL} | {"applies_to": rule.applies_to, "rule": rule.name}
        shares, records = weights.get(tuple(cell[k] for k in keys), ([], []))
        if not shares:
            kind = "direct" if cell["team"] else "unallocated"
            owner = {k: cell[k] for k in OWNER_FIELDS}
            out.append(base | owner | {"kind": kind, "rule": f"{rule.name} (no basis)", "share": 1.0,
                                       **{a: cell[a] for a in amounts}})  # fmt: skip
            continue
        parts = {a: _parts(cell[a], shares) for a in amounts}
        for i, recipient in enumerate(records):
            team = recipient["team"]
            info = teams.get(team, {})
            owner = {
                "business_unit": recipient["business_unit"] or info.get("business_unit"),
                "team": team,
                "application": recipient["application"] or cell["application"] or rule.label or rule.name,
                "feature": recipient["feature"] or cell["feature"],
                "environment": recipient["environment"] or cell["environment"],
                "cost_center": info.get("cost_center"),
            }
            out.append(base | owner | {"kind": rule.kind, "share": float(recipient["weight"]),
                                       **{a: parts[a][i] for a in amounts}})  # fmt: skip
    return out


def allocate(facts: Facts, *, period: Period = "month", measure: Measure = "cost") -> Allocation:
    """Allocate cost (or tokens) to owners: direct by rules and tags, shared pools by their strategies.

    Parameters
    ----------
    facts
        The facts: window, currency, filters and the rules (:meth:`finops_lib.rules.Rules.with_strategy` to split
        every pool one way).
    period
        Allocation period: ``month`` (default), ``week`` or ``day``. Pools are split per period.
    measure
        ``cost`` (money rows: cost, list cost, effective cost) or ``tokens`` (token rows: tokens and requests).

    Returns
    -------
    Allocation

    Raises
    ------
    ParameterError
        On an unknown period or measure, or a split on request logs the warehouse does not have.
    """
    if period not in _PERIOD_UNITS:
        raise ParameterError(f"period must be one of {', '.join(_PERIOD_UNITS)}, got {period!r}")
    if measure not in MEASURES:
        raise ParameterError(f"measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    rules = facts.rules
    ctx = _Context(facts, period, measure)
    amounts = list(MEASURES[measure])
    with facts.pinned():
        agg = _aggregate(facts, measure, period)
        ctx.months = sorted(agg["month"].unique())
        split = [row for index, cells in agg[agg["pool"].notna()].groupby("pool")
                 for row in _split_pool(cells, rules.shared[int(index)], ctx, amounts)]  # fmt: skip
    direct = agg[agg["pool"].isna()].copy()
    direct["kind"] = ["direct" if team else "unallocated" for team in direct["team"]]
    direct = direct.assign(applies_to="", share=1.0)
    frame = pd.concat([direct.drop(columns="pool"), pd.DataFrame(split)], ignore_index=True)
    frame = frame if len(frame.columns) else pd.DataFrame(columns=_RESULT_COLUMNS + amounts)
    frame["team"] = frame["team"].where(frame["team"].notna(), UNALLOCATED)
    frame = frame[_RESULT_COLUMNS + amounts].sort_values(["period", "currency", "provider", "team"], kind="stable")
    inputs = (agg.groupby(["month", "currency"], as_index=False)[amounts]
              .agg(lambda s: sum(s, Decimal(0))) if len(agg) else pd.DataFrame(columns=["month", "currency", *amounts]))
    return Allocation(nulls_as_none(frame).reset_index(drop=True), inputs, measure, period, rules, facts.currency)


_RESULT_COLUMNS = [*_CELL, *OWNER_FIELDS, "kind", "applies_to", "rule", "share"]


def conservation(allocation: Allocation) -> pd.DataFrame:
    """Compare allocated and input totals per month and currency.

    Returns
    -------
    pandas.DataFrame
        ``month``, ``currency``, ``amount`` (measure column), ``input``, ``allocated`` (Decimal),
        ``difference`` (Decimal) and ``relative_error`` (float; 0 when both are 0).
    """
    rows = []
    frame = allocation.frame
    for amount in allocation.amounts:
        totals = (frame.groupby(["month", "currency"])[amount].agg(lambda s: sum(s, Decimal(0)))
                  if len(frame) else pd.Series(dtype=object))  # fmt: skip
        for rec in allocation.inputs.to_dict("records"):
            got = totals.get((rec["month"], rec["currency"]), Decimal(0))
            diff = got - rec[amount]
            scale = max(abs(rec[amount]), abs(got))
            rows.append((rec["month"], rec["currency"], amount, rec[amount], got, diff,
                         float(abs(diff) / scale) if scale else 0.0))  # fmt: skip
    return pd.DataFrame(rows, columns=["month", "currency", "amount", "input", "allocated", "difference",
                                       "relative_error"])  # fmt: skip
