"""Allocate cost or tokens: rules applied in the engine, then shared pools split exactly.

Two steps:

1. :func:`~finops_lib.rules.owners.attribute` adds owner columns to the rows with one ``CASE`` per
   owner field (first matching rule wins); it is an ibis expression, so it runs in the engine on any number
   of rows.
2. :func:`allocate` takes the money rows (``facts.money_rows``: invoiced first per provider and day,
   never the same spend twice) or the token rows, aggregates them per period, currency, provider, model,
   bucket and owner in the engine, and splits each shared pool cell by its strategy's weights in Python
   with :class:`~decimal.Decimal` amounts. Each split gives its rounding remainder (at 12 decimal places)
   to its largest part, so allocated totals equal input totals exactly, per period and currency.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from finops_lib import facts
from finops_lib.errors import ParameterError
from finops_lib.rules.match import FIELDS, compile_conditions
from finops_lib.rules.model import OWNER_FIELDS, Rules, SharedRule
from finops_lib.rules.owners import OWNER_COLUMNS, attribute
from finops_lib.rules.strategies import LEVELS, OWNER_KEYS, STRATEGIES
from finops_lib.schema import REQUEST_TOKEN_COLUMNS

__all__ = ["MEASURES", "SPLIT_STRATEGIES", "UNALLOCATED", "Allocation", "allocate", "conservation"]

UNALLOCATED = "(unallocated)"
#: Values of the ``split_strategy`` parameter: ``rules`` keeps each pool's own strategy; the others need no option.
SPLIT_STRATEGIES: tuple[str, ...] = ("rules", "even", "proportional", "metric")
Measure = Literal["cost", "tokens"]
Period = Literal["month", "week", "day"]
#: Amount columns of each measure -> the ``costs`` column summed (the first one drives ``basis: same``).
MEASURES: dict[str, dict[str, str]] = {
    "cost": {"cost": "BilledCost", "list_cost": "ListCost", "effective_cost": "EffectiveCost"},
    "tokens": {"tokens": "ConsumedQuantity", "requests": "x_RequestCount"},
}
_PERIOD_UNITS = {"month": "M", "week": "W", "day": "D"}
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

    @property
    def amounts(self) -> list[str]:
        """The amount columns of the measure."""
        return list(MEASURES[self.measure])


class _Context:
    """Usage bases for the strategies: attributed rows are materialized once (``Table.cache``), bases per call.

    Call :meth:`release` when done: it drops the engine's temporary tables.
    """

    def __init__(self, costs: ir.Table, requests: ir.Table | None, rules: Rules, unit: str, measure: str) -> None:
        self.costs, self.requests, self.rules, self.unit, self.measure = costs, requests, rules, unit, measure
        self.months: list[pd.Timestamp] = []
        self._tables: dict[str, ir.Table] = {}
        self.basis = cache(self._basis)  # type: ignore[method-assign]

    def attributed(self, rows: Literal["money", "tokens"]) -> ir.Table:
        """Money or token rows of ``costs`` with owner columns, materialized once."""
        if rows not in self._tables:
            base = facts.money_rows(self.costs) if rows == "money" else facts.token_rows(self.costs)
            self._tables[rows] = attribute(base, self.rules).cache()
        return self._tables[rows]

    def release(self) -> None:
        """Drop the temporary tables."""
        for table in self._tables.values():
            _release(table)
        self._tables.clear()

    def _basis(self, *, source: str, basis: str, match: tuple, level: str, window: bool) -> pd.DataFrame:
        if source == "requests":
            table = self._requests()
        else:
            table = self.attributed("money" if basis == "cost" else "tokens")
            table = table.filter(table.x_AllocationPool.isnull()).mutate(
                _cost=table.BilledCost, _tokens=table.ConsumedQuantity, _requests=table.x_RequestCount,
                period=table.ChargePeriodStart.truncate(self.unit))  # fmt: skip
        table = table.filter(table.x_Team.notnull() & compile_conditions(table, source, match))
        value = {"cost": "_cost", "tokens": "_tokens", "requests": "_requests"}[basis]
        keys = ([] if window else ["period"]) + (["BillingCurrency"] if basis == "cost" else [])
        keys += [OWNER_COLUMNS[name] for name in LEVELS[level]]
        out = table.group_by(keys).aggregate(value=table[value].sum().cast("float64")).to_pandas()
        out = out.rename(columns={"BillingCurrency": "currency", **{v: k for k, v in OWNER_COLUMNS.items()}})
        if "period" in out.columns:
            out["period"] = _naive(out["period"])
        return nulls_as_none(out.dropna(subset=["value"]))

    def _requests(self) -> ir.Table:
        """Attributed requests summed per period, owner and the columns basis conditions read (cached)."""
        if self.requests is None:
            raise ParameterError("a split uses source: requests, but no requests table was given")
        if "requests" not in self._tables:
            t = attribute(self.requests, self.rules, table_name="requests", pools=False)
            tokens = sum((t[c].fill_null(0) for c in REQUEST_TOKEN_COLUMNS.values()), ibis.literal(0))
            t = t.mutate(period=t.ChargePeriodStart.truncate(self.unit), _c=ibis.coalesce(t.x_ReportedCost,
                         t.x_EstimatedCost), _t=tokens, _r=(t.x_Status == "success").cast("int64"))  # fmt: skip
            used = {FIELDS[c.field].columns.get("requests") for s in self.rules.shared
                    for c in s.options.get("basis_match", ())} - {None}  # fmt: skip
            keys = ["period", "BillingCurrency", *(OWNER_COLUMNS[k] for k in OWNER_KEYS), *sorted(used)]
            agg = t.group_by(list(dict.fromkeys(keys))).aggregate(_cost=t._c.sum(), _tokens=t._t.sum(),
                                                                  _requests=t._r.sum())  # fmt: skip
            self._tables["requests"] = agg.cache()
        return self._tables["requests"]

    def metric(self, name: str, *, window: bool) -> pd.DataFrame:
        frame = self.rules.metrics[name].frame
        frame = frame[frame["month"].isin(self.months)]
        if window:
            return frame.groupby("team", as_index=False)["value"].sum()
        return frame


def _release(table: ir.Table) -> None:
    """Drop a cached table; ibis 12 with sqlglot 30 renders ``DROP TABLE`` without the name, so fall back to SQL."""
    name = table.get_name()
    try:
        table.release()
    except Exception:  # the failed release already forgot the table: drop it by name
        qualified = ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))
        table.get_backend().raw_sql(f"DROP TABLE IF EXISTS {qualified}")


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


def _rows(t: ir.Table, measure: str, unit: str) -> ir.Table:
    amounts = {}
    for name, column in MEASURES[measure].items():
        value = t[column].cast("decimal(38, 12)")
        if name in ("list_cost", "effective_cost"):
            value = value.fill_null(t.BilledCost)
        amounts[name] = value.fill_null(0)
    return t.mutate(period=t.ChargePeriodStart.truncate(unit), month=t.ChargePeriodStart.truncate("M"), **amounts)


def _aggregate(t: ir.Table, measure: str) -> pd.DataFrame:
    keys = ["period", "month", "BillingCurrency", "ProviderName", "x_Model", "x_TokenType", "x_ServiceTier",
            *OWNER_COLUMNS.values(), "x_AllocationRule", "x_AllocationPool"]  # fmt: skip
    agg = t.group_by(keys).aggregate(**{name: t[name].sum() for name in MEASURES[measure]}).to_pandas()
    agg = agg.rename(columns={"BillingCurrency": "currency", "ProviderName": "provider", "x_Model": "model",
                              "x_TokenType": "token_type", "x_ServiceTier": "service_tier", "x_AllocationRule": "rule",
                              "x_AllocationPool": "pool", **{v: k for k, v in OWNER_COLUMNS.items()}})  # fmt: skip
    for col in ("period", "month"):
        agg[col] = _naive(agg[col])
    for name in MEASURES[measure]:
        agg[name] = [Decimal(0) if v is None or v != v else Decimal(v) for v in agg[name]]
    return nulls_as_none(agg)


def _parts(amount: Decimal, shares: list[float]) -> list[Decimal]:
    """Split ``amount`` by ``shares`` (summing to 1) at 12 places; the remainder goes to the largest part."""
    parts = [_MONEY.multiply(amount, Decimal(s)).quantize(_PLACES, decimal.ROUND_HALF_EVEN, _MONEY) for s in shares]
    rest = _MONEY.subtract(amount, sum(parts, Decimal(0)))
    largest = max(range(len(parts)), key=lambda i: (abs(shares[i]), -i))
    parts[largest] = _MONEY.add(parts[largest], rest)
    return parts


def _weights(rule: SharedRule, ctx: _Context) -> tuple[list[str], dict[tuple, pd.DataFrame]]:
    """Return (key columns, normalized weights per key) of a shared rule."""
    frame = STRATEGIES[rule.strategy].fn(rule, ctx)
    among = rule.options.get("among")
    if among:
        frame = frame[frame["team"].isin(among)]
    frame = nulls_as_none(frame[frame["team"].notna() & (frame["weight"] > 0)])
    keys = [k for k in ("period", "month", "currency") if k in frame.columns]
    out = {}
    for key, group in (frame.groupby(keys, dropna=False) if keys else [((), frame)]):
        grouped = group.groupby(list(OWNER_KEYS), dropna=False, as_index=False)["weight"].sum()
        grouped = grouped.sort_values(["weight", "team"], ascending=[False, True]).reset_index(drop=True)
        grouped["weight"] = grouped["weight"] / grouped["weight"].sum()
        for col in OWNER_KEYS:  # all-null owner columns come back as float NaN from groupby
            grouped[col] = grouped[col].astype(object).where(grouped[col].notna(), None)
        out[key if isinstance(key, tuple) else (key,)] = grouped
    return keys, out


def _split_pool(cells: pd.DataFrame, rule: SharedRule, ctx: _Context, amounts: list[str]) -> list[dict]:
    keys, weights = _weights(rule, ctx)
    teams = ctx.rules.teams
    out = []
    for cell in cells.to_dict("records"):
        base = {k: cell[k] for k in _CELL} | {"applies_to": rule.applies_to, "rule": rule.name}
        w = weights.get(tuple(cell[k] for k in keys))
        if w is None or w.empty:
            kind = "direct" if cell["team"] else "unallocated"
            owner = {k: cell[k] for k in OWNER_FIELDS}
            out.append(base | owner | {"kind": kind, "rule": f"{rule.name} (no basis)", "share": 1.0,
                                       **{a: cell[a] for a in amounts}})  # fmt: skip
            continue
        parts = {a: _parts(cell[a], w["weight"].tolist()) for a in amounts}
        for i, recipient in enumerate(w.to_dict("records")):
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


def allocate(costs: ir.Table, rules: Rules | None = None, *, requests: ir.Table | None = None,
             start_date: str | date | None = None, end_date: str | date | None = None, period: Period = "month",
             measure: Measure = "cost") -> Allocation:  # fmt: skip
    """Allocate cost (or tokens) to owners: direct by rules and tags, shared pools by their strategies.

    Parameters
    ----------
    costs
        The ``costs`` table.
    rules
        The rules; default :meth:`Rules.default` (tags only).
    requests
        The ``requests`` table, for splits measured on gateway requests (``source: requests``).
    start_date, end_date
        Inclusive UTC days; None means unbounded.
    period
        Allocation period: ``month`` (default), ``week`` or ``day``. Pools are split per period.
    measure
        ``cost`` (money rows: BilledCost, ListCost, EffectiveCost) or ``tokens`` (token rows: ConsumedQuantity
        and x_RequestCount).

    Returns
    -------
    Allocation

    Raises
    ------
    ParameterError
        On an unknown period or measure, or a split needing a table that was not given.
    """
    if period not in _PERIOD_UNITS:
        raise ParameterError(f"period must be one of {', '.join(_PERIOD_UNITS)}, got {period!r}")
    if measure not in MEASURES:
        raise ParameterError(f"measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    rules = rules or Rules.default()
    window = facts.filter_costs(costs, start_date=start_date, end_date=end_date)
    reqs = facts.filter_costs(requests, start_date=start_date, end_date=end_date) if requests is not None else None
    unit = _PERIOD_UNITS[period]
    ctx = _Context(window, reqs, rules, unit, measure)
    try:
        rows = ctx.attributed("money" if measure == "cost" else "tokens")
        agg = _aggregate(_rows(rows, measure, unit), measure)
        ctx.months = sorted(agg["month"].unique())
        amounts = list(MEASURES[measure])
        split = [row for index, cells in agg[agg["pool"].notna()].groupby("pool")
                 for row in _split_pool(cells, rules.shared[int(index)], ctx, amounts)]  # fmt: skip
    finally:
        ctx.release()
    direct = agg[agg["pool"].isna()].copy()
    direct["kind"] = ["direct" if team else "unallocated" for team in direct["team"]]
    direct = direct.assign(applies_to="", share=1.0)
    frame = pd.concat([direct.drop(columns="pool"), pd.DataFrame(split)], ignore_index=True)
    frame = frame if len(frame.columns) else pd.DataFrame(columns=_RESULT_COLUMNS + amounts)
    frame["team"] = frame["team"].where(frame["team"].notna(), UNALLOCATED)
    frame = frame[_RESULT_COLUMNS + amounts].sort_values(["period", "currency", "provider", "team"], kind="stable")
    inputs = (agg.groupby(["month", "currency"], as_index=False)[amounts]
              .agg(lambda s: sum(s, Decimal(0))) if len(agg) else pd.DataFrame(columns=["month", "currency", *amounts]))
    return Allocation(nulls_as_none(frame).reset_index(drop=True), inputs, measure, period, rules)


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
